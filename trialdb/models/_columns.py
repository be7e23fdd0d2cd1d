"""Column helpers shared by the model modules."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Enum, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from trialdb.db import utcnow


def enum_type(enum_class: type[enum.Enum], name: str) -> Enum:
    """A portable enumeration: a VARCHAR holding the member's value, guarded by
    a CHECK constraint named `ck_<table>_<name>`, never a native PG enum (those
    make every new code a migration with its own locking problems)."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
        length=max(len(m.value) for m in enum_class),
    )


def check(sql: str, name: str) -> CheckConstraint:
    return CheckConstraint(sql, name=name)


def form_table_args(*constraints: Any) -> tuple[Any, ...]:
    """Table arguments of a CRF table: its own constraints plus the shared ones."""
    return (
        *constraints,
        check("is_deleted = false OR deletion_reason IS NOT NULL", "deletion_has_reason"),
    )


def participant_fk(comment: str = "The participant this record belongs to") -> Mapped[int]:
    return mapped_column(
        Integer, ForeignKey("participant.id", ondelete="RESTRICT"), index=True, comment=comment
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, comment="When the row was created (UTC)"
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow,
        comment="When the row was last changed (UTC)",
    )


class FormRecordMixin(TimestampMixin):
    """What every case-report-form record carries.

    `row_version` is SQLAlchemy's optimistic lock: a save based on an older
    version fails instead of overwriting someone else's change. Clinical data
    are never hard-deleted: `is_deleted` with a reason instead.
    """

    __tablename__: str

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    row_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1,
        comment="Optimistic-lock counter, incremented on every update",
    )
    is_complete: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False,
        comment="Marked complete by the coordinator; later changes need a reason",
    )
    is_deleted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False,
        comment="Soft deletion: the record stays, flagged, with its reason",
    )
    deletion_reason: Mapped[str | None] = mapped_column(
        Text, comment="Why the record was deleted (required when is_deleted)"
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr takes the class
        return {"version_id_col": cls.row_version}
