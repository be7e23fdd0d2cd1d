"""SQLite's writers queue on a file lock before taking the database's own lock:
a turn ends however the transaction ends, a writer that waits too long is
told the database is busy (nothing written), and waiting writers are let in
one after the other."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from tests import factories
from trialdb import migrate
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.errors import Unavailable
from trialdb.models import Participant
from trialdb.services import participants
from trialdb.vocab import Sex, StudyPart
from trialdb.writer_queue import QueuedConnection, queue_for


@pytest.fixture()
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    migrate.upgrade(engine)
    return engine


def _register(session: object, site_id: int) -> str:
    person = participants.register_participant(
        session, factories.SYSTEM, site_id=site_id,  # type: ignore[arg-type]
        part=StudyPart.RETROSPECTIVE, sex=Sex.MALE, birth_year=1960, birth_month=1,
        screened_on=date(2024, 1, 1), today=date(2026, 1, 1))
    return person.study_number


def _participants(engine: Engine) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count(Participant.id))) or 0


def test_a_turn_ends_with_commit_rollback_or_close(sqlite_engine: Engine, tmp_path: Path) -> None:
    factory = make_session_factory(sqlite_engine)
    queue = queue_for(str(tmp_path / "queue.sqlite3"))
    with unit_of_work(factory) as session:
        session.execute(text("SELECT 1"))
        raw = session.connection().connection.driver_connection
        assert isinstance(raw, QueuedConnection) and raw.writer_queue is queue
        assert not queue._in_process.acquire(blocking=False)  # this writer's turn
    assert (tmp_path / "queue.sqlite3-writers.lock").exists()
    for ending in ("rollback", "close"):
        session = factory()
        session.execute(text("SELECT 1"))
        assert not queue._in_process.acquire(blocking=False)
        getattr(session, ending)()
        assert queue._in_process.acquire(blocking=False), ending  # free again
        queue._in_process.release()
    # readers never queue
    with make_session_factory(sqlite_engine, write=False)() as reader:
        reader.execute(text("SELECT 1"))
        assert queue._in_process.acquire(blocking=False)
        queue._in_process.release()


@contextmanager
def _other_process_holding(lock_file: Path) -> Iterator[int]:
    """The file lock held as another process would hold it: flock locks belong to
    an open file, so a second open of the file competes like a second process."""
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield descriptor
    finally:
        os.close(descriptor)  # releases the lock if still held


@contextmanager
def _writer_of_this_process_holding(engine: Engine) -> Iterator[None]:
    holder = make_session_factory(engine)()
    holder.execute(text("SELECT 1"))  # holds the turn, as a long save would
    try:
        yield
    finally:
        holder.close()


@pytest.mark.parametrize("holder", ["this process", "another process"])
def test_a_writer_kept_waiting_is_told_the_database_is_busy(
        sqlite_engine: Engine, tmp_path: Path, holder: str) -> None:
    with unit_of_work(make_session_factory(sqlite_engine)) as session:
        site_id = factories.site(session, "QUEUE").id
    impatient = make_engine(f"sqlite:///{tmp_path / 'queue.sqlite3'}",
                            connect_args={"timeout": 0.2})
    holding = (_writer_of_this_process_holding(sqlite_engine) if holder == "this process"
               else _other_process_holding(tmp_path / "queue.sqlite3-writers.lock"))
    with holding:
        with pytest.raises(Unavailable) as refused, \
                unit_of_work(make_session_factory(impatient)) as session:
            _register(session, site_id)
        assert refused.value.status == 503
    assert _participants(sqlite_engine) == 0  # nothing half-written
    with unit_of_work(make_session_factory(impatient)) as session:  # the turn came back
        _register(session, site_id)
    assert _participants(sqlite_engine) == 1
    impatient.dispose()


def test_waiting_writers_go_in_one_after_the_other(sqlite_engine: Engine) -> None:
    with unit_of_work(make_session_factory(sqlite_engine)) as session:
        site_id = factories.site(session, "QUEUE").id
    factory = make_session_factory(sqlite_engine)
    inside = [0]
    most_inside = [0]
    numbers: list[str] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def writer() -> None:
        try:
            for _ in range(10):
                with unit_of_work(factory) as session:
                    session.connection()  # the transaction (and the turn) begins here
                    with guard:
                        inside[0] += 1
                        most_inside[0] = max(most_inside[0], inside[0])
                    number = _register(session, site_id)
                    with guard:
                        inside[0] -= 1
                numbers.append(number)
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert most_inside[0] == 1  # never two writers in a transaction at once
    assert len(set(numbers)) == 40 == _participants(sqlite_engine)


def test_a_writer_waiting_on_another_process_goes_in_when_it_lets_go(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    queue = queue_for(str(tmp_path / "queue.sqlite3"))
    entered = threading.Event()

    def writer() -> None:
        queue.enter(10.0)
        entered.set()
        queue.leave()

    with _other_process_holding(tmp_path / "queue.sqlite3-writers.lock") as held:
        thread = threading.Thread(target=writer)
        thread.start()
        assert not entered.wait(0.3)  # kept waiting while the other one holds it
        fcntl.flock(held, fcntl.LOCK_UN)
        assert entered.wait(1.0)
    thread.join(timeout=10)
