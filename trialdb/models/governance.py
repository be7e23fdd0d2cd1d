"""The audit trail: append-only, hash-chained, written by every use case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trialdb.db import Base


class AuditEvent(Base):
    """One row per create, update, delete, sign, lock, export, sign-in...

    `row_hash` is SHA-256 over this row's content and the previous row's
    hash, so an edit behind the application's back breaks the chain.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Order of the trail")
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When it happened (UTC)"
    )
    user_id: Mapped[int | None] = mapped_column(
        Integer, comment="Acting user (no foreign key: the trail outlives accounts)"
    )
    user_name: Mapped[str] = mapped_column(String(200), comment="Printed name of the actor")
    user_role: Mapped[str | None] = mapped_column(String(20), comment="Actor's role at the time")
    site_code: Mapped[str | None] = mapped_column(String(6), comment="Site of the item")
    action: Mapped[str] = mapped_column(
        String(20), index=True, comment="create, update, delete, sign, lock, login..."
    )
    entity: Mapped[str | None] = mapped_column(String(60), comment="Form or object type")
    entity_id: Mapped[int | None] = mapped_column(Integer, comment="Row id of the object")
    study_number: Mapped[str | None] = mapped_column(
        String(11), index=True, comment="Participant concerned, if any"
    )
    changes: Mapped[dict[str, list[object]] | None] = mapped_column(
        JSON, comment="Field -> [old value, new value]"
    )
    reason: Mapped[str | None] = mapped_column(Text, comment="Reason given for the change")
    previous_hash: Mapped[str] = mapped_column(String(64), comment="row_hash of the previous row")
    row_hash: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of this row's content and previous_hash"
    )


class DataSnapshot(Base):
    """The study's data frozen at a moment, for an interim analysis.

    `payload` holds every clinical table as canonical JSON (gzip); reports
    and exports reopen it as a read-only database and name `content_hash`.
    """

    __tablename__ = "data_snapshot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Snapshot number")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When the data were frozen (UTC)"
    )
    created_by: Mapped[str] = mapped_column(String(200), comment="Printed name of who froze them")
    label: Mapped[str] = mapped_column(String(200), comment="Why, e.g. 'Interim analysis 1'")
    content_hash: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of the canonical content"
    )
    participant_count: Mapped[int] = mapped_column(Integer, comment="Participants in the snapshot")
    schema_revision: Mapped[str] = mapped_column(
        String(32), comment="Alembic revision the content was taken at"
    )
    payload: Mapped[bytes] = mapped_column(
        LargeBinary, deferred=True, comment="gzip-compressed canonical JSON of the tables"
    )
