"""Engine, sessions and the declarative base shared by every model."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, event, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from trialdb import writer_queue
from trialdb.errors import Unavailable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30, **kwargs.pop("connect_args", {})}
        connect_args.setdefault("factory", writer_queue.QueuedConnection)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        timeout = float(connect_args["timeout"])

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection)
            writer_queue.attach(dbapi_connection, database, timeout)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_idle_connections(engine)
    return engine


#: A pooled connection handed back less than this long ago (seconds) is lent
#: again without a ping, as HikariCP does by default (its `aliveBypassWindowMs`).
PING_AFTER_IDLE = 0.5


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling, as `pool_pre_ping`, but only for a connection
    that sat in the pool: under load a connection is lent again within milliseconds,
    and a ping would be one more round trip on every request. A connection that
    dies while busy fails its statement, and SQLAlchemy then replaces the whole pool."""

    @event.listens_for(engine, "checkin")
    def handed_back(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def lent(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned_at", -PING_AFTER_IDLE) < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # the pool closes this connection and lends a fresh one instead
            raise DisconnectionError(str(error)) from error


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Writers take the lock at BEGIN, after their turn in the writers' queue,
    # instead of failing on a read-to-write lock upgrade; readers begin
    # deferred so WAL lets them run beside a writer.
    if connection.get_execution_options().get("sqlite_write"):
        dbapi_connection = connection.connection.driver_connection
        if not isinstance(dbapi_connection, writer_queue.QueuedConnection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        try:
            dbapi_connection.wait_turn()
        except sqlite3.OperationalError as error:
            raise OperationalError("BEGIN IMMEDIATE", None, error) from error
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_connection.leave_queue()
            raise
    else:
        connection.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine, *, write: bool = True) -> sessionmaker[Session]:
    """Sessions for use cases; `write=False` for pages that only read.

    A reader's transaction is READ ONLY on PostgreSQL, so it may end with a
    COMMIT: psycopg forgets its prepared statements on every ROLLBACK, and a
    page that rolled back would have every statement parsed and planned again.
    """
    bind: Engine
    if write:
        bind = engine.execution_options(sqlite_write=True)
    elif engine.dialect.name == "postgresql":
        bind = engine.execution_options(postgresql_readonly=True)
    else:
        bind = engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def is_unavailable(error: DBAPIError) -> bool:
    """A lock that did not clear in time, or a lost connection: not the user's data."""
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    return any(sign in text for sign in (
        "database is locked", "database is busy", "could not connect", "connection refused",
        "server closed the connection", "terminating connection", "the database system is",
        "connection is closed", "consuming input failed",
    ))


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error.

    A busy or unreachable database becomes `Unavailable` (503), with nothing
    written, so callers can tell the user to try again.
    """
    try:
        with factory() as session, session.begin():
            yield session
    except DBAPIError as error:
        if is_unavailable(error):
            raise Unavailable() from error
        raise


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new ascending values of `table.id`, for a bulk INSERT without RETURNING.

    SQLite cannot return the ids of a multi-row INSERT in the order of its
    rows, so bulk writers choose them first. PostgreSQL draws them from the
    column's sequence; SQLite continues after the highest id, which is safe
    because a writer holds the database's write lock until it commits.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        drawn = session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                 "FROM generate_series(1, :count)"),
            {"table": table.name, "count": count},
        )
        return sorted(drawn)
    highest = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """One bulk INSERT of `rows`, which all name the same columns.

    On SQLite the rows go straight to the driver's executemany, each value
    through its column's own bind processor: what SQLAlchemy would store, without
    its per-row parameter machinery, which costs more than SQLite's insert itself
    (cohort loads). Columns a row leaves out get their scalar defaults; a left-out
    column with a computed default sends the batch through a Core INSERT instead.
    """
    if not rows:
        return
    names = list(rows[0])
    defaults = {c.name: c.default for c in table.columns
                if c.name not in rows[0] and c.default is not None}
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite" or any(not d.is_scalar for d in defaults.values()):
        session.execute(insert(table), rows)
        return
    session.flush()  # as session.execute would: rows may name objects not yet written
    connection = session.connection()
    fixed = {name: default.arg for name, default in defaults.items()}  # type: ignore[attr-defined]
    columns = [table.c[name] for name in [*names, *fixed]]
    # Column by column, so that each processor is mapped over the batch in one C loop.
    values: list[list[Any]] = [list(map(itemgetter(name), rows)) for name in names]
    values += [[value] * len(rows) for value in fixed.values()]
    for index, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values[index] = list(map(process, values[index]))
    statement = (f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
                 f"VALUES ({', '.join('?' for _ in columns)})")
    connection.exec_driver_sql(statement, list(zip(*values, strict=True)))
