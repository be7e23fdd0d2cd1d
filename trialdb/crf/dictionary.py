"""The data dictionary, produced from the same definitions as the forms."""

from __future__ import annotations

from dataclasses import dataclass

from trialdb.crf.definitions import (
    STORED_NAMES,
    FieldSpec,
    FormSpec,
    Limit,
    code_label,
    load_forms,
)

_TYPES = {
    "date": "date", "bool": "boolean", "yesno": "boolean", "tristate": "boolean (nullable)",
    "int": "integer", "float": "decimal", "text": "text", "textarea": "long text",
    "enum": "code", "assay": "assay reference",
}


@dataclass(frozen=True)
class DictionaryRow:
    form: str
    field: str
    type: str
    required: bool
    label_fr: str
    label_en: str
    codes: str
    unit: str
    hard_limits: str
    soft_limits: str
    description: str


def _bound(limit: Limit | None, below: bool) -> str:
    if limit is None:
        return ""
    if below:
        return f"{'>=' if limit.inclusive else '>'} {limit.value:g}"
    return f"{'<=' if limit.inclusive else '<'} {limit.value:g}"


def _codes(spec: FieldSpec) -> str:
    if spec.choices:  # a yes/no field's own answer labels, in both languages
        return "; ".join(f"{STORED_NAMES[value]} = {label.en} / {label.fr}"
                         for value, label in spec.choices)
    if spec.enum is None:
        return ""
    return "; ".join(f"{code} = {code_label(spec.enum, code, 'en')}" for code in spec.codes)


def _limits(spec: FieldSpec) -> str:
    parts = [_bound(spec.minimum, True), _bound(spec.maximum, False)]
    if spec.max_length:
        parts.append(f"max {spec.max_length} characters")
    if spec.kind == "date":
        parts.append("not after today")
        parts.extend(f"not before {anchor}" for anchor in spec.not_before)
        parts.extend(f"before {anchor}" for anchor in spec.not_after)
    return ", ".join(p for p in parts if p)


def _soft(spec: FieldSpec) -> str:
    parts = []
    if spec.soft_minimum is not None:
        parts.append(f">= {spec.soft_minimum:g}")
    if spec.soft_maximum is not None:
        parts.append(f"<= {spec.soft_maximum:g}")
    return ", ".join(parts)


def form_rows(form: FormSpec) -> list[DictionaryRow]:
    return [
        DictionaryRow(
            form=form.name, field=spec.name, type=_TYPES[spec.kind], required=spec.required,
            label_fr=spec.label.fr, label_en=spec.label.en, codes=_codes(spec),
            unit=spec.unit or "", hard_limits=_limits(spec), soft_limits=_soft(spec),
            description=spec.comment,
        )
        for spec in form.fields
    ]


def data_dictionary() -> list[DictionaryRow]:
    """One row per field of every CRF, in the study's order."""
    return [row for form in load_forms().values() for row in form_rows(form)]
