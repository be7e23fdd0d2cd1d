"""Saving case-report-form records: one generic path with diff and audit.

Every CRF table shares FormRecordMixin, so create, update and soft delete
are the same use case whatever the form; the rules specific to one form
(eligibility decision, consent validity...) live in their own services,
which call these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Executable, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from trialdb.errors import Conflict, InvalidInput, NotFound
from trialdb.models import Participant
from trialdb.models._columns import FormRecordMixin
from trialdb.services import audit, review
from trialdb.services.actor import Actor, visible_participant

R = TypeVar("R", bound=FormRecordMixin)

_NOT_EDITABLE = frozenset(
    {"id", "participant_id", "row_version", "is_deleted", "deletion_reason", "created_at",
     "updated_at"}
)


def entity_name(record_cls: type[Any]) -> str:
    return str(record_cls.__tablename__)


def load_record(session: Session, actor: Actor, record_cls: type[R], record_id: int) -> R:
    record = session.get(record_cls, record_id)
    if record is None or record.is_deleted:
        raise NotFound("No such record.", "Fiche introuvable.")
    visible_participant(session, actor, record.participant_id)  # type: ignore[attr-defined]
    return record


_EDITABLE: dict[type[Any], frozenset[str]] = {}


def _check_fields(record_cls: type[Any], values: Mapping[str, Any]) -> None:
    editable = _EDITABLE.get(record_cls)
    if editable is None:
        editable = _EDITABLE[record_cls] = (
            frozenset(record_cls.__table__.columns.keys()) - _NOT_EDITABLE)
    unknown = set(values) - editable
    if unknown:
        raise InvalidInput(f"Unknown or read-only fields: {', '.join(sorted(unknown))}.",
                           f"Champs inconnus ou non modifiables : {', '.join(sorted(unknown))}.")


def _entry(action: str, participant: Participant, record: Any,
           changes: dict[str, list[Any]] | None, reason: str | None) -> audit.Entry:
    return audit.Entry(
        action=action, entity=entity_name(type(record)), entity_id=record.id,
        study_number=participant.study_number, site_code=participant.site.code,
        changes=changes, reason=reason,
    )


_INSERTS: dict[type[Any], Executable] = {}


def _inserting(record_cls: type[Any]) -> Executable:
    """The INSERT of a record, loading the row written as the ORM object.

    Built once per form (a statement object memoises its cache key). Cheaper than
    adding the object and flushing: the unit of work would write this row only.
    """
    statement = _INSERTS.get(record_cls)
    if statement is None:
        table = record_cls.__table__
        statement = _INSERTS[record_cls] = select(record_cls).from_statement(
            insert(table).returning(*table.columns))
    return statement


def create_record(session: Session, actor: Actor, participant: Participant,
                  record_cls: type[R], values: Mapping[str, Any], *,
                  complete: bool = False, locked: bool | None = None) -> R:
    """`locked`: review.NEW_RECORD_LOCKED when the caller has read it already."""
    _check_fields(record_cls, values)
    review.guard_write(session, participant, record_cls.__tablename__, None, locked=locked)
    record: R = session.execute(_inserting(record_cls), {
        **values, "participant_id": participant.id, "is_complete": complete}).scalar_one()
    changes = {name: [None, value] for name, value in values.items() if value is not None}
    if complete:
        changes["is_complete"] = [None, True]
    audit.record_many(session, actor, [_entry("create", participant, record, changes, None)])
    return record


def update_record(session: Session, actor: Actor, record: R, values: Mapping[str, Any], *,
                  expected_version: int | None = None, reason: str | None = None,
                  complete: bool | None = None, locked: bool | None = None) -> R:
    """Apply the changed fields; refuse a save based on an older version.

    Once a form is complete, a change needs a reason (audit trail rule).
    `locked`: review.RECORD_LOCKED when the caller has read it already.
    """
    _check_fields(type(record), values)
    participant = visible_participant(session, actor, record.participant_id)  # type: ignore[attr-defined]
    if expected_version is not None and expected_version != record.row_version:
        raise Conflict(
            "Someone else saved this form after you opened it; their values are shown.",
            "Quelqu'un d'autre a enregistré cette fiche après son ouverture ; "
            "ses valeurs sont affichées.",
        )
    changes = {
        name: [getattr(record, name), value]
        for name, value in values.items()
        if getattr(record, name) != value
    }
    if complete is not None and complete != record.is_complete:
        changes["is_complete"] = [record.is_complete, complete]
    if not changes:
        return record
    review.guard_write(session, participant, type(record).__tablename__, record.id,
                       locked=locked)
    reason = (reason or "").strip() or None
    if record.is_complete and reason is None:
        raise InvalidInput(
            "This form is complete: give a reason for the change.",
            "Cette fiche est complète : indiquez le motif de la modification.",
            field="reason",
        )
    for name, (_old, new) in changes.items():
        setattr(record, name, new)
    try:
        session.flush()
    except StaleDataError as error:  # another transaction saved the same version first
        raise Conflict(
            "Someone else saved this form at the same time; reload it to see their values.",
            "Quelqu'un d'autre a enregistré cette fiche au même moment ; rechargez-la pour "
            "voir ses valeurs.",
        ) from error
    voided = review.after_write(session, participant, type(record).__tablename__, record.id)
    audit.record_many(session, actor,
                      [_entry("update", participant, record, changes, reason), *voided])
    return record


def delete_record(session: Session, actor: Actor, record: R, reason: str) -> R:
    """Soft deletion: the row stays, flagged, with the reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give a reason for deleting this record.",
                           "Indiquez le motif de la suppression.", field="reason")
    participant = visible_participant(session, actor, record.participant_id)  # type: ignore[attr-defined]
    review.guard_write(session, participant, type(record).__tablename__, record.id)
    record.is_deleted = True
    record.deletion_reason = reason
    session.flush()
    voided = review.after_write(session, participant, type(record).__tablename__, record.id)
    audit.record_many(session, actor, [
        _entry("delete", participant, record, {"is_deleted": [False, True]}, reason), *voided])
    return record
