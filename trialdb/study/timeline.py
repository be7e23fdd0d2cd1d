"""Ages from a birth year and month, and days counted from the infusion (D0).

Participants are pseudonymised: only the year and month of birth are known,
so every age is judged without the day of birth.

Conventions
-----------
* `age_at` counts completed years taking the birthday as the 1st of the birth
  month: the oldest the person can be. Within the birth month it may be one
  year more than the true age.
* `minimum_age_at` counts the years that are certain whatever the day of
  birth: the birthday is taken as the 1st of the month *after* the birth month.
  This also settles a birth on 29 February without a legal question.
* `is_minor_at` is conservative: a person is adult only once 18 is certain,
  so during the month of the 18th birthday they are still treated as a minor.
* `study_day` counts whole days from D0 (the infusion day is day 0, the day
  before is -1; there is no day-0 gap as in CDISC study days).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from trialdb.errors import InvalidInput
from trialdb.study.reasons import fr_date

AGE_OF_MAJORITY: Final = 18
#: Hard limits on a birth year (the participant table's CHECK constraint).
BIRTH_YEAR_MIN: Final = 1900
BIRTH_YEAR_MAX: Final = 2100
#: Birth years more than this many years before today are refused as typing errors.
MAX_PLAUSIBLE_AGE: Final = 120


def _check_birth_month(year: int, month: int) -> None:
    for field, number, en, fr in (
        ("birth_year", year, "birth year", "L'année de naissance"),
        ("birth_month", month, "birth month", "Le mois de naissance"),
    ):
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidInput(
                en=f"The {en} must be a whole number, not {number!r}.",
                fr=f"{fr} doit être un nombre entier, pas {number!r}.",
                field=field,
            )
    if not 1 <= month <= 12:
        raise InvalidInput(
            en=f"Birth month {month} does not exist: enter 1 to 12.",
            fr=f"Le mois de naissance {month} n'existe pas : saisissez 1 à 12.",
            field="birth_month",
        )
    if not BIRTH_YEAR_MIN <= year <= BIRTH_YEAR_MAX:
        raise InvalidInput(
            en=f"Birth year {year} is not plausible: enter {BIRTH_YEAR_MIN} to {BIRTH_YEAR_MAX}.",
            fr=f"L'année de naissance {year} n'est pas plausible : saisissez {BIRTH_YEAR_MIN} "
            f"à {BIRTH_YEAR_MAX}.",
            field="birth_year",
        )


def _check_born_by(year: int, month: int, on: dt.date) -> None:
    _check_birth_month(year, month)
    if on < dt.date(year, month, 1):
        raise InvalidInput(
            en=f"{on.isoformat()} is before the birth month {month:02d}/{year}.",
            fr=f"Le {fr_date(on)} précède le mois de naissance {month:02d}/{year}.",
        )


def age_at(birth_year: int, birth_month: int, on: dt.date) -> int:
    """Completed years on `on`, the birthday taken as the 1st of the birth month."""
    _check_born_by(birth_year, birth_month, on)
    return on.year - birth_year - (1 if on.month < birth_month else 0)


def minimum_age_at(birth_year: int, birth_month: int, on: dt.date) -> int:
    """Completed years on `on` that hold whatever the day of birth in the month."""
    _check_born_by(birth_year, birth_month, on)
    return max(0, on.year - birth_year - (1 if on.month <= birth_month else 0))


def certain_from(birth_year: int, birth_month: int, years: int) -> dt.date:
    """The first day on which an age of `years` is certain: the 1st of the month
    after the birth month, `years` years later."""
    _check_birth_month(birth_year, birth_month)
    if birth_month == 12:
        return dt.date(birth_year + years + 1, 1, 1)
    return dt.date(birth_year + years, birth_month + 1, 1)


def is_minor_at(birth_year: int, birth_month: int, on: dt.date) -> bool:
    """True unless 18 years are certain on `on` (conservative)."""
    return minimum_age_at(birth_year, birth_month, on) < AGE_OF_MAJORITY


def study_day(d0: dt.date, on: dt.date) -> int:
    """Whole days from D0: D0 is day 0, the day before is -1, the day after is 1."""
    return (on - d0).days


def validate_birth_month(year: int, month: int, today: dt.date) -> None:
    """Refuse a month 1-12 violation, a birth month in the future or more than
    120 years ago. Raises InvalidInput naming the field."""
    _check_birth_month(year, month)
    earliest = today.year - MAX_PLAUSIBLE_AGE
    if year < earliest:
        raise InvalidInput(
            en=f"Birth year {year} is not plausible: the earliest accepted is {earliest}.",
            fr=f"L'année de naissance {year} n'est pas plausible : la plus ancienne acceptée "
            f"est {earliest}.",
            field="birth_year",
        )
    if (year, month) > (today.year, today.month):
        raise InvalidInput(
            en=f"Birth month {month:02d}/{year} is in the future.",
            fr=f"Le mois de naissance {month:02d}/{year} est dans le futur.",
            field="birth_month" if year == today.year else "birth_year",
        )
