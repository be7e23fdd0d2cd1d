"""The real serial plasma CMV series of seed 000 (copies/mL with the log10
the laboratory's spreadsheet printed): our parsing and log10 must agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest

from trialdb.study.viral_load import Comparator, log10_load, parse_lab_result
from trialdb.vocab import LoadUnit, ResultState

SERIES = Path(__file__).parent / "data" / "cmv_plasma_series.tsv"
LLOQ = Decimal(62)


class Row(NamedTuple):
    sampled_on: dt.date
    printed_load: str
    printed_log10: Decimal


def _rows() -> list[Row]:
    rows = []
    for line in SERIES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        day, load, log10 = line.split("\t")
        rows.append(
            Row(
                dt.datetime.strptime(day, "%d/%m/%Y").date(),
                load,
                Decimal(log10.replace(",", ".")),
            )
        )
    return rows


ROWS = _rows()
QUANTIFIED = [row for row in ROWS if not row.printed_load.startswith("<")]
BELOW = [row for row in ROWS if row.printed_load.startswith("<")]


def test_fixture_holds_the_whole_series() -> None:
    assert len(ROWS) == 26
    assert len(QUANTIFIED) == 22
    assert len(BELOW) == 4
    assert ROWS[0] == Row(dt.date(2022, 11, 14), "5951", Decimal("3.77458995"))
    assert ROWS[-1].sampled_on == dt.date(2022, 4, 19)
    dates = [row.sampled_on for row in ROWS]
    assert dates == sorted(dates, reverse=True)
    assert len(set(dates)) == len(dates)


@pytest.mark.parametrize("row", QUANTIFIED, ids=lambda row: row.printed_load)
def test_log10_matches_the_printed_value_to_eight_decimals(row: Row) -> None:
    parsed = parse_lab_result(row.printed_load, LoadUnit.COPIES_PER_ML, lloq=LLOQ)
    assert parsed.state is ResultState.QUANTIFIED
    assert parsed.value == Decimal(row.printed_load)
    assert parsed.log10 is not None
    # The spreadsheet drops trailing zeros (5,2307758 is 5.23077580).
    assert parsed.log10.quantize(Decimal("1e-8")) == row.printed_log10
    assert log10_load(parsed.value, places=8) == row.printed_log10


def test_the_seed_example_5951() -> None:
    assert log10_load(5951, places=8) == Decimal("3.77458995")
    assert str(log10_load(Decimal(5951), places=8)) == "3.77458995"


@pytest.mark.parametrize("row", BELOW, ids=lambda row: row.sampled_on.isoformat())
def test_below_62_is_below_lloq_and_has_no_log10(row: Row) -> None:
    parsed = parse_lab_result(row.printed_load, LoadUnit.COPIES_PER_ML, lloq=LLOQ)
    assert parsed.state is ResultState.BELOW_LLOQ
    assert parsed.value == LLOQ
    assert parsed.reported_bound is Comparator.BELOW
    assert parsed.quantified_value is None
    # The spreadsheet printed 0; a log10 of a non-quantified result does not exist.
    assert row.printed_log10 == 0
    assert parsed.log10 is None
