"""Throwaway databases for the test suite and the benchmarks.

`empty_database` yields the URL of a new, empty SQLite file or PostgreSQL
database and removes the PostgreSQL one afterwards. The PostgreSQL server is
reached through `TRIALDB_TEST_PG_URL` (a URL to its maintenance database).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "TRIALDB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database ('sqlite' in `folder`, or 'postgresql')."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'trialdb_{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    if backend != "postgresql":
        raise ValueError(f"unknown database backend {backend!r}")
    name = f"trialdb_scratch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
