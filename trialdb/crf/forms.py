"""WTForms classes built from the CRF definitions, one per form and language.

Each field's widget, choices and hard limits follow the model (through
`FieldSpec`); messages are in the user's language. What needs the
participant (dates against birth and D0) is checked by
`trialdb.services.form_entry`, which the views call after these validators.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    FloatField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from trialdb.crf.definitions import FieldSpec, FormSpec, Limit, code_label
from trialdb.crf.messages import message, wtforms_translations

YES, NO, UNKNOWN = "yes", "no", ""


class LocalFloatField(FloatField):  # type: ignore[misc]  # wtforms ships no types
    """A decimal number typed the French way (1,5) or the English way (1.5)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            valuelist = [v.replace("\u00a0", "").replace(" ", "").replace(",", ".")
                         for v in valuelist]
        super().process_formdata(valuelist)
        number: float | None = getattr(self, "data", None)
        if number is not None and not math.isfinite(number):  # nan, inf, 1e309
            self.data = None
            raise ValueError(self.gettext("Not a valid float value."))


class _Range:
    """A hard limit from the model: refuses values outside it."""

    def __init__(self, spec: FieldSpec, language: str) -> None:
        self.minimum: Limit | None = spec.minimum
        self.maximum: Limit | None = spec.maximum
        self.language = language
        self.field_flags: dict[str, Any] = {}

    def __call__(self, form: Any, field: Field) -> None:
        if field.data is None:
            return
        try:
            number = float(field.data)
        except OverflowError:  # an integer beyond every float is beyond every limit
            number = math.inf if field.data > 0 else -math.inf
        if self.minimum is not None and not self.minimum.admits_from_below(number):
            key = "min_inclusive" if self.minimum.inclusive else "min_exclusive"
            raise ValidationError(message(key, self.language, limit=_fmt(self.minimum.value)))
        if self.maximum is not None and not self.maximum.admits_from_above(number):
            key = "max_inclusive" if self.maximum.inclusive else "max_exclusive"
            raise ValidationError(message(key, self.language, limit=_fmt(self.maximum.value)))


def _fmt(number: float) -> str:
    return f"{number:g}"


