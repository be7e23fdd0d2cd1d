"""Review of the data: queries, source verification, e-signatures and locks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdb.db import Base
from trialdb.models._columns import check, enum_type, participant_fk
from trialdb.vocab import QueryStatus, SignatureMeaning


class DataQuery(Base):
    """A question raised on one field of one record, answered at the site."""

    __tablename__ = "data_query"
    __table_args__ = (
        Index("ix_data_query_record", "entity", "record_id"),
        check("length(field) > 0", "has_field"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Query number")
    participant_id: Mapped[int] = participant_fk("Participant whose data are queried")
    entity: Mapped[str] = mapped_column(String(60), comment="Form (table) of the queried record")
    record_id: Mapped[int] = mapped_column(Integer, comment="Row id of the queried record")
    field: Mapped[str] = mapped_column(String(60), comment="Queried field")
    status: Mapped[QueryStatus] = mapped_column(
        enum_type(QueryStatus, "status"), comment="open, answered or closed"
    )
    raised_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When the query was raised (UTC)"
    )
    raised_by_id: Mapped[int | None] = mapped_column(
        Integer, comment="User who raised it (none: raised automatically by a soft limit)"
    )
    raised_by_name: Mapped[str] = mapped_column(String(200), comment="Printed name of the raiser")
    closed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When it was closed (UTC)"
    )

    messages: Mapped[list[QueryMessage]] = relationship(
        cascade="all, delete-orphan", order_by="QueryMessage.id"
    )


class QueryMessage(Base):
    """The conversation of a query: the question, answers, closing, reopening."""

    __tablename__ = "query_message"
    __table_args__ = (check("kind IN ('raise', 'answer', 'close', 'reopen')", "kind_values"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    query_id: Mapped[int] = mapped_column(
        ForeignKey("data_query.id", ondelete="CASCADE"), index=True, comment="The query"
    )
    written_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When it was written (UTC)"
    )
    author_id: Mapped[int | None] = mapped_column(Integer, comment="Author (none: the system)")
    author_name: Mapped[str] = mapped_column(String(200), comment="Printed name of the author")
    kind: Mapped[str] = mapped_column(
        String(10), comment="raise, answer, close or reopen"
    )
    text: Mapped[str] = mapped_column(Text, comment="What was written")


class RecordReview(Base):
    """Verification and lock state of one record (or of a whole participant
    when entity is 'participant'), kept apart from the clinical tables."""

    __tablename__ = "record_review"
    __table_args__ = (UniqueConstraint("entity", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    participant_id: Mapped[int] = participant_fk()
    entity: Mapped[str] = mapped_column(String(60), comment="Form (table), or 'participant'")
    record_id: Mapped[int] = mapped_column(Integer, comment="Row id of the record")
    verified_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Source data verified at (UTC); cleared by a change"
    )
    verified_by: Mapped[str | None] = mapped_column(String(200), comment="Monitor who verified")
    locked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Locked at (UTC): writes are refused while set"
    )
    locked_by: Mapped[str | None] = mapped_column(String(200), comment="Who locked it")


class Signature(Base):
    """An investigator's electronic signature of a form or a whole casebook
    (entity 'participant'), with the hash of what was signed."""

    __tablename__ = "signature"
    __table_args__ = (Index("ix_signature_record", "entity", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    participant_id: Mapped[int] = participant_fk()
    entity: Mapped[str] = mapped_column(String(60), comment="Form signed, or 'participant'")
    record_id: Mapped[int] = mapped_column(Integer, comment="Row id of what was signed")
    signer_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), comment="The signing investigator"
    )
    signer_name: Mapped[str] = mapped_column(String(200), comment="Printed name of the signer")
    signed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When it was signed (UTC)"
    )
    meaning: Mapped[SignatureMeaning] = mapped_column(
        enum_type(SignatureMeaning, "meaning"), comment="What the signature means"
    )
    content_hash: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of the signed content"
    )
    invalidated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When a later change to the signed data voided it"
    )
