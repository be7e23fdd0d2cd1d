"""The laboratories' assays: list, declare and correct them (admins and data managers).

An assay carries its limit of detection, its lower limit of quantification
(both in the assay's unit) and, for CMV only, its own copies-per-IU factor:
copies/mL become IU/mL through that factor, never through a constant
(trialdb.study.viral_load). Every creation and change is audited with the
old and new values; once results use an assay, a change needs a reason and
its virus, specimen and unit may no longer change (the results would then
say something else).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdb.errors import Forbidden, NotFound, UserError
from trialdb.models import Assay, ViralLoadResult
from trialdb.services import audit
from trialdb.services.actor import Actor
from trialdb.services.form_entry import FieldErrors
from trialdb.study.viral_load import validate_copies_per_iu
from trialdb.vocab import LoadUnit, Role, Specimen, Virus

MANAGERS = frozenset({Role.ADMIN, Role.DATA_MANAGER})
#: Viruses without an international standard: their loads are counted in copies/mL.
COPIES_ONLY = frozenset({Virus.TTV, Virus.REDONDOVIRUS, Virus.PEGIVIRUS})
#: What may not change once results use the assay.
FIXED_ONCE_USED = ("virus", "specimen", "unit")
NAME_MAX = 120
_LIMIT_MAX = Decimal("1E+9")


@dataclass(frozen=True)
class AssayValues:
    """An assay as typed in the form (text); `clean` turns it into column values."""

    name: str = ""
    virus: str = ""
    specimen: str = ""
    unit: str = ""
    limit_of_detection: str = ""
    lloq: str = ""
    copies_per_iu: str = ""

    @classmethod
    def of(cls, assay: Assay) -> AssayValues:
        def text(value: float | None) -> str:
            return "" if value is None else format(Decimal(str(value)).normalize(), "f")

        return cls(assay.name, assay.virus.value, assay.specimen.value, assay.unit.value,
                   text(assay.limit_of_detection), text(assay.lloq), text(assay.copies_per_iu))


def require_manager(actor: Actor) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("Only administrators and data managers manage assays.",
                        "Seuls les administrateurs et data managers gèrent les techniques.")


def list_assays(session: Session) -> list[tuple[Assay, int]]:
    """Every assay with the number of live results that use it, by virus then name."""
    used = (select(ViralLoadResult.assay_id, func.count().label("n"))
            .where(ViralLoadResult.is_deleted.is_(False))
            .group_by(ViralLoadResult.assay_id).subquery())
    rows = session.execute(select(Assay, func.coalesce(used.c.n, 0))
                           .outerjoin(used, used.c.assay_id == Assay.id)
                           .order_by(Assay.virus, Assay.name))
    return [(assay, int(n)) for assay, n in rows]


def get_assay(session: Session, actor: Actor, assay_id: int) -> Assay:
    require_manager(actor)
    assay = session.get(Assay, assay_id) if 0 < assay_id <= 2**31 - 1 else None
    if assay is None:
        raise NotFound("No such assay.", "Technique introuvable.")
    return assay


def result_count(session: Session, assay_id: int) -> int:
    """Results (deleted ones included: they still name the assay) using the assay."""
    return session.scalar(select(func.count()).select_from(ViralLoadResult)
                          .where(ViralLoadResult.assay_id == assay_id)) or 0


def _positive(raw: str, field: str, en: str, fr: str,
              errors: dict[str, tuple[str, str]]) -> float | None:
    text = raw.strip().replace(",", ".").replace("\u202f", "").replace(" ", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[field] = (f"{en}: write a number, e.g. 62 or 34.5.",
                         f"{fr} : saisissez un nombre, par exemple 62 ou 34,5.")
        return None
    if not value.is_finite() or value <= 0 or value >= _LIMIT_MAX:
        errors[field] = (f"{en} must be a positive number below 1E+9.",
                         f"{fr} doit être un nombre positif inférieur à 1E+9.")
        return None
    return float(value)


def _choice(raw: str, enum_class: Any, field: str, en: str, fr: str,
            errors: dict[str, tuple[str, str]]) -> Any:
    try:
        return enum_class(raw)
    except ValueError:
        errors[field] = (f"Choose the {en}.", f"Choisissez {fr}.")
        return None


def clean(values: AssayValues) -> dict[str, Any]:
    """Column values, or FieldErrors naming every field to correct (both languages)."""
    errors: dict[str, tuple[str, str]] = {}
    name = " ".join(values.name.split())
    if not name:
        errors["name"] = ("Give the assay's name as the laboratory prints it.",
                          "Indiquez le nom de la technique tel que le laboratoire l'imprime.")
    elif len(name) > NAME_MAX or "\x00" in name:
        errors["name"] = (f"At most {NAME_MAX} characters.", f"{NAME_MAX} caractères au plus.")
    virus = _choice(values.virus, Virus, "virus", "virus", "le virus", errors)
    specimen = _choice(values.specimen, Specimen, "specimen", "specimen", "le prélèvement",
                       errors)
    unit = _choice(values.unit, LoadUnit, "unit", "unit", "l'unité", errors)
    if virus in COPIES_ONLY and unit is LoadUnit.IU_PER_ML:
        errors["unit"] = (f"{virus} has no international standard: its loads are in copies/mL.",
                          f"{virus} n'a pas de standard international : ses charges sont en "
                          "copies/mL.")
    lod = _positive(values.limit_of_detection, "limit_of_detection", "The limit of detection",
                    "La limite de détection", errors)
    lloq = _positive(values.lloq, "lloq", "The LLOQ", "La limite de quantification", errors)
    if lod is not None and lloq is not None and lod > lloq:
        errors["limit_of_detection"] = (
            "The limit of detection cannot be above the LLOQ.",
            "La limite de détection ne peut pas dépasser la limite de quantification.")
    factor: float | None = None
    raw_factor = values.copies_per_iu.strip().replace(",", ".")
    if raw_factor:
        if virus is not None and virus is not Virus.CMV:
            errors["copies_per_iu"] = (
                "A copies-per-IU factor is recorded for CMV assays only.",
                "Le facteur copies par UI ne concerne que les techniques CMV.")
        else:
            try:
                factor = float(validate_copies_per_iu(Decimal(raw_factor)))
            except InvalidOperation:
                errors["copies_per_iu"] = ("Write the factor as a number, e.g. 1.1.",
                                           "Saisissez le facteur en nombre, par exemple 1,1.")
            except UserError as error:
                errors["copies_per_iu"] = (error.messages["en"], error.messages["fr"])
    if errors:
        raise FieldErrors(errors)
    return {"name": name, "virus": virus, "specimen": specimen, "unit": unit,
            "limit_of_detection": lod, "lloq": lloq, "copies_per_iu": factor}


def _name_taken(session: Session, name: str, other_than: int | None = None) -> bool:
    query = select(Assay.id).where(func.lower(Assay.name) == name.lower())
    if other_than is not None:
        query = query.where(Assay.id != other_than)
    return session.scalar(query.limit(1)) is not None


def _name_error() -> FieldErrors:
    return FieldErrors({"name": ("An assay of this name already exists.",
                                 "Une technique porte déjà ce nom.")})


def create_assay(session: Session, actor: Actor, values: AssayValues) -> Assay:
    require_manager(actor)
    clean_values = clean(values)
    if _name_taken(session, clean_values["name"]):
        raise _name_error()
    assay = Assay(**clean_values)
    session.add(assay)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="create", entity="assay", entity_id=assay.id,
        changes={name: [None, value] for name, value in clean_values.items()
                 if value is not None}))
    return assay


def update_assay(session: Session, actor: Actor, assay_id: int, values: AssayValues,
                 reason: str = "") -> Assay:
    """Correct an assay; a reason is needed once results use it."""
    assay = get_assay(session, actor, assay_id)
    clean_values = clean(values)
    changes = {name: [getattr(assay, name), value] for name, value in clean_values.items()
               if getattr(assay, name) != value}
    if not changes:
        return assay
    if _name_taken(session, clean_values["name"], other_than=assay.id):
        raise _name_error()
    reason = " ".join(reason.split())
    if result_count(session, assay.id):
        fixed = {name: ("Results use this assay: this can no longer change "
                        "(declare a new assay).",
                        "Des résultats utilisent cette technique : ce champ ne peut plus "
                        "changer (déclarez une nouvelle technique).")
                 for name in FIXED_ONCE_USED if name in changes}
        if not reason:
            fixed["reason"] = ("Results use this assay: say why it is changed.",
                               "Des résultats utilisent cette technique : indiquez le motif "
                               "de la modification.")
        if fixed:
            raise FieldErrors(fixed)
    for name, (_old, new) in changes.items():
        setattr(assay, name, new)
    session.flush()
    audit.record(session, actor, audit.Entry(action="update", entity="assay",
                                             entity_id=assay.id, changes=changes,
                                             reason=reason or None))
    return assay
