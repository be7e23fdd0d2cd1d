"""CRF definitions: the YAML files in forms/ joined with what the models say.

The model owns each field's type, nullability, code list and hard limits
(named CHECK constraints such as ``crs_grade BETWEEN 0 AND 5`` are read
back into numeric limits); the definition adds labels and help in French
and English, sections, order, show-if conditions, soft limits, the date
rules that need the participant (not before birth, not before D0) and,
where Yes / No would be unclear, a yes/no field's own answer labels.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Boolean, CheckConstraint, Date, Float, Integer, String, Text
from sqlalchemy import Enum as SaEnum
from sqlalchemy.sql.schema import Column, Table

from trialdb import models
from trialdb.resources import forms_dir

#: Date anchors a definition may name in `not_before` besides another field.
DATE_ANCHORS = frozenset({"birth", "d0"})
#: Columns that never appear on a form (bookkeeping, derived values).
SYSTEM_COLUMNS = frozenset({
    "id", "participant_id", "row_version", "is_complete", "is_deleted", "deletion_reason",
    "created_at", "updated_at",
})
_FORM_KEYS = frozenset({"form", "model", "repeating", "order", "entry", "title", "sections"})
_FIELD_KEYS = frozenset({"name", "label", "help", "unit", "soft", "show_if", "not_before",
                         "not_after", "choices"})
#: The stored values a yes/no field's `choices` label, by kind (YAML true, false, null).
_CHOICE_VALUES: dict[str, tuple[bool | None, ...]] = {
    "yesno": (True, False), "tristate": (True, False, None)}
#: Those stored values as the data dictionary and the blank CRF name them.
STORED_NAMES: dict[bool | None, str] = {True: "true", False: "false", None: "NULL"}


class DefinitionError(ValueError):
    """A form definition that does not match the models (a developer's mistake)."""


@dataclass(frozen=True)
class Bilingual:
    fr: str
    en: str

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True)
class Limit:
    """A numeric bound; `inclusive` False for strict comparisons (> 0)."""

    value: float
    inclusive: bool = True

    def admits_from_below(self, number: float) -> bool:
        return number >= self.value if self.inclusive else number > self.value

    def admits_from_above(self, number: float) -> bool:
        return number <= self.value if self.inclusive else number < self.value


@dataclass(frozen=True)
class ShowIf:
    """Show the field only when `field` has `when`: true/false, 'any' (filled),
    'positive' (a number above 0) or a code."""

    field: str
    when: str | bool


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Bilingual
    kind: str  # date, bool, yesno, tristate, int, float, text, textarea, enum, assay
    required: bool
    comment: str
    help: Bilingual | None = None
    enum: type[enum.Enum] | None = None
    max_length: int | None = None
    minimum: Limit | None = None
    maximum: Limit | None = None
    soft_minimum: float | None = None
    soft_maximum: float | None = None
    unit: str | None = None
    show_if: ShowIf | None = None
    not_before: tuple[str, ...] = ()
    not_after: tuple[str, ...] = ()
    #: A yes/no field's own labels for its answers, by stored value (True, False,
    #: None), where the shared Yes / No / Not answered would be unclear.
    choices: tuple[tuple[bool | None, Bilingual], ...] = ()

    @property
    def codes(self) -> list[str]:
        return [str(member.value) for member in self.enum] if self.enum else []

    def choice_label(self, value: object) -> Bilingual | None:
        """The definition's label for a stored value of a yes/no field, if it gives one."""
        for stored, label in self.choices:
            if stored is value:
                return label
        return None


@dataclass(frozen=True)
class SectionSpec:
    title: Bilingual
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class FormSpec:
    name: str
    model: type[Any]
    repeating: bool
    order: int
    title: Bilingual
    sections: tuple[SectionSpec, ...]
    entry: str = "generic"  # generic, screening, grid, genotype
    source: Path = field(default=Path(), compare=False)

    @property
    def fields(self) -> list[FieldSpec]:
        return [spec for section in self.sections for spec in section.fields]

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)


# --- hard limits from CHECK constraints -------------------------------------------------

