"""PostgreSQL connections are pinged before reuse only when they sat in the pool
(trialdb.db.PING_AFTER_IDLE): a connection the server ended meanwhile is
replaced without the user noticing, and a busy pool pays no extra round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from trialdb import db as trialdb_db
from trialdb.db import is_unavailable, make_engine
from trialdb.scratch import PG_ADMIN_URL, empty_database


@pytest.fixture()
def pooled(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int]]]:
    """An engine with a single pooled connection, and the list of pings it made."""
    if "postgresql" not in request.config.getoption("--db").split(","):
        pytest.skip("PostgreSQL not selected")
    with empty_database("postgresql", tmp_path) as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        pings: list[int] = []
        real_ping = engine.dialect.do_ping

        def counted(dbapi_connection: Any) -> bool:
            pings.append(dbapi_connection.info.backend_pid)
            return real_ping(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_ping", counted)
        try:
            yield engine, pings
        finally:
            engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.commit()
    return pid


def _end_backend(pid: int) -> None:
    admin = make_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:p)"),
                                      {"p": pid}).scalar_one()
            connection.commit()
    finally:
        admin.dispose()


def test_a_connection_lent_again_at_once_is_not_pinged(
        pooled: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, pings = pooled
    monkeypatch.setattr(trialdb_db, "PING_AFTER_IDLE", 60.0)
    first = _backend_pid(engine)  # a new connection is pinged once
    assert pings == [first]
    for _ in range(5):
        assert _backend_pid(engine) == first
    assert pings == [first]


def test_an_idle_connection_the_server_ended_is_replaced_unnoticed(
        pooled: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, pings = pooled
    first = _backend_pid(engine)
    _end_backend(first)
    monkeypatch.setattr(trialdb_db, "PING_AFTER_IDLE", 0.0)  # as if it had sat idle
    second = _backend_pid(engine)  # no error reaches the caller
    assert second != first
    assert pings[-2:] == [first, second]  # the dead one failed its ping; the new one passed


def test_a_connection_ended_within_the_window_fails_once_as_unavailable(
        pooled: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The price of skipping the ping: one statement fails, reported as a lost
    connection (503, nothing written), and the pool is renewed for the next."""
    engine, _ = pooled
    monkeypatch.setattr(trialdb_db, "PING_AFTER_IDLE", 60.0)
    first = _backend_pid(engine)
    _end_backend(first)
    with pytest.raises(DBAPIError) as failure:
        _backend_pid(engine)
    assert is_unavailable(failure.value)
    assert _backend_pid(engine) != first
