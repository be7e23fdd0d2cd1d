"""Frozen data: named by a content hash, reopened unchanged after later edits."""

from __future__ import annotations

import gzip
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from trialdb.models import AuditEvent, Participant
from trialdb.services import snapshots


def test_snapshot_reopens_the_frozen_data(db: Session) -> None:
    site = factories.site(db)
    first = factories.participant(db, site)
    snapshot = snapshots.freeze(db, factories.SYSTEM, "Interim analysis 1")
    assert len(snapshot.content_hash) == 64
    assert snapshot.participant_count == db.scalar(select(func.count(Participant.id)))
    factories.participant(db, site)  # entered after the freeze

    with snapshots.open_snapshot(db, snapshot.id) as frozen:
        numbers = frozen.scalars(select(Participant.study_number)).all()
        assert first.study_number in numbers
        assert len(numbers) == snapshot.participant_count
        reopened = frozen.scalar(select(Participant).where(Participant.id == first.id))
        assert reopened is not None
        assert reopened.screened_on == first.screened_on
        assert reopened.part == first.part


def test_hash_matches_payload_and_freeze_is_audited(db: Session) -> None:
    factories.participant(db, factories.site(db))
    one = snapshots.freeze(db, factories.SYSTEM, "a")
    two = snapshots.freeze(db, factories.SYSTEM, "b")
    # the first freeze's own audit row is data too, so the hashes differ...
    assert one.content_hash != two.content_hash
    last = db.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert last is not None and last.action == "lock" and last.entity_id == two.id
    # ...but the content hash is reproducible from the payload.
    assert hashlib.sha256(gzip.decompress(two.payload)).hexdigest() == two.content_hash