def options(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """Choices of a select or radio field from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


BLANK_CHOICE = ("", "—")


def _choices(enum_class: type[enum.Enum], language: str, blank: bool) -> list[SelectChoice]:
    pairs = [(str(m.value), code_label(enum_class, str(m.value), language)) for m in enum_class]
    return options([BLANK_CHOICE, *pairs] if blank else pairs)


_SHARED_ANSWERS = {True: "yes", False: "no", None: "unknown"}


def answer_label(spec: FieldSpec, value: bool | None, language: str) -> str:
    """A yes/no answer as the field's definition names it, else Yes / No / Not answered."""
    own = spec.choice_label(value)
    return own.get(language) if own else message(_SHARED_ANSWERS[value], language)


def _make_field(spec: FieldSpec, language: str) -> Field:
    label = spec.label.get(language)
    description = spec.help.get(language) if spec.help else ""
    presence: list[Any] = (
        [InputRequired(message=message("required", language))] if spec.required else [Optional()]
    )
    render_kw: dict[str, Any] = {}
    if spec.unit:
        render_kw["data-unit"] = spec.unit
    kwargs: dict[str, Any] = {"label": label, "description": description, "render_kw": render_kw}
    if spec.kind == "date":
        return DateField(validators=presence, **kwargs)
    if spec.kind == "bool":
        return BooleanField(**kwargs)
    if spec.kind in ("yesno", "tristate"):
        choices = [(YES, answer_label(spec, True, language)),
                   (NO, answer_label(spec, False, language))]
        if spec.kind == "tristate":
            choices.append((UNKNOWN, answer_label(spec, None, language)))
        return RadioField(choices=options(choices), validators=presence, default=None,
                          **kwargs)
    if spec.kind == "int":
        return IntegerField(validators=[*presence, _Range(spec, language)], **kwargs)
    if spec.kind == "float":
        render_kw["inputmode"] = "decimal"
        return LocalFloatField(validators=[*presence, _Range(spec, language)], **kwargs)
    if spec.kind in ("text", "textarea"):
        length = ([Length(max=spec.max_length, message=message(
            "too_long", language, limit=str(spec.max_length)))] if spec.max_length else [])
        field_class = StringField if spec.kind == "text" else TextAreaField
        return field_class(validators=[*presence, *length], **kwargs)
    if spec.kind == "enum" and spec.enum is not None:
        return SelectField(choices=_choices(spec.enum, language, blank=True),
                           validators=presence, **kwargs)
    if spec.kind == "assay":
        return SelectField(choices=options([BLANK_CHOICE]), validators=presence, **kwargs)
    raise ValueError(f"no field for kind {spec.kind}")


@lru_cache(maxsize=128)
def form_class(spec: FormSpec, language: str) -> type[FlaskForm]:
    """The WTForms class of a CRF in `language` ('fr' or 'en')."""

    class Meta:
        locales: ClassVar[list[str]] = [language]
        # CSRFProtect checks every POST's token before the view runs; a token field
        # of the form's own would sign another token on every form built.
        csrf = False

        def get_translations(self, form: Any) -> Any:
            return wtforms_translations(language)

    attributes: dict[str, Any] = {"Meta": Meta}
    for spec_field in spec.fields:
        attributes[spec_field.name] = _make_field(spec_field, language)
    attributes["row_version"] = HiddenField()
    attributes["complete"] = BooleanField(message("mark_complete", language))
    attributes["confirm_soft"] = BooleanField(message("confirm_soft", language))
    attributes["reason"] = TextAreaField(message("reason", language))
    return type(f"{spec.name.title().replace('_', '')}Form", (FlaskForm,), attributes)


# --- between form data and model values --------------------------------------------------

def is_shown(spec: FieldSpec, values: dict[str, Any]) -> bool:
    """Whether a field's show-if condition holds for these model values."""
    if spec.show_if is None:
        return True
    other = values.get(spec.show_if.field)
    when = spec.show_if.when
    if when == "any":
        return other not in (None, "", False)
    if when == "positive":
        return isinstance(other, int | float) and other > 0
    if isinstance(when, bool):
        return other is when
    return str(other.value if isinstance(other, enum.Enum) else other) == when


def to_model_value(spec: FieldSpec, raw: Any) -> Any:
    if spec.kind in ("yesno", "tristate"):
        return {YES: True, NO: False}.get(raw or "")
    if spec.kind == "bool":
        return bool(raw)
    if spec.kind == "enum" and spec.enum is not None:
        return spec.enum(raw) if raw else None
    if spec.kind == "assay":
        return int(raw) if raw else None
    if spec.kind in ("text", "textarea"):
        text = (raw or "").strip()
        return text or None
    return raw


def model_values(spec: FormSpec, form: FlaskForm) -> dict[str, Any]:
    """Model values from a validated form; hidden (show-if) fields become empty."""
    values = {f.name: to_model_value(f, form[f.name].data) for f in spec.fields}
    for f in spec.fields:
        if not is_shown(f, values):
            values[f.name] = False if f.kind == "bool" else None
    return values


def to_form_value(spec: FieldSpec, value: Any) -> Any:
    if spec.kind in ("yesno", "tristate"):
        return {True: YES, False: NO}.get(value, UNKNOWN)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if spec.kind == "assay" and value is not None:
        return str(value)
    return value


def form_data(spec: FormSpec, record: Any | None) -> dict[str, Any]:
    """Initial form data from a saved record (or empty for a new one)."""
    if record is None:
        return {}
    data = {f.name: to_form_value(f, getattr(record, f.name)) for f in spec.fields}
    data["row_version"] = str(record.row_version)
    data["complete"] = bool(record.is_complete)
    return data


def audited_value(spec: FieldSpec | None, value: Any, language: str) -> str:
    """A value as the audit trail keeps it (JSON: codes, ISO dates, true/false), as a
    person reads it; a column no form shows (is_complete...) keeps its own value."""
    if spec is None:
        if isinstance(value, bool):
            return message("yes" if value else "no", language)
        return "—" if value is None or value == "" else str(value)
    if isinstance(value, str):
        try:
            if spec.enum is not None:
                value = spec.enum(value)
            elif spec.kind == "date":
                value = date.fromisoformat(value)
        except ValueError:  # a code or date from an older definition: shown as kept
            return str(value)
    return display_value(spec, value, language)


def display_value(spec: FieldSpec, value: Any, language: str) -> str:
    """A stored value as a person reads it."""
    own = spec.choice_label(value)  # a null a definition names is an answer, not a blank
    if own is not None:
        return own.get(language)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return message("yes" if value else "no", language)
    if isinstance(value, enum.Enum) and spec.enum is not None:
        return code_label(spec.enum, str(value.value), language)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y") if language == "fr" else value.isoformat()
    if isinstance(value, float):
        text = f"{value:g}"
        return text.replace(".", ",") if language == "fr" else text
    return str(value)
