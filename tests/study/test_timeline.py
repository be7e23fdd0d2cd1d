from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialdb.errors import InvalidInput
from trialdb.study.timeline import (
    age_at,
    certain_from,
    is_minor_at,
    minimum_age_at,
    study_day,
    validate_birth_month,
)

D = dt.date


def _true_age(born: dt.date, on: dt.date) -> int:
    """Completed years for a known day of birth (29 February: anniversary on 1 March)."""
    try:
        anniversary = born.replace(year=on.year)
    except ValueError:
        anniversary = D(on.year, 3, 1)
    return on.year - born.year - (1 if on < anniversary else 0)


@pytest.mark.parametrize(
    ("year", "month", "on", "age", "minimum"),
    [
        (2008, 5, D(2026, 4, 30), 17, 17),
        (2008, 5, D(2026, 5, 1), 18, 17),  # birth month: 17 or 18
        (2008, 5, D(2026, 5, 31), 18, 17),
        (2008, 5, D(2026, 6, 1), 18, 18),
        (2008, 12, D(2026, 12, 31), 18, 17),
        (2008, 12, D(2027, 1, 1), 18, 18),
        (2008, 1, D(2026, 1, 1), 18, 17),
        (2008, 1, D(2026, 2, 1), 18, 18),
        (2020, 3, D(2020, 3, 1), 0, 0),  # born this month
        (2020, 3, D(2020, 3, 31), 0, 0),
        (2020, 3, D(2021, 2, 28), 0, 0),
        (2020, 3, D(2021, 3, 1), 1, 0),
        (2020, 3, D(2021, 4, 1), 1, 1),
        (1950, 7, D(2024, 7, 15), 74, 73),
        (2008, 2, D(2026, 2, 28), 18, 17),  # 29 February 2008 is possible
        (2008, 2, D(2026, 3, 1), 18, 18),
    ],
)
def test_ages(year: int, month: int, on: dt.date, age: int, minimum: int) -> None:
    assert age_at(year, month, on) == age
    assert minimum_age_at(year, month, on) == minimum


@pytest.mark.parametrize(
    ("year", "month", "on", "minor"),
    [
        (2008, 5, D(2026, 4, 30), True),
        (2008, 5, D(2026, 5, 1), True),  # might be born on 31 May
        (2008, 5, D(2026, 5, 31), True),  # conservative: the whole birth month
        (2008, 5, D(2026, 6, 1), False),
        (2008, 2, D(2026, 2, 28), True),  # born 29 February 2008?
        (2008, 2, D(2026, 3, 1), False),
        (2008, 12, D(2026, 12, 31), True),
        (2008, 12, D(2027, 1, 1), False),
        (1980, 6, D(2024, 1, 1), False),
        (2020, 1, D(2024, 1, 1), True),
    ],
)
def test_is_minor_at(year: int, month: int, on: dt.date, minor: bool) -> None:
    assert is_minor_at(year, month, on) is minor


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2090, 12, 31)),
    st.integers(min_value=0, max_value=40_000),
)
def test_age_bounds_contain_the_true_age_whatever_the_day(born: dt.date, days: int) -> None:
    on = born + dt.timedelta(days=days)
    if on.year > 2100:
        return
    true_age = _true_age(born, on)
    assert minimum_age_at(born.year, born.month, on) <= true_age <= age_at(born.year, born.month, on)
    assert age_at(born.year, born.month, on) - minimum_age_at(born.year, born.month, on) <= 1


@given(st.integers(min_value=1900, max_value=2080), st.integers(min_value=1, max_value=12),
       st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31)))
def test_adult_only_when_adult_for_every_possible_day_of_birth(
    year: int, month: int, on: dt.date
) -> None:
    if on < D(year, month, 1):
        return
    last_day = calendar.monthrange(year, month)[1]
    adult_for_every_day = all(
        _true_age(D(year, month, day), on) >= 18
        for day in range(1, last_day + 1)
        if D(year, month, day) <= on
    ) and on >= D(year, month, last_day)
    if not is_minor_at(year, month, on):
        assert adult_for_every_day
    # Conservative by at most the birth month itself.
    if on >= certain_from(year, month, 18):
        assert not is_minor_at(year, month, on)
    else:
        assert is_minor_at(year, month, on)


