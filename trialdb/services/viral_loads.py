"""Serial viral loads entered as a grid: many results at once, all or nothing.

Each row is read the way laboratories print results (`<62`, `ND`,
`1,2E+04`) by `trialdb.study.viral_load`; the preview shows what will be
stored (state, value, unit, derived log10, study day) before anything is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdb.errors import InvalidInput, UserError
from trialdb.models import Assay, Participant, ViralLoadResult
from trialdb.services import records
from trialdb.services.actor import Actor
from trialdb.services.form_entry import infusion_date
from trialdb.study.timeline import study_day
from trialdb.study.viral_load import log10_load, parse_lab_result, parse_unit
from trialdb.vocab import LoadUnit, ResultState, Specimen, Virus

MAX_ROWS = 200
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FRENCH = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


@dataclass(frozen=True)
class LoadRow:
    """One grid row as typed."""

    sampled_on: str = ""
    virus: str = "CMV"
    specimen: str = "plasma"
    assay_id: str = ""
    result: str = ""
    unit: str = ""

    @property
    def is_blank(self) -> bool:
        return not (self.sampled_on.strip() or self.result.strip())

    @classmethod
    def from_mapping(cls, raw: Any) -> LoadRow:
        if not isinstance(raw, dict):
            raise InvalidInput("Each row must be an object.", "Chaque ligne doit être un objet.")
        return cls(**{name: str(raw.get(name) or "").strip()
                      for name in ("sampled_on", "virus", "specimen", "assay_id", "result",
                                   "unit")})


@dataclass
class RowPreview:
    index: int
    state: ResultState | None = None
    value: Decimal | None = None
    unit: LoadUnit | None = None
    log10: Decimal | None = None
    day: int | None = None
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self, language: str) -> dict[str, Any]:
        return {
            "index": self.index,
            "ok": self.ok,
            "state": self.state.value if self.state else None,
            "value": None if self.value is None else f"{self.value:g}",
            "unit": self.unit.value if self.unit else None,
            "log10": None if self.log10 is None else f"{self.log10:.2f}",
            "day": self.day,
            "errors": {k: (fr if language == "fr" else en) for k, (en, fr) in self.errors.items()},
        }


class GridErrors(InvalidInput):
    def __init__(self, previews: list[RowPreview]) -> None:
        bad = sum(1 for p in previews if not p.ok)
        super().__init__(f"{bad} row(s) need correcting: nothing was saved.",
                         f"{bad} ligne(s) à corriger : rien n'a été enregistré.")
        self.previews = previews


def parse_date(text: str) -> date:
    """A date typed as 2024-03-01 or 01/03/2024."""
    try:
        if (match := _ISO.match(text)) is not None:
            return date(int(match[1]), int(match[2]), int(match[3]))
        if (match := _FRENCH.match(text)) is not None:
            return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        pass
    raise InvalidInput(f"{text!r} is not a date (2024-03-01 or 01/03/2024).",
                       f"{text!r} n'est pas une date (01/03/2024 ou 2024-03-01).")


def assays(session: Session) -> list[Assay]:
    return list(session.scalars(select(Assay).order_by(Assay.virus, Assay.name)))


def _messages(error: UserError) -> tuple[str, str]:
    return error.message("en"), error.message("fr")


def preview_row(index: int, row: LoadRow, participant: Participant, assay_by_id: dict[int, Assay],
                d0: date | None, today: date) -> RowPreview:
    preview = RowPreview(index)
    errors = preview.errors
    sampled_on = None
    if not row.sampled_on:
        errors["sampled_on"] = ("Enter the sampling date.", "Saisissez la date de prélèvement.")
    else:
        try:
            sampled_on = parse_date(row.sampled_on)
        except InvalidInput as error:
            errors["sampled_on"] = _messages(error)
    if sampled_on is not None:
        if sampled_on > today:
            errors["sampled_on"] = ("This date is in the future.", "Cette date est dans le futur.")
        elif (sampled_on.year, sampled_on.month) < (participant.birth_year, participant.birth_month):
            errors["sampled_on"] = ("This date is before birth.", "Cette date précède la naissance.")
        elif d0 is not None:
            preview.day = study_day(d0, sampled_on)
    virus = specimen = None
    try:
        virus = Virus(row.virus)
    except ValueError:
        errors["virus"] = ("Unknown virus.", "Virus inconnu.")
    try:
        specimen = Specimen(row.specimen)
    except ValueError:
        errors["specimen"] = ("Unknown specimen.", "Prélèvement inconnu.")
    assay = assay_by_id.get(int(row.assay_id)) if row.assay_id.isdigit() else None
    if assay is None:
        errors["assay_id"] = ("Choose the assay.", "Choisissez la technique.")
    elif virus is not None and assay.virus is not virus:
        errors["assay_id"] = (f"This assay measures {assay.virus}, not {virus}.",
                              f"Cette technique mesure {assay.virus}, pas {virus}.")
    unit = None
    if row.unit:
        try:
            unit = parse_unit(row.unit)
        except InvalidInput as error:
            errors["unit"] = _messages(error)
    if not row.result:
        errors["result"] = ("Enter the result as printed.", "Saisissez le résultat imprimé.")
    elif "unit" not in errors:
        lloq = assay.lloq if assay is not None and unit in (None, assay.unit) else None
        try:
            parsed = parse_lab_result(row.result, unit, lloq=lloq)
        except InvalidInput as error:
            errors["unit" if error.field == "unit" else "result"] = _messages(error)
        else:
            preview.state = parsed.state
            preview.unit = parsed.unit
            if parsed.state is ResultState.QUANTIFIED:
                preview.value = parsed.value
                if parsed.unit is None:
                    errors["unit"] = ("A quantified load needs its unit (copies/mL or IU/mL).",
                                      "Une charge quantifiée doit avoir son unité "
                                      "(copies/mL ou UI/mL).")
                elif parsed.value is not None:
                    preview.log10 = log10_load(parsed.value)
            elif preview.unit is None and assay is not None:
                preview.unit = assay.unit
    if preview.ok and sampled_on and virus and specimen and assay and preview.state and preview.unit:
        preview.values = {
            "sampled_on": sampled_on, "virus": virus, "specimen": specimen,
            "assay_id": assay.id, "state": preview.state, "unit": preview.unit,
            "value": float(preview.value) if preview.value is not None else None,
            "reported_as": row.result[:60],
        }
    return preview


def preview_rows(session: Session, participant: Participant, rows: Sequence[LoadRow],
                 today: date | None = None) -> list[RowPreview]:
    today = today or date.today()
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"At most {MAX_ROWS} rows at once.",
                           f"{MAX_ROWS} lignes au plus à la fois.")
    assay_by_id = {a.id: a for a in assays(session)}
    d0 = infusion_date(session, participant.id)
    return [preview_row(i, row, participant, assay_by_id, d0, today)
            for i, row in enumerate(rows) if not row.is_blank]


def save_rows(session: Session, actor: Actor, participant: Participant, rows: Sequence[LoadRow],
              today: date | None = None) -> list[ViralLoadResult]:
    """Store every row, or none when any row is wrong (GridErrors)."""
    previews = preview_rows(session, participant, rows, today)
    if not previews:
        raise InvalidInput("No result to save.", "Aucun résultat à enregistrer.")
    if not all(p.ok for p in previews):
        raise GridErrors(previews)
    return [records.create_record(session, actor, participant, ViralLoadResult, p.values,
                                  complete=True) for p in previews]


def participant_loads(session: Session, participant_id: int) -> list[ViralLoadResult]:
    return list(session.scalars(select(ViralLoadResult).where(
        ViralLoadResult.participant_id == participant_id, ViralLoadResult.is_deleted.is_(False)
    ).order_by(ViralLoadResult.sampled_on, ViralLoadResult.id)))