_NUMBER = r"(-?\d+(?:\.\d+)?(?:e\d+)?)"
_BETWEEN = re.compile(rf"(\w+) BETWEEN {_NUMBER} AND {_NUMBER}", re.IGNORECASE)
_LEADING_NULL_OK = re.compile(r"^\w+ IS NULL OR ", re.IGNORECASE)
_COMPARE = re.compile(rf"(\w+) (>=|<=|>|<) {_NUMBER}(?![\w.])", re.IGNORECASE)


def check_limits(table: Table) -> dict[str, tuple[Limit | None, Limit | None]]:
    """Numeric (minimum, maximum) per column, read from the table's CHECKs."""
    limits: dict[str, tuple[Limit | None, Limit | None]] = {}

    def merge(column: str, low: Limit | None, high: Limit | None) -> None:
        old_low, old_high = limits.get(column, (None, None))
        limits[column] = (low or old_low, high or old_high)

    for constraint in table.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        sql = _LEADING_NULL_OK.sub("", str(constraint.sqltext).strip())
        if re.search(r"\bOR\b", sql, re.IGNORECASE):
            continue  # a conditional rule (x > 0 OR y IS NULL) is not a range
        for column, low, high in _BETWEEN.findall(sql):
            merge(column, Limit(float(low)), Limit(float(high)))
        for column, operator, number in _COMPARE.findall(sql):
            value = float(number)
            if operator in (">", ">="):
                merge(column, Limit(value, operator == ">="), None)
            else:
                merge(column, None, Limit(value, operator == "<="))
    return limits


# --- building a field from its column ------------------------------------------------------

def _kind(column: Column[Any], spec_name: str) -> tuple[str, type[enum.Enum] | None]:
    column_type = column.type
    if column.foreign_keys and spec_name == "assay_id":
        return "assay", None
    if isinstance(column_type, SaEnum) and column_type.enum_class is not None:
        return "enum", column_type.enum_class
    if isinstance(column_type, Boolean):
        if column.nullable:
            return "tristate", None
        return ("bool" if column.default is not None else "yesno"), None
    if isinstance(column_type, Date):
        return "date", None
    if isinstance(column_type, Integer):
        return "int", None
    if isinstance(column_type, Float):
        return "float", None
    if isinstance(column_type, String) and column_type.length:
        return "text", None
    if isinstance(column_type, Text | String):
        return "textarea", None
    raise DefinitionError(f"column {column.name} has a type no form field handles")


def _bilingual(raw: Any, where: str) -> Bilingual:
    if not isinstance(raw, dict) or set(raw) != {"fr", "en"}:
        raise DefinitionError(f"{where}: expected {{fr: ..., en: ...}}")
    return Bilingual(fr=str(raw["fr"]), en=str(raw["en"]))


def _yaml_name(key: object) -> str:
    if key is None or isinstance(key, bool):
        return {True: "true", False: "false", None: "null"}[key]
    return repr(key)


def _choices(raw: Any, kind: str, where: str) -> tuple[tuple[bool | None, Bilingual], ...]:
    wanted = _CHOICE_VALUES.get(kind)
    if wanted is None:
        raise DefinitionError(f"{where}: choices are for yes/no fields only, not {kind} "
                              "(code labels are in codes.yaml)")
    names = ", ".join(_yaml_name(value) for value in wanted)
    # `is` and bool checks: YAML's 1 and 0 are equal to True and False but are not them.
    keys = list(raw) if isinstance(raw, dict) else []
    if (len(keys) != len(wanted)
            or not all(any(key is value for value in wanted) for key in keys)):
        got = ", ".join(_yaml_name(key) for key in keys) or repr(raw)
        raise DefinitionError(f"{where}: expected the keys {names} (the stored values), "
                              f"got {got}")
    return tuple((value, _bilingual(raw[value], f"{where}.{_yaml_name(value)}"))
                 for value in wanted)


