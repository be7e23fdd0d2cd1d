"""SQLite under concurrent writers: writes queue on the lock and succeed,
nothing is corrupted, every acknowledged write is there and audited."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import factories
from trialdb import migrate
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.errors import Unavailable
from trialdb.models import AuditEvent, Participant, Site
from trialdb.services import audit, participants
from trialdb.vocab import Sex, StudyPart

WRITERS = 4
REGISTRATIONS = 15


def _writer(url: str, site_id: int, queue: multiprocessing.Queue[str]) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    for _ in range(REGISTRATIONS):
        with unit_of_work(factory) as session:
            person = participants.register_participant(
                session, factories.SYSTEM, site_id=site_id, part=StudyPart.RETROSPECTIVE,
                sex=Sex.MALE, birth_year=1960, birth_month=1, screened_on=date(2024, 1, 1),
                today=date(2026, 1, 1))
            number = person.study_number
        queue.put(number)  # acknowledged only after the commit returned
    engine.dispose()


def test_concurrent_writers_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        site_id = factories.site(session, "BUSY").id

    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = context.Queue()
    workers = [context.Process(target=_writer, args=(url, site_id, queue))
               for _ in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    acknowledged = [queue.get(timeout=5) for _ in range(WRITERS * REGISTRATIONS)]

    with make_session_factory(engine, write=False)() as session:
        stored = set(session.scalars(select(Participant.study_number).join(Site)
                                     .where(Site.code == "BUSY")))
        assert stored == set(acknowledged)
        assert len(stored) == WRITERS * REGISTRATIONS  # no number handed out twice
        creations = session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.entity == "participant", AuditEvent.action == "create"))
        assert creations == len(stored)
        assert audit.verify_chain(session) is None
    engine.dispose()
    with sqlite3.connect(tmp_path / "busy.sqlite3") as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_lock_that_does_not_clear_gives_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        site_id = factories.site(session, "LOCK").id
    impatient = make_engine(url, connect_args={"timeout": 0.2})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(Unavailable) as refused, \
                unit_of_work(make_session_factory(impatient)) as session:
            participants.register_participant(
                session, factories.SYSTEM, site_id=site_id, part=StudyPart.PROSPECTIVE,
                sex=Sex.FEMALE, birth_year=1980, birth_month=2, screened_on=date(2024, 1, 1),
                today=date(2026, 1, 1))
        assert refused.value.status == 503
        assert "rien n'a été enregistré" in refused.value.message("fr")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with make_session_factory(engine, write=False)() as session:
        assert session.scalar(select(func.count(Participant.id))) == 0
    engine.dispose()
    impatient.dispose()
