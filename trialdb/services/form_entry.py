"""Entering a case report form: the checks that need the participant (dates
against birth, D0 and other fields), soft limits, then one audited save.

Everything is checked before anything is written, so a refused save leaves
no trace but the messages, each naming its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, exists, select
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FieldSpec, FormSpec
from trialdb.crf.messages import bilingual
from trialdb.errors import Conflict, InvalidInput
from trialdb.models import CarTInfusion, Participant
from trialdb.models._columns import FormRecordMixin
from trialdb.services import records, review
from trialdb.services.actor import Actor


class FieldErrors(InvalidInput):
    """Several fields refused at once: field -> (English, French)."""

    def __init__(self, errors: Mapping[str, tuple[str, str]]) -> None:
        super().__init__("Some fields need correcting.", "Certains champs sont à corriger.")
        self.errors = dict(errors)

    def for_language(self, language: str) -> dict[str, str]:
        return {name: (fr if language == "fr" else en) for name, (en, fr) in self.errors.items()}


class SoftLimitWarnings(FieldErrors):
    """Unusual values that the user must confirm before saving."""

    def __init__(self, errors: Mapping[str, tuple[str, str]]) -> None:
        super().__init__(errors)
        self.messages = {
            "en": "Unusual values: check them and confirm.",
            "fr": "Valeurs inhabituelles : vérifiez-les et confirmez.",
        }


_INFUSION = cast(Table, CarTInfusion.__table__)
#: Built once, in Core (no ORM object is needed): a statement object memoises its
#: cache key, so a call costs the query, not the statement's construction.
_INFUSION_DATE = select(_INFUSION.c.infused_on).where(
    _INFUSION.c.participant_id == bindparam("participant_id"), _INFUSION.c.is_deleted.is_(False))


def infusion_date(session: Session, participant_id: int) -> date | None:
    """D0 of the participant, when the infusion form exists."""
    infused_on: date | None = session.execute(
        _INFUSION_DATE, {"participant_id": participant_id}).scalar()
    return infused_on


def _show(day: date, language_fr: bool) -> str:
    return day.strftime("%d/%m/%Y") if language_fr else day.isoformat()


def date_problems(form: FormSpec, values: Mapping[str, Any], participant: Participant,
                  d0: date | None, today: date) -> dict[str, tuple[str, str]]:
    """Dates in the future, before birth, before D0 or before another field."""
    problems: dict[str, tuple[str, str]] = {}
    for spec in form.fields:
        day = values.get(spec.name)
        if spec.kind != "date" or not isinstance(day, date):
            continue
        problem = _date_problem(form, spec, day, values, participant, d0, today)
        if problem is not None:
            problems[spec.name] = problem
    return problems


def _date_problem(form: FormSpec, spec: FieldSpec, day: date, values: Mapping[str, Any],
                  participant: Participant, d0: date | None,
                  today: date) -> tuple[str, str] | None:
    if day > today:
        return bilingual("date_future")
    for anchor in spec.not_before:
        if anchor == "birth":
            if (day.year, day.month) < (participant.birth_year, participant.birth_month):
                return bilingual("date_before_birth",
                                 when=f"{participant.birth_month:02d}/{participant.birth_year}")
        elif anchor == "d0":
            if d0 is None:
                return bilingual("needs_d0")
            if day < d0:
                en, fr = bilingual("date_before_d0", when=d0.isoformat())
                return en, fr.replace(d0.isoformat(), _show(d0, True))
        else:
            other = values.get(anchor)
            if isinstance(other, date) and day < other:
                label = form.field(anchor).label
                en, _ = bilingual("date_before_field", other=label.en, when=other.isoformat())
                _, fr = bilingual("date_before_field", other=label.fr, when=_show(other, True))
                return en, fr
    for anchor in spec.not_after:
        other = values.get(anchor)
        if isinstance(other, date) and day >= other:
            label = form.field(anchor).label
            en, _ = bilingual("date_after_field", other=label.en, when=other.isoformat())
            _, fr = bilingual("date_after_field", other=label.fr, when=_show(other, True))
            return en, fr
    return None


def soft_limit_warnings(form: FormSpec, values: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    warnings: dict[str, tuple[str, str]] = {}
    for spec in form.fields:
        number = values.get(spec.name)
        if not isinstance(number, int | float) or isinstance(number, bool):
            continue
        if spec.soft_maximum is not None and number > spec.soft_maximum:
            warnings[spec.name] = bilingual("soft_above", limit=f"{spec.soft_maximum:g}")
        elif spec.soft_minimum is not None and number < spec.soft_minimum:
            warnings[spec.name] = bilingual("soft_below", limit=f"{spec.soft_minimum:g}")
    return warnings


@dataclass(frozen=True)
class FormSave:
    """What the person asked to save."""

    values: Mapping[str, Any]
    complete: bool = False
    confirm_soft: bool = False
    expected_version: int | None = None
    reason: str | None = None


def check_form(session: Session, form: FormSpec, participant: Participant, save: FormSave,
               today: date | None = None) -> dict[str, tuple[str, str]]:
    """Raise FieldErrors (hard) or SoftLimitWarnings (unconfirmed) before any write;
    return the soft-limit warnings the user confirmed."""
    return _check(form, participant, save, infusion_date(session, participant.id), today)


def _check(form: FormSpec, participant: Participant, save: FormSave, d0: date | None,
           today: date | None) -> dict[str, tuple[str, str]]:
    problems = date_problems(form, save.values, participant, d0, today or date.today())
    if problems:
        raise FieldErrors(problems)
    warnings = soft_limit_warnings(form, save.values)
    if warnings and not save.confirm_soft:
        raise SoftLimitWarnings(warnings)
    return warnings


_SAVE_CONTEXTS: dict[tuple[type[Any], bool, bool], Executable] = {}


def _save_context(session: Session, form: FormSpec, participant: Participant,
                  record: FormRecordMixin | None) -> tuple[date | None, bool, bool]:
    """What a save checks in the database, read in one statement: D0, whether a
    lock refuses the write, and (for a new record of a non-repeating form) whether
    the form already has its record."""
    model = form.model
    single = record is None and not form.repeating
    key = (model, record is not None, single)
    statement = _SAVE_CONTEXTS.get(key)
    if statement is None:  # built once per form and case: it memoises its cache key
        columns: list[Any] = [
            _INFUSION_DATE.limit(1).scalar_subquery(),
            review.NEW_RECORD_LOCKED if record is None else review.RECORD_LOCKED]
        if single:
            table = model.__table__
            columns.append(exists().where(table.c.participant_id == bindparam("participant_id"),
                                          table.c.is_deleted.is_(False)))
        statement = _SAVE_CONTEXTS[key] = select(*columns)
    row = session.execute(statement, review.lock_parameters(
        participant, model.__tablename__, None if record is None else record.id)).one()
    return row[0], bool(row[1]), single and bool(row[2])


def save_form(session: Session, actor: Actor, participant: Participant, form: FormSpec,
              save: FormSave, *, record: FormRecordMixin | None = None,
              today: date | None = None) -> FormRecordMixin:
    """Create or update one CRF record after every check has passed.

    A value kept outside its soft limits raises a data query on its field,
    so that a monitor looks at it.
    """
    d0, locked, duplicate = _save_context(session, form, participant, record)
    confirmed = _check(form, participant, save, d0, today)
    saved: FormRecordMixin
    if record is None:
        if duplicate:
            raise Conflict("This form already exists for the participant: open it to edit it.",
                           "Cette fiche existe déjà pour ce participant : ouvrez-la pour la "
                           "modifier.")
        saved = records.create_record(session, actor, participant, form.model, save.values,
                                      complete=save.complete, locked=locked)
    else:
        saved = records.update_record(session, actor, record, save.values,
                                      expected_version=save.expected_version,
                                      reason=save.reason, complete=save.complete,
                                      locked=locked)
    for field, (en, fr) in confirmed.items():
        if not review.open_query_count(session, participant.id, form.model.__tablename__,
                                       saved.id, field):
            review.raise_query(session, actor, saved, field,
                               f"{fr} (valeur confirmée à la saisie) / "
                               f"{en} (value confirmed at entry)", automatic=True)
    return saved


def existing_record(session: Session, form: FormSpec, participant_id: int) -> Any:
    """The single record of a non-repeating form, or None."""
    model = form.model
    return session.scalar(select(model).where(
        model.participant_id == participant_id, model.is_deleted.is_(False)))


def participant_records(session: Session, form: FormSpec, participant_id: int) -> list[Any]:
    model = form.model
    order = [getattr(model, f.name) for f in form.fields if f.kind == "date"][:1]
    return list(session.scalars(select(model).where(
        model.participant_id == participant_id, model.is_deleted.is_(False)
    ).order_by(*order, model.id)))
