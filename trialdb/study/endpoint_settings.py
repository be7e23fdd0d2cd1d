"""The endpoint settings of the analysis plan, read from ``forms/study.yaml``.

The ``endpoints:`` mapping of the study metadata says how the primary endpoint
and the secondary CMV endpoints are derived (STUDY.md, "Endpoint definitions"
and "How the primary endpoint is analysed"). It is validated into the frozen
:class:`EndpointSettings`; :attr:`EndpointSettings.settings_hash` is the
SHA-256 of its canonical JSON (keys sorted, every setting present, defaults
included), recorded by every derived dataset so that a number can always be
traced to the settings that produced it. A sensitivity analysis is one setting
away: ``dataclasses.replace(settings, threshold=Threshold.AT_OR_ABOVE_VALUE)``.

Settings absent from the file take the defaults below (and still enter the
hash); an unknown key is refused, so a typo cannot silently fall back to a
default.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import yaml

from trialdb.errors import InvalidInput
from trialdb.resources import forms_dir
from trialdb.vocab import ResultState, Specimen, StrEnum

STUDY_FILE: Final = "study.yaml"


class Threshold(StrEnum):
    """Which CMV results count as DNAemia for the event."""

    ANY_DETECTION = "any_detection"  # below LLOQ or quantified
    AT_OR_ABOVE_LLOQ = "at_or_above_lloq"  # quantified
    AT_OR_ABOVE_VALUE = "at_or_above_value"  # quantified and >= threshold_iu_per_ml


class CensorAt(StrEnum):
    LAST_CMV_TEST = "last_cmv_test"
    LAST_CONTACT = "last_contact"


class CompetingEvent(StrEnum):
    """Competing events of the time-to-event analysis and their status codes."""

    DEATH = "death"
    LATER_ALLO_HSCT = "later_allo_hsct"
    NEW_LINE = "new_line"

    @property
    def status(self) -> int:
        """Status code in the time-to-event dataset: the same whichever events are selected."""
        return STATUS_CODES[self]


#: 0 censored, 1 CMV reactivation, 2 death without reactivation, then the
#: optional competing events. Codes are fixed so that a dataset built with
#: other settings keeps the meaning of every code.
STATUS_CENSORED: Final = 0
STATUS_REACTIVATION: Final = 1
STATUS_CODES: Final[Mapping[CompetingEvent, int]] = {
    CompetingEvent.DEATH: 2,
    CompetingEvent.LATER_ALLO_HSCT: 3,
    CompetingEvent.NEW_LINE: 4,
}
STATUS_LABELS: Final[Mapping[int, str]] = {
    STATUS_CENSORED: "censored",
    STATUS_REACTIVATION: "cmv_reactivation",
    **{code: str(event) for event, code in STATUS_CODES.items()},
}


class PrevalentCases(StrEnum):
    """DNAemia at or before D0 is prevalent, not incident."""

    EXCLUDE = "exclude"  # left out of the analysis set, counted among exclusions
    REPORT_APART = "report_apart"  # left out of the analysis set, listed in a table of their own


@dataclass(frozen=True)
class EndpointSettings:
    """How the CMV endpoints are derived. See forms/study.yaml for each setting."""

    threshold: Threshold = Threshold.ANY_DETECTION
    threshold_iu_per_ml: Decimal = Decimal(1000)
    consecutive_detections: int = 1
    specimens: tuple[Specimen, ...] = (Specimen.PLASMA, Specimen.WHOLE_BLOOD)
    horizon_days: int = 90
    censor_at: CensorAt = CensorAt.LAST_CMV_TEST
    competing_events: tuple[CompetingEvent, ...] = (CompetingEvent.DEATH,)
    prevalent_cases: PrevalentCases = PrevalentCases.REPORT_APART
    prevalence_window_days: int = 7
    recurrence_gap_days: int = 28
    surveillance_max_interval_days: int = 14
    clearance_states: tuple[ResultState, ...] = (ResultState.NOT_DETECTED, ResultState.BELOW_LLOQ)
    pre_emptive_lookback_days: int = 14
    refractory_min_therapy_days: int = 14
    refractory_baseline_window_days: int = 7
    ttv_lag_days: int = 7

    def __post_init__(self) -> None:
        _check_settings(self)

    def as_json_dict(self) -> dict[str, Any]:
        """Every setting as a JSON value (enums as their stored strings)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):  # sets in meaning: order does not change the hash
                out[item.name] = sorted(str(v) for v in value)
            elif isinstance(value, StrEnum):
                out[item.name] = value.value
            elif isinstance(value, Decimal):
                out[item.name] = format(value.normalize(), "f")  # 1000, never 1E+3
            else:
                out[item.name] = value
        return out

    def canonical_json(self) -> str:
        return json.dumps(self.as_json_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True)

    @property
    def settings_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the settings."""
        return hashlib.sha256(self.canonical_json().encode("ascii")).hexdigest()


def _invalid(name: str, en: str, fr: str) -> InvalidInput:
    return InvalidInput(
        en=f"Endpoint setting '{name}': {en}",
        fr=f"Paramètre de critère de jugement « {name} » : {fr}",
        field=name,
    )


def _check_settings(s: EndpointSettings) -> None:
    if s.consecutive_detections not in (1, 2):
        raise _invalid("consecutive_detections", "must be 1 or 2.", "doit valoir 1 ou 2.")
    if not s.threshold_iu_per_ml.is_finite() or s.threshold_iu_per_ml <= 0:
        raise _invalid("threshold_iu_per_ml", "must be a positive number.",
                       "doit être un nombre positif.")
    if not s.specimens:
        raise _invalid("specimens", "name at least one specimen.", "indiquez au moins un prélèvement.")
    if CompetingEvent.DEATH not in s.competing_events:
        raise _invalid("competing_events", "death is always a competing event.",
                       "le décès est toujours un événement concurrent.")
    if ResultState.QUANTIFIED in s.clearance_states or ResultState.NOT_DETECTED not in s.clearance_states:
        raise _invalid("clearance_states", "use not_detected, optionally with below_lloq.",
                       "utilisez not_detected, éventuellement avec below_lloq.")
    bounds = {
        "horizon_days": (1, 3650),
        "prevalence_window_days": (0, 60),
        "recurrence_gap_days": (1, 365),
        "surveillance_max_interval_days": (1, 365),
        "pre_emptive_lookback_days": (0, 60),
        "refractory_min_therapy_days": (1, 365),
        "refractory_baseline_window_days": (0, 60),
        "ttv_lag_days": (0, 90),
    }
    for name, (low, high) in bounds.items():
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _invalid(name, f"must be a whole number of days from {low} to {high}.",
                           f"doit être un nombre entier de jours de {low} à {high}.")


def _enum(cls: type[StrEnum], name: str, raw: object) -> Any:
    try:
        return cls(str(raw))
    except ValueError:
        raise _invalid(name, f"{raw!r} is not one of {', '.join(cls.values())}.",
                       f"{raw!r} n'est pas parmi {', '.join(cls.values())}.") from None


def _enum_list(cls: type[StrEnum], name: str, raw: object) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raise _invalid(name, "must be a list.", "doit être une liste.")
    items = tuple(_enum(cls, name, item) for item in raw)
    if len(set(items)) != len(items):
        raise _invalid(name, "lists an item twice.", "cite un élément deux fois.")
    return items


def settings_from_mapping(raw: Mapping[str, Any]) -> EndpointSettings:
    """Validate the ``endpoints:`` mapping. Raises InvalidInput (French and English)."""
    names = {item.name for item in fields(EndpointSettings)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise _invalid(unknown[0], "unknown setting.", "paramètre inconnu.")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "threshold":
            values[name] = _enum(Threshold, name, value)
        elif name == "censor_at":
            values[name] = _enum(CensorAt, name, value)
        elif name == "prevalent_cases":
            values[name] = _enum(PrevalentCases, name, value)
        elif name == "specimens":
            values[name] = _enum_list(Specimen, name, value)
        elif name == "competing_events":
            values[name] = _enum_list(CompetingEvent, name, value)
        elif name == "clearance_states":
            values[name] = _enum_list(ResultState, name, value)
        elif name == "threshold_iu_per_ml":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise _invalid(name, "must be a number.", "doit être un nombre.")
            try:
                values[name] = Decimal(repr(value) if isinstance(value, float) else str(value))
            except InvalidOperation:
                raise _invalid(name, "must be a number.", "doit être un nombre.") from None
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _invalid(name, "must be a whole number.", "doit être un nombre entier.")
            values[name] = value
    return EndpointSettings(**values)


def load_endpoint_settings(path: Path | None = None) -> EndpointSettings:
    """The settings in ``forms/study.yaml`` (or in the study file at `path`)."""
    study_file = path or forms_dir() / STUDY_FILE
    try:
        document = yaml.safe_load(study_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InvalidInput(
            en=f"Cannot read the study settings in {study_file}: {error}",
            fr=f"Lecture des paramètres de l'étude dans {study_file} impossible : {error}",
        ) from None
    raw = document.get("endpoints") if isinstance(document, dict) else None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _invalid("endpoints", "must be a mapping of settings.",
                       "doit être une table de paramètres.")
    return settings_from_mapping(raw)
