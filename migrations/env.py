"""Alembic environment: the models' metadata, batch mode for SQLite.

The connection comes from `config.attributes["connection"]` when trialdb
(or the tests) pass one, otherwise from TRIALDB_DATABASE_URL / the default.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from trialdb.config import load_settings
from trialdb.db import make_engine
from trialdb.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=load_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = make_engine(load_settings().database_url)
    with engine.connect() as connection:
        run_with(connection)
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
