"""Viral-load results as laboratories print them: parsing, log10, units.

The three states of a result (not detected, detected below the lower limit of
quantification, quantified) come from `trialdb.vocab.ResultState`. The rules
below are the study's decisions on what a coordinator may type from a
laboratory print-out; each is covered by `tests/study/test_viral_load.py`.

Decisions
---------
* ``<X`` (no other words) is BELOW_LLOQ with bound X. French print-outs use
  ``<62`` for "below the quantification limit 62" without saying whether the
  virus was detected; the study stores it as below LLOQ, never as a value.
  ``<X`` together with a not-detected phrase (``ND <62``, ``<62 non détecté``)
  is NOT_DETECTED. ``< seuil de détection`` / ``<LOD`` is NOT_DETECTED too.
* ``détecté <LLOQ``, ``détecté < seuil``, ``DNQ``, ``positif non quantifiable``
  are BELOW_LLOQ. Without a printed number the bound is the assay's LLOQ when
  it is given, otherwise unknown (``value`` is None).
* When the assay's LLOQ is given, a printed bound ``<X`` must equal it (a
  different bound means the wrong assay was chosen), and a quantified value
  below it is refused: a laboratory does not print a quantity under its LLOQ.
* ``>X`` (above the upper limit of quantification) is QUANTIFIED at X with
  ``reported_bound`` ``>`` (``above_uloq``): the true load is at least X, so
  threshold endpoints stay right; peak-load analyses must treat it as censored.
* A number with "détecté" / "positif" (``détecté 5951``) is that quantified
  value; a number with a not-detected or not-quantifiable phrase
  (``ND 5951``) is refused as contradictory, as is "détecté" without a number.
* Log10 values (``3,5 log``) are refused: log10 is derived by the system,
  never typed.
* Numbers: digits, optional decimal comma or point, optional exponent
  (``1,2E+04``, ``1.2e4``), thousands grouped by a space, a no-break space or
  a narrow no-break space (``1 360``). ``1,234`` / ``1.234`` without exponent
  are refused as ambiguous (French decimal or English thousands?). Zero,
  negative, signed numbers, several numbers and loads of 1E+12 or more are
  refused.
* A unit in the text (copies/mL, cp/mL, UI/mL, IU/mL, any case) must agree with
  the unit given separately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import Enum
from typing import Final

from trialdb.errors import InvalidInput
from trialdb.vocab import LoadUnit, ResultState, StrEnum

#: Loads at or above this are typing errors (matches the model's CHECK).
MAX_PLAUSIBLE_LOAD: Final = Decimal("1E+12")
#: The copies-per-IU factor must lie strictly between these (model's CHECK);
#: published CMV assay factors range roughly from 0.4 to 2.2.
COPIES_PER_IU_MIN: Final = Decimal("0.1")
COPIES_PER_IU_MAX: Final = Decimal("10")
#: Significant digits of the derived log10 (far beyond what any report prints).
LOG10_DIGITS: Final = 34

_ACCEPTED_EN: Final = (
    "Accepted: a number as printed (5951, 1 360, 1,2E+04); '<' and the quantification "
    "limit (<62); '>' and the upper limit (>1E+07); ND, non détecté, négatif; "
    "détecté <LLOQ, DNQ, positif non quantifiable; optionally followed by copies/mL or UI/mL."
)
_ACCEPTED_FR: Final = (
    "Formes acceptées : un nombre tel qu'imprimé (5951, 1 360, 1,2E+04) ; « < » suivi de "
    "la limite de quantification (<62) ; « > » suivi de la limite supérieure (>1E+07) ; "
    "ND, non détecté, négatif ; détecté <LLOQ, DNQ, positif non quantifiable ; "
    "éventuellement suivi de copies/mL ou UI/mL."
)


class Comparator(StrEnum):
    """How a printed number bounds the true load."""

    BELOW = "<"
    ABOVE = ">"


@dataclass(frozen=True)
class ParsedLoad:
    """A laboratory result understood.

    `value` is the quantified load (QUANTIFIED), the bound for a BELOW_LLOQ
    result (``<62`` -> 62; the assay's LLOQ for ``détecté <LLOQ`` when given),
    None otherwise. `reported_bound` says how `value` bounds the true load:
    ``<`` below it, ``>`` at least it (above the upper limit), None: `value` is
    the load itself (or there is no value).
    """

    state: ResultState
    value: Decimal | None
    unit: LoadUnit | None
    reported_bound: Comparator | None = None
    text: str = field(default="", compare=False)

    @property
    def above_uloq(self) -> bool:
        """Reported above the assay's upper limit of quantification (``>1E+07``)."""
        return self.reported_bound is Comparator.ABOVE

    @property
    def quantified_value(self) -> Decimal | None:
        """The value to store as the load: only for quantified results."""
        return self.value if self.state is ResultState.QUANTIFIED else None

    @property
    def log10(self) -> Decimal | None:
        """log10 of the quantified value; None unless quantified."""
        value = self.quantified_value
        return None if value is None else log10_load(value)


def _refuse(en: str, fr: str) -> InvalidInput:
    return InvalidInput(en=f"{en} {_ACCEPTED_EN}", fr=f"{fr} {_ACCEPTED_FR}")


# --- text normalisation ---------------------------------------------------------

# Letters with diacritics seen in French print-outs, folded to ASCII for keyword
# matching. Explicit on purpose: a generic Unicode decomposition would also
# turn symbols such as "≮" (not less than) into "<".
_FOLD: Final = str.maketrans(
    {
        "à": "a", "â": "a", "ä": "a", "á": "a",
        "ç": "c",
        "é": "e", "è": "e", "ê": "e", "ë": "e",
        "î": "i", "ï": "i", "í": "i",
        "ô": "o", "ö": "o", "ó": "o",
        "ù": "u", "û": "u", "ü": "u", "ú": "u",
        "ÿ": "y",
        "œ": "oe", "æ": "ae",
        "\u2212": "-", "\u2013": "-",  # minus sign, en dash
    }
)  # fmt: skip
_WHITESPACE: Final = re.compile(r"\s+")  # includes no-break and narrow no-break spaces


def _fold(text: str) -> str:
    return _WHITESPACE.sub(" ", text.casefold().translate(_FOLD)).strip()


# --- units ------------------------------------------------------------------------

_UNIT: Final = re.compile(
    r"(?<![a-z])(?:(?P<copies>copies?|cps?)|(?P<iu>ui|iu))\s*/\s*ml(?![a-z])"
)


def _unit_of(match: re.Match[str]) -> LoadUnit:
    return LoadUnit.COPIES_PER_ML if match.group("copies") else LoadUnit.IU_PER_ML


def parse_unit(text: str) -> LoadUnit:
    """The load unit written as copies/mL, cp/mL, UI/mL, IU/mL (any case)."""
    folded = _fold(text)
    match = _UNIT.fullmatch(folded)
    if match is None:
        raise InvalidInput(
            en=f"Unknown unit {text!r}: use copies/mL (cp/mL) or IU/mL (UI/mL).",
            fr=f"Unité inconnue {text!r} : utilisez copies/mL (cp/mL) ou UI/mL (IU/mL).",
            field="unit",
        )
    return _unit_of(match)


# --- numbers ----------------------------------------------------------------------

_NUMBER: Final = re.compile(
    r"(?P<cmp>[<>])?\s*(?P<sign>[-+])?\s*"
    r"(?P<mantissa>(?:[0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:[.,][0-9]+)?)"
    r"(?:\s?e\s?(?P<exp>[-+]?[0-9]{1,3}))?"
    r"(?![0-9])"
)
_AMBIGUOUS_GROUPING: Final = re.compile(r"[1-9][0-9]{0,2}[.,][0-9]{3}")
_DIGIT: Final = re.compile(r"[0-9]")


@dataclass(frozen=True)
class _Number:
    comparator: Comparator | None
    value: Decimal


def _take_number(folded: str, original: str) -> tuple[_Number | None, str]:
    """The one number in the text (with its comparator) and the text left around it."""
    match = _NUMBER.search(folded)
    if match is None:
        return None, folded
    rest = f"{folded[: match.start()]} {folded[match.end() :]}"
    if _DIGIT.search(rest):
        raise _refuse(
            f"More than one number in {original!r}.",
            f"Plus d'un nombre dans {original!r}.",
        )
    mantissa, exponent = match.group("mantissa"), match.group("exp")
    if exponent is None and _AMBIGUOUS_GROUPING.fullmatch(mantissa):
        raise _refuse(
            f"{mantissa!r} is ambiguous (decimal or thousands separator?): type the number "
            "without a separator, or group thousands with a space (1 234).",
            f"{mantissa!r} est ambigu (séparateur décimal ou de milliers ?) : saisissez le "
            "nombre sans séparateur, ou séparez les milliers par une espace (1 234).",
        )
    if match.group("sign") == "-":
        raise _refuse(
            f"A viral load cannot be negative ({original!r}).",
            f"Une charge virale ne peut pas être négative ({original!r}).",
        )
    if match.group("sign") == "+":
        raise _refuse(
            f"Remove the '+' sign in {original!r}.",
            f"Retirez le signe « + » dans {original!r}.",
        )
    literal = mantissa.replace(" ", "").replace(",", ".")
    value = Decimal(literal if exponent is None else f"{literal}E{exponent}")
    if value <= 0:
        raise _refuse(
            f"0 is not a viral load ({original!r}): enter ND when the laboratory reports "
            "no detection.",
            f"0 n'est pas une charge virale ({original!r}) : saisissez ND quand le "
            "laboratoire rapporte une absence de détection.",
        )
    if value >= MAX_PLAUSIBLE_LOAD:
        raise _refuse(
            f"{original!r} is not a plausible viral load (1E+12 or more).",
            f"{original!r} n'est pas une charge virale plausible (1E+12 ou plus).",
        )
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    cmp = match.group("cmp")
    return _Number(Comparator(cmp) if cmp else None, value), rest


# --- words ------------------------------------------------------------------------


class _Words(Enum):
    NONE = "none"
    NOT_DETECTED = "not_detected"
    DETECTED = "detected"
    NOT_QUANTIFIABLE = "not_quantifiable"


_PHRASES: Final[dict[str, _Words]] = {
    phrase: kind
    for kind, phrases in (
        (
            _Words.NOT_DETECTED,
            (
                "nd", "non detecte", "non detectee", "non detectes", "non detectable",
                "indetectable", "negatif", "negative", "not detected", "undetectable",
                "undetected", "target not detected", "tnd",
            ),
        ),
        (
            _Words.DETECTED,
            ("detecte", "detectee", "detected", "target detected", "positif", "positive"),
        ),
        (
            _Words.NOT_QUANTIFIABLE,
            (
                "dnq", "non quantifiable", "positif non quantifiable",
                "positive non quantifiable", "detecte non quantifiable",
                "detectee non quantifiable", "detected not quantifiable",
                "detected but not quantifiable", "detected not quantified",
            ),
        ),
    )
    for phrase in phrases
}  # fmt: skip

_BELOW_LOD: Final = re.compile(
    r"<\s*(?:lod|ld|seuil de detection|limite de detection)(?![a-z])"
)
_BELOW_LLOQ: Final = re.compile(
    r"(?:<|inferieure? (?:a|au|a la)|below(?: the)?)\s*"
    r"(?:lloq|loq|lq|seuil(?: de quantification)?|limite(?: de quantification)?"
    r"|limit of quantification)(?![a-z])"
)
_PUNCTUATION: Final = re.compile(r"[()\[\]{},;:!*_/'\"-]")


def _take_limit_phrase(folded: str) -> tuple[ResultState | None, str]:
    """A '<LOD' (not detected) or '<LLOQ' (below LLOQ) phrase, and the text left."""
    for pattern, state in (
        (_BELOW_LOD, ResultState.NOT_DETECTED),
        (_BELOW_LLOQ, ResultState.BELOW_LLOQ),
    ):
        match = pattern.search(folded)
        if match is not None:
            return state, f"{folded[: match.start()]} {folded[match.end() :]}"
    return None, folded


def _words(rest: str, original: str) -> _Words:
    phrase = _WHITESPACE.sub(" ", _PUNCTUATION.sub(" ", rest.replace(".", ""))).strip()
    if not phrase:
        return _Words.NONE
    kind = _PHRASES.get(phrase)
    if kind is None:
        raise _refuse(f"Result not understood: {original!r}.", f"Résultat non compris : {original!r}.")
    return kind


# --- decimals ---------------------------------------------------------------------


def _decimal(value: Decimal | int | float, what_en: str, what_fr: str) -> Decimal:
    """A finite, strictly positive Decimal; floats are read from their shortest repr."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise InvalidInput(
            en=f"The {what_en} must be a number, not {value!r}.",
            fr=f"{what_fr} doit être un nombre, pas {value!r}.",
        )
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number <= 0:
        raise InvalidInput(
            en=f"The {what_en} must be a positive number, not {value!r}.",
            fr=f"{what_fr} doit être un nombre positif, pas {value!r}.",
        )
    return number


# --- public API -------------------------------------------------------------------


def parse_lab_result(
    text: str,
    unit: LoadUnit | str | None = None,
    *,
    lloq: Decimal | int | float | None = None,
) -> ParsedLoad:
    """Understand a result as a laboratory prints it (see the module's decisions).

    `unit` is the unit chosen separately (e.g. the assay's); a unit written in
    `text` must agree with it. `lloq` is the assay's lower limit of
    quantification in the same unit. Raises InvalidInput with a French and
    English message saying what is accepted.
    """
    given_unit = parse_unit(unit) if unit is not None and unit.strip() else None
    limit = None if lloq is None else _decimal(lloq, "LLOQ", "La LLOQ")
    folded = _fold(text)
    if not folded:
        raise _refuse("The result is empty.", "Le résultat est vide.")
    if "log" in folded:
        raise _refuse(
            f"{text!r} looks like a log10 value: log10 is computed by the system; enter the "
            "load in copies/mL or IU/mL as printed.",
            f"{text!r} ressemble à une valeur en log10 : le log10 est calculé par le système ; "
            "saisissez la charge en copies/mL ou UI/mL telle qu'imprimée.",
        )
    units = {_unit_of(match) for match in _UNIT.finditer(folded)}
    if len(units) > 1:
        raise _refuse(f"Two different units in {text!r}.", f"Deux unités différentes dans {text!r}.")
    text_unit = units.pop() if units else None
    if text_unit is not None and given_unit is not None and text_unit is not given_unit:
        raise InvalidInput(
            en=f"The unit in {text!r} ({text_unit}) differs from the unit given ({given_unit}).",
            fr=f"L'unité de {text!r} ({text_unit}) diffère de l'unité indiquée ({given_unit}).",
            field="unit",
        )
    result_unit = text_unit or given_unit
    number, rest = _take_number(_UNIT.sub(" ", folded), text)
    limit_state, rest = _take_limit_phrase(rest)
    words = _words(rest, text)

    def result(state: ResultState, value: Decimal | None, bound: Comparator | None) -> ParsedLoad:
        return ParsedLoad(state, value, result_unit, bound, text)

    def contradiction() -> InvalidInput:
        return _refuse(
            f"{text!r} is contradictory.", f"{text!r} est contradictoire."
        )

    if number is None:
        if limit_state is ResultState.NOT_DETECTED:
            if words in (_Words.NONE, _Words.NOT_DETECTED):
                return result(ResultState.NOT_DETECTED, None, None)
            raise contradiction()
        if words is _Words.NOT_DETECTED:
            return result(ResultState.NOT_DETECTED, None, None)
        if limit_state is ResultState.BELOW_LLOQ or words is _Words.NOT_QUANTIFIABLE:
            bound = None if limit is None else Comparator.BELOW
            return result(ResultState.BELOW_LLOQ, limit, bound)
        if words is _Words.DETECTED:
            raise _refuse(
                f"{text!r} gives no value: enter the load, or 'détecté <LLOQ' when the "
                "laboratory could not quantify it.",
                f"{text!r} ne donne pas de valeur : saisissez la charge, ou « détecté <LLOQ » "
                "si le laboratoire n'a pas pu la quantifier.",
            )
        raise _refuse(f"No result in {text!r}.", f"Aucun résultat dans {text!r}.")

    if limit_state is not None:
        raise contradiction()
    if number.comparator is Comparator.BELOW:
        if words is _Words.NOT_DETECTED:
            return result(ResultState.NOT_DETECTED, None, None)
        if limit is not None and number.value != limit:
            raise _refuse(
                f"The bound printed in {text!r} differs from the assay's LLOQ ({limit}): "
                "check that the assay selected is the one on the print-out.",
                f"La limite imprimée dans {text!r} diffère de la LLOQ de la technique "
                f"({limit}) : vérifiez que la technique choisie est celle du compte rendu.",
            )
        return result(ResultState.BELOW_LLOQ, number.value, Comparator.BELOW)
    if words not in (_Words.NONE, _Words.DETECTED):
        raise contradiction()
    if limit is not None and number.value < limit:
        raise _refuse(
            f"{text!r} is below the assay's LLOQ ({limit}): a laboratory reports such a result "
            f"as '<{limit}' or 'détecté <LLOQ', not as a value.",
            f"{text!r} est inférieur à la LLOQ de la technique ({limit}) : un laboratoire "
            f"rend ce résultat « <{limit} » ou « détecté <LLOQ », pas une valeur.",
        )
    return result(ResultState.QUANTIFIED, number.value, number.comparator)


def log10_load(value: Decimal | int | float, *, places: int | None = None) -> Decimal:
    """log10 of a quantified load, correctly rounded to 34 significant digits.

    `places` rounds the result half-even to that many decimals for display
    (the seed series prints 8: 5951 -> 3.77458995).
    """
    number = _decimal(value, "viral load", "La charge virale")
    with localcontext() as context:
        context.prec = LOG10_DIGITS
        logarithm = number.log10()
        if places is None:
            return logarithm
        if not 0 <= places <= 20:
            raise ValueError(f"places must be between 0 and 20, not {places}")
        return logarithm.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def validate_copies_per_iu(copies_per_iu: Decimal | int | float) -> Decimal:
    """The assay's copies-per-IU factor (1 IU = factor copies), checked plausible."""
    factor = _decimal(copies_per_iu, "copies-per-IU factor", "Le facteur copies par UI")
    if not COPIES_PER_IU_MIN < factor < COPIES_PER_IU_MAX:
        raise InvalidInput(
            en=f"Copies-per-IU factor {factor} is not plausible: it must lie between "
            f"{COPIES_PER_IU_MIN} and {COPIES_PER_IU_MAX} (published CMV assays: about 0.4 to 2.2).",
            fr=f"Le facteur copies par UI {factor} n'est pas plausible : il doit être compris "
            f"entre {COPIES_PER_IU_MIN} et {COPIES_PER_IU_MAX} (techniques CMV publiées : environ "
            "0,4 à 2,2).",
            field="copies_per_iu",
        )
    return factor


def to_iu_per_ml(
    value: Decimal | int | float,
    unit: LoadUnit | str,
    copies_per_iu: Decimal | int | float | None,
) -> Decimal | None:
    """The load in IU/mL, or None when it cannot be known.

    A value already in IU/mL is returned as is. Copies/mL become IU/mL only
    through the assay's own factor, 1 IU = `copies_per_iu` copies, so
    IU/mL = copies/mL / factor; without a factor the answer is None, never a
    conversion by a constant. A factor, when given, is always checked.
    """
    load = _decimal(value, "viral load", "La charge virale")
    load_unit = parse_unit(unit)
    factor = None if copies_per_iu is None else validate_copies_per_iu(copies_per_iu)
    if load_unit is LoadUnit.IU_PER_ML:
        return load
    if factor is None:
        return None
    return load / factor
