"""Producing the documents: one function per document, used by the CLI and
the Reports page. They read only (no commit) and return PDF bytes.

Provenance: from a snapshot, the data cut-off and the time of generation
are the snapshot's freezing time unless a time is passed in, so the same
snapshot and settings always give the same bytes. From live data the cut-off
is the time of the last audited change and the time of generation is now
unless passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdb.db import utcnow
from trialdb.models import AuditEvent, Participant, Site
from trialdb.reporting.blank_crf import render_blank_crf
from trialdb.reporting.casebook import render_casebook
from trialdb.reporting.context import Language, Provenance, ReportContext
from trialdb.reporting.facts import Scope
from trialdb.reporting.interim import render_interim
from trialdb.services import audit, snapshots
from trialdb.services.actor import Actor

#: The blank CRF depends on forms/ and the code only: a fixed date keeps it reproducible.
BLANK_CRF_DATE = datetime(2024, 1, 1, tzinfo=UTC)

#: How a document handed out is written in the audit trail.
EXPORT_ACTION = "export"
REPORT_ENTITY = "report"


def scope_for(session: Session, actor: Actor) -> Scope:
    """Site investigators see their sites; study-wide accounts the whole study."""
    if actor.all_sites:
        return Scope()
    codes = session.scalars(select(Site.code).where(Site.id.in_(sorted(actor.site_ids)))
                            .order_by(Site.code)).all()
    return Scope(frozenset(actor.site_ids), label=", ".join(codes) or "—")


def _last_change(session: Session) -> datetime:
    """The last audited change (exports of documents and data change nothing)."""
    moment = session.scalar(select(func.max(AuditEvent.occurred_at))
                            .where(AuditEvent.action != EXPORT_ACTION))
    return moment or utcnow()


@contextmanager
def report_data(session: Session, generated_by: str, snapshot_id: int | None,
                generated_at: datetime | None) -> Iterator[tuple[Session, Provenance]]:
    """The session to read and the provenance to print, from a snapshot or live data."""
    if snapshot_id is None:
        yield session, Provenance(cut_off=_last_change(session), generated_by=generated_by,
                                  generated_at=generated_at or utcnow())
        return
    snapshot = snapshots.get(session, snapshot_id)
    provenance = Provenance(
        cut_off=snapshot.created_at, generated_by=generated_by,
        generated_at=generated_at or snapshot.created_at, snapshot_id=snapshot.id,
        snapshot_label=snapshot.label, content_hash=snapshot.content_hash,
        frozen_by=snapshot.created_by, participant_count=snapshot.participant_count)
    with snapshots.open_snapshot(session, snapshot_id) as frozen:
        yield frozen, provenance


def interim_report(session: Session, actor: Actor, *, snapshot_id: int | None = None,
                   generated_at: datetime | None = None, language: str = "en") -> bytes:
    scope = scope_for(session, actor)
    with report_data(session, actor.name, snapshot_id, generated_at) as (data, provenance):
        return render_interim(ReportContext(data, provenance, scope, language))


def casebook(session: Session, actor: Actor, study_number: str, *,
             snapshot_id: int | None = None, generated_at: datetime | None = None,
             language: str = "en") -> bytes:
    scope = scope_for(session, actor)
    with report_data(session, actor.name, snapshot_id, generated_at) as (data, provenance):
        return render_casebook(ReportContext(data, provenance, scope, language),
                               study_number.strip().upper())


def blank_crf(actor: Actor, *, language: str = "en") -> bytes:
    return render_blank_crf(Language(language), actor.name, BLANK_CRF_DATE)


def record_export(session: Session, actor: Actor, document: str, pdf: bytes, *,
                  snapshot_id: int | None = None, study_number: str | None = None,
                  language: str = "en") -> AuditEvent:
    """Write in the audit trail that `actor` was given a document (no commit).

    The entry names the document, the snapshot and its content hash (none:
    live data), the participant of a casebook and the SHA-256 of the PDF.
    """
    content_hash = None if snapshot_id is None else snapshots.get(session, snapshot_id).content_hash
    site_code = None
    if study_number is not None:
        site_code = session.scalar(select(Site.code).join(Participant,
                                                          Participant.site_id == Site.id)
                                   .where(Participant.study_number == study_number))
    source = (f"snapshot {snapshot_id} (content hash {content_hash})" if snapshot_id is not None
              else "live data")
    changes: dict[str, list[Any]] = {
        "document": [None, document],
        "snapshot_id": [None, snapshot_id],
        "content_hash": [None, content_hash],
        "pdf_sha256": [None, hashlib.sha256(pdf).hexdigest()],
        "language": [None, language],
    }
    return audit.record(session, actor, audit.Entry(
        action=EXPORT_ACTION, entity=REPORT_ENTITY, entity_id=snapshot_id,
        study_number=study_number, site_code=site_code, changes=changes,
        reason=f"{document} PDF from {source}"))