def _field(raw: dict[str, Any], table: Table, limits: dict[str, tuple[Limit | None, Limit | None]],
           where: str) -> FieldSpec:
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise DefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    name = str(raw["name"])
    if name in SYSTEM_COLUMNS or name not in table.columns:
        raise DefinitionError(f"{where}: {table.name} has no editable column {name!r}")
    column = table.columns[name]
    kind, enum_class = _kind(column, name)
    low, high = limits.get(name, (None, None))
    soft = raw.get("soft") or {}
    show_if = None
    if raw.get("show_if"):
        ((other, when),) = dict(raw["show_if"]).items()
        if other not in table.columns:
            raise DefinitionError(f"{where}: show_if names unknown field {other!r}")
        show_if = ShowIf(str(other), when if isinstance(when, bool) else str(when))
    not_before = tuple(str(a) for a in raw.get("not_before", ()))
    not_after = tuple(str(a) for a in raw.get("not_after", ()))
    for anchor in (*not_before, *not_after):
        if anchor not in DATE_ANCHORS and anchor not in table.columns:
            raise DefinitionError(f"{where}: unknown date anchor {anchor!r}")
    if (not_before or not_after) and kind != "date":
        raise DefinitionError(f"{where}: date rules on a field that is not a date")
    max_length = (column.type.length if isinstance(column.type, String)
                  and kind in ("text", "textarea") else None)
    required = not column.nullable and column.default is None and kind != "bool"
    choices = (_choices(raw["choices"], kind, f"{where}.choices") if "choices" in raw else ())
    return FieldSpec(
        name=name,
        label=_bilingual(raw.get("label"), f"{where}.label"),
        help=_bilingual(raw["help"], f"{where}.help") if raw.get("help") else None,
        kind=kind,
        required=required,
        comment=str(column.comment or ""),
        enum=enum_class,
        max_length=max_length,
        minimum=low,
        maximum=high,
        soft_minimum=float(soft["min"]) if "min" in soft else None,
        soft_maximum=float(soft["max"]) if "max" in soft else None,
        unit=str(raw["unit"]) if raw.get("unit") else None,
        show_if=show_if,
        not_before=not_before,
        not_after=not_after,
        choices=choices,
    )


def parse_definition(raw: dict[str, Any], source: Path) -> FormSpec:
    where = source.name
    unknown = set(raw) - _FORM_KEYS
    if unknown:
        raise DefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    model = getattr(models, str(raw["model"]), None)
    if model is None or not hasattr(model, "__table__"):
        raise DefinitionError(f"{where}: no model {raw['model']!r}")
    table: Table = model.__table__
    limits = check_limits(table)
    sections = []
    seen: set[str] = set()
    for index, section in enumerate(raw["sections"]):
        fields = []
        for raw_field in section["fields"]:
            spec = _field(raw_field, table, limits, f"{where}: {raw_field.get('name')}")
            if spec.name in seen:
                raise DefinitionError(f"{where}: field {spec.name} appears twice")
            seen.add(spec.name)
            fields.append(spec)
        sections.append(SectionSpec(_bilingual(section["title"], f"{where}: section {index}"),
                                    tuple(fields)))
    return FormSpec(
        name=str(raw["form"]), model=model, repeating=bool(raw.get("repeating", False)),
        order=int(raw.get("order", 99)), title=_bilingual(raw["title"], f"{where}: title"),
        sections=tuple(sections), entry=str(raw.get("entry", "generic")), source=source,
    )


def _definition_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.stem not in {"study", "codes"})


@lru_cache(maxsize=4)
def load_forms(directory: Path | None = None) -> dict[str, FormSpec]:
    """Every CRF definition, by form name, in the study's order."""
    folder = directory or forms_dir()
    specs = [parse_definition(yaml.safe_load(path.read_text(encoding="utf-8")), path)
             for path in _definition_files(folder)]
    specs.sort(key=lambda spec: (spec.order, spec.name))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise DefinitionError("two definitions share a form name")
    return {spec.name: spec for spec in specs}


@lru_cache(maxsize=4)
def load_codes(directory: Path | None = None) -> dict[str, dict[str, Bilingual]]:
    """Labels of the vocabulary codes: enum class name -> code -> labels."""
    path = (directory or forms_dir()) / "codes.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        enum_name: {str(code): _bilingual(label, f"codes.yaml: {enum_name}.{code}")
                    for code, label in codes.items()}
        for enum_name, codes in raw.items()
    }


def code_label(enum_class: type[enum.Enum], code: str, language: str) -> str:
    label = load_codes().get(enum_class.__name__, {}).get(code)
    return label.get(language) if label else code


def form_for_model(model: type[Any]) -> FormSpec:
    for spec in load_forms().values():
        if spec.model is model:
            return spec
    raise KeyError(model.__name__)