@pytest.mark.parametrize(
    ("year", "month", "years", "expected"),
    [
        (2008, 5, 18, D(2026, 6, 1)),
        (2008, 12, 18, D(2027, 1, 1)),
        (2008, 2, 18, D(2026, 3, 1)),
        (2023, 11, 1, D(2024, 12, 1)),
        (2023, 12, 1, D(2025, 1, 1)),
        (2023, 1, 0, D(2023, 2, 1)),
    ],
)
def test_certain_from(year: int, month: int, years: int, expected: dt.date) -> None:
    assert certain_from(year, month, years) == expected
    assert minimum_age_at(year, month, expected) == years
    assert minimum_age_at(year, month, expected - dt.timedelta(days=1)) == max(0, years - 1)


def test_age_before_birth_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        age_at(2020, 5, D(2020, 4, 30))
    assert "before the birth month 05/2020" in raised.value.messages["en"]
    assert "précède le mois de naissance 05/2020" in raised.value.messages["fr"]
    with pytest.raises(InvalidInput):
        minimum_age_at(2020, 5, D(2019, 12, 31))
    with pytest.raises(InvalidInput):
        is_minor_at(2020, 5, D(2019, 12, 31))


@pytest.mark.parametrize(
    ("year", "month", "field"),
    [
        (2000, 0, "birth_month"),
        (2000, 13, "birth_month"),
        (2000, -1, "birth_month"),
        (1899, 5, "birth_year"),
        (2101, 5, "birth_year"),
        (0, 5, "birth_year"),
        (True, 5, "birth_year"),
        (2000, True, "birth_month"),
        (2000.0, 5, "birth_year"),
        ("2000", 5, "birth_year"),
        (2000, "5", "birth_month"),
    ],
)
def test_impossible_birth_months_are_refused_by_every_age_function(
    year: object, month: object, field: str
) -> None:
    for function in (age_at, minimum_age_at, is_minor_at):
        with pytest.raises(InvalidInput) as raised:
            function(year, month, D(2024, 1, 1))  # type: ignore[arg-type]
        assert raised.value.field == field
    with pytest.raises(InvalidInput) as raised:
        validate_birth_month(year, month, D(2024, 1, 1))  # type: ignore[arg-type]
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("d0", "on", "day"),
    [
        (D(2024, 3, 10), D(2024, 3, 10), 0),
        (D(2024, 3, 10), D(2024, 3, 9), -1),
        (D(2024, 3, 10), D(2024, 3, 11), 1),
        (D(2024, 3, 10), D(2024, 6, 8), 90),
        (D(2024, 2, 28), D(2024, 3, 1), 2),  # leap year
        (D(2023, 2, 28), D(2023, 3, 1), 1),
        (D(2023, 12, 31), D(2024, 1, 1), 1),
        (D(2024, 3, 10), D(2024, 2, 9), -30),
    ],
)
def test_study_day(d0: dt.date, on: dt.date, day: int) -> None:
    assert study_day(d0, on) == day


@given(st.dates(), st.integers(min_value=-3650, max_value=3650))
def test_study_day_counts_whole_days(d0: dt.date, days: int) -> None:
    try:
        on = d0 + dt.timedelta(days=days)
    except OverflowError:
        return
    assert study_day(d0, on) == days
    assert study_day(on, d0) == -days


TODAY = D(2025, 6, 15)


@pytest.mark.parametrize(
    ("year", "month"),
    [(2025, 6), (2025, 1), (2024, 12), (1980, 2), (1905, 1), (2024, 7)],
)
def test_valid_birth_months(year: int, month: int) -> None:
    validate_birth_month(year, month, TODAY)


@pytest.mark.parametrize(
    ("year", "month", "field", "fragment"),
    [
        (2025, 7, "birth_month", "in the future"),
        (2026, 1, "birth_year", "in the future"),
        (2030, 6, "birth_year", "in the future"),
        (1904, 12, "birth_year", "earliest accepted is 1905"),
        (1900, 1, "birth_year", "earliest accepted is 1905"),
        (2025, 13, "birth_month", "1 to 12"),
        (2025, 0, "birth_month", "1 to 12"),
    ],
)
def test_invalid_birth_months(year: int, month: int, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_birth_month(year, month, TODAY)
    assert raised.value.field == field
    assert fragment in raised.value.messages["en"]
    assert raised.value.messages["fr"] != raised.value.messages["en"]
