"""Test set-up shared by the whole suite.

Database tests run once on SQLite and once on the machine's PostgreSQL
(`--db sqlite` or `--db postgresql` to pick one). The schema comes from the
Alembic migrations, applied once per test session and database. Each backend
has two databases: `engine`'s, where the web and service tests commit for real
(their rows stay, so they use unique codes), and `db`'s, where each test runs
inside a transaction rolled back at its end, so that every `db` test starts
from the bare schema whatever ran before it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from trialdb import migrate
from trialdb.db import make_engine
from trialdb.scratch import empty_database

os.environ.setdefault("TRIALDB_PASSWORD_HASHING", "fast")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default="sqlite,postgresql",
                     help="comma-separated databases to test against")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = metafunc.config.getoption("--db").split(",")
        if metafunc.definition.get_closest_marker("postgresql_only"):
            backends = [b for b in backends if b == "postgresql"]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database of the tests that commit, shared by this test session."""
    with empty_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                for table in inspect(connection).get_table_names()}


@pytest.fixture(scope="session")
def rollback_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The database behind `db`, apart from `engine`'s: rows committed there by
    the web tests would otherwise show up in whole-table reads (exports, ...)."""
    with empty_database(backend, tmp_path_factory.mktemp("rollback-db")) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        migrated = _row_counts(engine)
        yield engine
        leaked = _row_counts(engine)
        engine.dispose()
    assert leaked == migrated, "a `db` test committed outside its rolled-back transaction"


@pytest.fixture()
def db(rollback_engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    connection = rollback_engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()
