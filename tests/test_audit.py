"""The audit trail: every use case writes it, nobody can rewrite it quietly."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests import factories
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import AuditEvent
from trialdb.services import audit
from trialdb.services.actor import Actor


def _trail(db: Session) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_use_cases_leave_a_chained_trail(db: Session) -> None:
    site = factories.site(db)
    person = factories.participant(db, site)
    events = _trail(db)
    assert [e.action for e in events[-2:]] == ["create", "create"]
    assert events[-1].study_number == person.study_number
    assert events[-1].changes is not None and events[-1].changes["birth_year"] == [None, 1970]
    assert audit.verify_chain(db) is None


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET reason = 'edited' WHERE id = (SELECT max(id) FROM audit_event)",
    "DELETE FROM audit_event WHERE id = (SELECT max(id) FROM audit_event)",
])
def test_database_refuses_to_change_the_trail(db: Session, statement: str) -> None:
    factories.site(db)
    db.commit()  # inside the test's outer transaction; rolled back afterwards
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement))


def _bypass_triggers(db: Session) -> None:
    """What someone with the database owner's rights could do behind our back."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.execute(text("DROP TRIGGER audit_event_no_update"))
        db.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_altered_row_is_named(db: Session) -> None:
    site = factories.site(db)
    factories.participant(db, site)
    factories.participant(db, site)
    target = _trail(db)[-2].id
    _bypass_triggers(db)
    db.execute(text("UPDATE audit_event SET reason = 'nothing to see' WHERE id = :id"),
               {"id": target})
    db.expire_all()
    broken = audit.verify_chain(db)
    assert broken is not None and broken.event_id == target
    assert "altered" in broken.problem


def test_removed_row_breaks_the_link(db: Session) -> None:
    site = factories.site(db)
    factories.participant(db, site)
    factories.participant(db, site)
    events = _trail(db)
    removed, following = events[-2].id, events[-1].id
    _bypass_triggers(db)
    db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": removed})
    db.expire_all()
    broken = audit.verify_chain(db)
    assert broken is not None and broken.event_id == following
    assert "link" in broken.problem


def test_single_entries_and_batches_keep_ids_in_chain_order(db: Session) -> None:
    """A single entry takes its id in its INSERT, a batch reserves ids first: either
    way the ids follow the chain, which verify_chain walks in id order."""
    system = Actor.system("test")
    audit.record_many(db, system, [audit.Entry(action="export", reason=f"batch {i}")
                                   for i in range(3)])
    single = audit.record(db, system, audit.Entry(action="export", reason="single"))
    audit.record_many(db, system, [audit.Entry(action="export", reason=f"batch {i}")
                                   for i in range(3, 5)])
    last = audit.record(db, system, audit.Entry(action="export", reason="last"))
    trail = _trail(db)
    assert [e.reason for e in trail[-7:]] == [
        "batch 0", "batch 1", "batch 2", "single", "batch 3", "batch 4", "last"]
    assert (single.id, last.id) == (trail[-4].id, trail[-1].id)
    assert single.row_hash == trail[-4].row_hash == trail[-3].previous_hash
    assert audit.verify_chain(db) is None


AWKWARD_TEXT = "Œdème « sévère » l'an 2024\n100 % \\ \"cité\" \U0001f489 \t fin"


def test_a_single_entry_of_awkward_text_hashes_as_the_check_recomputes(db: Session) -> None:
    """On PostgreSQL the database hashes a single row (one round trip with the
    chain's lock): its text must be byte for byte the one `content_hash` rebuilds."""
    actor = Actor.system(f"Dr {AWKWARD_TEXT}")
    before = audit.record(db, actor, audit.Entry(action="export"))
    written = audit.record(db, actor, audit.Entry(
        action="update", entity="car_t_infusion", entity_id=7, study_number="AB-0001",
        site_code="AB", changes={"note": [None, AWKWARD_TEXT], "dose": [1.5, 2e-05]},
        reason=AWKWARD_TEXT))
    stored = db.get(AuditEvent, written.id)
    assert stored is not None
    assert stored.reason == AWKWARD_TEXT and stored.user_name == f"Dr {AWKWARD_TEXT}"
    assert stored.row_hash == written.row_hash == audit.content_hash(stored)
    assert stored.previous_hash == before.row_hash
    assert audit.verify_chain(db) is None


@pytest.mark.postgresql_only
def test_a_writer_waiting_on_the_chain_lock_links_to_the_tip_committed_meanwhile(
        engine: Engine) -> None:
    """The lock and the tip are read in one round trip: the tip must still be read
    after the lock is granted, from the row the previous holder committed."""
    factory = make_session_factory(engine)
    system = Actor.system("test")
    tag = uuid.uuid4().hex[:8]
    holding = threading.Event()

    def append(reason: str, hold: bool) -> None:
        with unit_of_work(factory) as session:
            audit.record(session, system, audit.Entry(action="export", reason=reason))
            if hold:
                holding.set()
                time.sleep(0.3)  # the other writer now waits on the chain's lock

    holder = threading.Thread(target=append, args=(f"holder {tag}", True))
    holder.start()
    assert holding.wait(timeout=10)
    append(f"waiter {tag}", False)
    holder.join(timeout=10)
    with factory() as session:
        first, second = session.scalars(select(AuditEvent).where(
            AuditEvent.reason.in_([f"holder {tag}", f"waiter {tag}"])).order_by(AuditEvent.id))
        assert (first.reason, second.reason) == (f"holder {tag}", f"waiter {tag}")
        assert second.previous_hash == first.row_hash
        assert audit.verify_chain(session) is None
