from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trialdb.errors import InvalidInput
from trialdb.study.viral_load import (
    MAX_PLAUSIBLE_LOAD,
    Comparator,
    ParsedLoad,
    log10_load,
    parse_lab_result,
    parse_unit,
    to_iu_per_ml,
    validate_copies_per_iu,
)
from trialdb.vocab import LoadUnit, ResultState

ND = ResultState.NOT_DETECTED
BELOW = ResultState.BELOW_LLOQ
QUANT = ResultState.QUANTIFIED
CP = LoadUnit.COPIES_PER_ML
IU = LoadUnit.IU_PER_ML
LT = Comparator.BELOW
GT = Comparator.ABOVE
NBSP = "\u00a0"
NNBSP = "\u202f"
THIN = "\u2009"


def D(text: str) -> Decimal:  # noqa: N802 - reads like the Decimal constructor
    return Decimal(text)


# text -> (state, value, unit in the text, reported bound)
ACCEPTED: list[tuple[str, ResultState, Decimal | None, LoadUnit | None, Comparator | None]] = [
    # quantified values as printed
    ("5951", QUANT, D("5951"), None, None),
    ("  5951  ", QUANT, D("5951"), None, None),
    ("76", QUANT, D("76"), None, None),
    ("170128", QUANT, D("170128"), None, None),
    ("1,2E+04", QUANT, D("12000"), None, None),
    ("1.2e4", QUANT, D("12000"), None, None),
    ("1,2e+4", QUANT, D("12000"), None, None),
    ("1.2E04", QUANT, D("12000"), None, None),
    ("1,2 E+04", QUANT, D("12000"), None, None),
    ("3.5E+02", QUANT, D("350"), None, None),
    ("1,234E+03", QUANT, D("1234"), None, None),
    ("2E3", QUANT, D("2000"), None, None),
    ("1 360", QUANT, D("1360"), None, None),
    (f"1{NBSP}360", QUANT, D("1360"), None, None),
    (f"1{NNBSP}360", QUANT, D("1360"), None, None),
    (f"1{THIN}360", QUANT, D("1360"), None, None),
    ("1 360 000", QUANT, D("1360000"), None, None),
    (f"12{NNBSP}345{NNBSP}678", QUANT, D("12345678"), None, None),
    ("1 360,5", QUANT, D("1360.5"), None, None),
    ("12,5", QUANT, D("12.5"), None, None),
    ("12.5", QUANT, D("12.5"), None, None),
    ("0,5", QUANT, D("0.5"), None, None),
    ("0.125", QUANT, D("0.125"), None, None),
    ("5951,0", QUANT, D("5951"), None, None),
    ("007", QUANT, D("7"), None, None),
    ("5951 copies/mL", QUANT, D("5951"), CP, None),
    ("5951copies/ml", QUANT, D("5951"), CP, None),
    ("5951 cp/mL", QUANT, D("5951"), CP, None),
    ("5951 CP/ML", QUANT, D("5951"), CP, None),
    ("5951 copie/mL", QUANT, D("5951"), CP, None),
    ("5951 cps/mL", QUANT, D("5951"), CP, None),
    ("5951 copies / mL", QUANT, D("5951"), CP, None),
    ("5951 UI/mL", QUANT, D("5951"), IU, None),
    ("5951 IU/mL", QUANT, D("5951"), IU, None),
    ("5951 UI/ml", QUANT, D("5951"), IU, None),
    ("5951 iu/ml", QUANT, D("5951"), IU, None),
    ("détecté 5951", QUANT, D("5951"), None, None),
    ("5951 (positif)", QUANT, D("5951"), None, None),
    # above the upper limit of quantification: quantified at the bound, flagged
    (">1E+07", QUANT, D("10000000"), None, GT),
    ("> 1E+07 copies/mL", QUANT, D("10000000"), CP, GT),
    ("> 10 000 000 UI/mL", QUANT, D("10000000"), IU, GT),
    (">1,0E+08", QUANT, D("100000000"), None, GT),
    # below the quantification limit
    ("<62", BELOW, D("62"), None, LT),
    ("< 62", BELOW, D("62"), None, LT),
    ("< 62 copies/mL", BELOW, D("62"), CP, LT),
    ("<62 UI/mL", BELOW, D("62"), IU, LT),
    ("<34,5 UI/mL", BELOW, D("34.5"), IU, LT),
    ("<2,0E+01", BELOW, D("20"), None, LT),
    ("détecté <62", BELOW, D("62"), None, LT),
    ("<62 détecté", BELOW, D("62"), None, LT),
    ("positif (<62)", BELOW, D("62"), None, LT),
    ("DNQ <62", BELOW, D("62"), None, LT),
    ("détecté <LLOQ", BELOW, None, None, None),
    ("Détecté < LLOQ", BELOW, None, None, None),
    ("détecté < seuil", BELOW, None, None, None),
    ("Détecté < seuil de quantification", BELOW, None, None, None),
    ("detected <LLOQ", BELOW, None, None, None),
    ("detected below the LLOQ", BELOW, None, None, None),
    ("détecté, inférieur au seuil", BELOW, None, None, None),
    ("détecté <LQ", BELOW, None, None, None),
    ("<LLOQ", BELOW, None, None, None),
    ("< seuil", BELOW, None, None, None),
    ("positif non quantifiable", BELOW, None, None, None),
    ("Positif non quantifiable", BELOW, None, None, None),
    ("détecté non quantifiable", BELOW, None, None, None),
    ("detected, not quantifiable", BELOW, None, None, None),
    ("DNQ", BELOW, None, None, None),
    ("dnq", BELOW, None, None, None),
    ("non quantifiable", BELOW, None, None, None),
    ("détecté <LLOQ copies/mL", BELOW, None, CP, None),
    # not detected
    ("ND", ND, None, None, None),
    ("nd", ND, None, None, None),
    ("N.D.", ND, None, None, None),
    ("non détecté", ND, None, None, None),
    ("Non detecte", ND, None, None, None),
    ("NON DÉTECTÉ", ND, None, None, None),
    ("non-détecté", ND, None, None, None),
    ("non détectée", ND, None, None, None),
    ("non détectable", ND, None, None, None),
    ("indétectable", ND, None, None, None),
    ("Indetectable", ND, None, None, None),
    ("négatif", ND, None, None, None),
    ("negatif", ND, None, None, None),
    ("négative", ND, None, None, None),
    ("not detected", ND, None, None, None),
    ("Not Detected", ND, None, None, None),
    ("undetectable", ND, None, None, None),
    ("Target Not Detected", ND, None, None, None),
    ("TND", ND, None, None, None),
    ("ND (<62)", ND, None, None, None),
    ("<62 non détecté", ND, None, None, None),
    ("non détecté < 62 copies/mL", ND, None, CP, None),
    ("< seuil de détection", ND, None, None, None),
    ("<LOD", ND, None, None, None),
    ("non détecté (< seuil de détection)", ND, None, None, None),
    ("ND UI/mL", ND, None, IU, None),
]


@pytest.mark.parametrize(("text", "state", "value", "unit", "bound"), ACCEPTED)
def test_accepted_forms(
    text: str,
    state: ResultState,
    value: Decimal | None,
    unit: LoadUnit | None,
    bound: Comparator | None,
) -> None:
    parsed = parse_lab_result(text)
    assert parsed == ParsedLoad(state, value, unit, bound)
    assert parsed.text == text
    if value is not None:
        assert parsed.value is not None
        assert parsed.value.as_tuple().exponent == value.as_tuple().exponent


REFUSED: list[tuple[str, str]] = [
    ("", "empty"),
    ("   ", "empty"),
    (f"{NBSP}", "empty"),
    ("garbage", "not understood"),
    ("positif", "gives no value"),
    ("détecté", "gives no value"),
    ("detected", "gives no value"),
    ("copies/mL", "No result"),
    ("3,5 log", "log10"),
    ("3.5 log10", "log10"),
    ("log 3,5", "log10"),
    ("Log copies/mL 3,77", "log10"),
    ("-5", "negative"),
    ("- 5951", "negative"),
    ("\u22125951", "negative"),
    ("+5951", "'+'"),
    ("0", "0 is not a viral load"),
    ("0,0", "0 is not a viral load"),
    ("<0", "0 is not a viral load"),
    ("0E+5", "0 is not a viral load"),
    ("1,2,3", "More than one number"),
    ("1.2.3", "More than one number"),
    ("1.360,5", "More than one number"),
    ("13 60", "More than one number"),
    ("1 3600", "More than one number"),
    ("5951 6000", "More than one number"),
    ("<62 5951", "More than one number"),
    ("1,234", "ambiguous"),
    ("1.234", "ambiguous"),
    ("62,000", "ambiguous"),
    ("999.999", "ambiguous"),
    ("NaN", "not understood"),
    ("nan", "not understood"),
    ("inf", "not understood"),
    ("-inf", "not understood"),
    ("Infinity", "not understood"),
    ("1E+12", "not a plausible"),
    ("5E+20", "not a plausible"),
    ("1 000 000 000 000", "not a plausible"),
    ("ND 5951", "contradictory"),
    ("5951 non détecté", "contradictory"),
    ("DNQ 5951", "contradictory"),
    (">1E+07 non détecté", "contradictory"),
    (">1E+07 DNQ", "contradictory"),
    ("détecté < seuil de détection", "contradictory"),
    ("DNQ <LOD", "contradictory"),
    ("détecté <LLOQ 62", "contradictory"),
    ("5951 copies/mL UI/mL", "Two different units"),
    ("5951 c/mL", "not understood"),
    ("5951 copies", "not understood"),
    ("≤62", "not understood"),
    ("≮62", "not understood"),
    ("5951\u200b", "not understood"),
    ("5951²", "not understood"),
    ("1,2 x 10^4", "More than one number"),
    ("<>62", "not understood"),
    ("62e", "not understood"),
]


@pytest.mark.parametrize(("text", "fragment"), REFUSED)
def test_refused_forms_say_why_and_what_is_accepted(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lab_result(text)
    error = raised.value
    assert fragment in error.messages["en"]
    assert "Accepted:" in error.messages["en"]
    assert "Formes acceptées" in error.messages["fr"]
    assert error.status == 422


def test_french_message_is_french() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lab_result("3,5 log")
    assert "log10 est calculé par le système" in raised.value.message("fr")
    assert "log10 is computed by the system" in raised.value.message("en")


# --- units ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        ("5951", CP, CP),
        ("5951", IU, IU),
        ("5951", "copies/mL", CP),
        ("5951", "UI/mL", IU),
        ("5951", "cp/ml", CP),
        ("5951", "", None),
        ("5951", "  ", None),
        ("5951 copies/mL", CP, CP),
        ("5951 cp/mL", "copies/mL", CP),
        ("5951 UI/mL", IU, IU),
        ("5951 IU/mL", "UI/mL", IU),
        ("<62 copies/ml", CP, CP),
        ("ND", CP, CP),
        ("DNQ", IU, IU),
        ("5951 UI/mL", None, IU),
    ],
)
def test_separate_unit_is_used_and_must_agree(
    text: str, given: LoadUnit | str | None, expected: LoadUnit | None
) -> None:
    assert parse_lab_result(text, given).unit is expected


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("5951 copies/mL", IU),
        ("5951 cp/mL", "UI/mL"),
        ("5951 UI/mL", CP),
        ("<62 IU/mL", "copies/mL"),
        ("ND copies/mL", IU),
    ],
)
def test_unit_in_text_disagreeing_with_given_unit_is_refused(
    text: str, given: LoadUnit | str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lab_result(text, given)
    assert raised.value.field == "unit"
    assert "differs from the unit given" in raised.value.messages["en"]
    assert "diffère de l'unité indiquée" in raised.value.messages["fr"]


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("copies/mL", CP), ("Copies/ml", CP), ("cp/mL", CP), ("cps/mL", CP), ("copie/mL", CP),
        ("UI/mL", IU), ("IU/mL", IU), ("ui/ml", IU), (" UI / mL ", IU),
        (CP, CP), (IU, IU), (CP.value, CP), (IU.value, IU),
    ],
)  # fmt: skip
def test_parse_unit(text: str, unit: LoadUnit) -> None:
    assert parse_unit(text) is unit


@pytest.mark.parametrize("text", ["", "copies", "mL", "log copies/mL", "UI", "g/L", "copies/L"])
def test_parse_unit_refuses_unknown_units(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_unit(text)
    assert raised.value.field == "unit"
    assert "copies/mL" in raised.value.messages["fr"]


def test_unknown_separate_unit_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_lab_result("5951", "copies")


# --- the assay's LLOQ -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lloq", "expected"),
    [
        ("<62", 62, ParsedLoad(BELOW, D("62"), None, LT)),
        ("<62", Decimal("62.0"), ParsedLoad(BELOW, D("62"), None, LT)),
        ("<62", 62.0, ParsedLoad(BELOW, D("62"), None, LT)),
        ("<34,5", 34.5, ParsedLoad(BELOW, D("34.5"), None, LT)),
        ("62", 62, ParsedLoad(QUANT, D("62"), None, None)),
        ("76", 62, ParsedLoad(QUANT, D("76"), None, None)),
        (">1E+07", 62, ParsedLoad(QUANT, D("1E+7"), None, GT)),
        ("détecté <LLOQ", 62, ParsedLoad(BELOW, D("62"), None, LT)),
        ("DNQ", Decimal("34.5"), ParsedLoad(BELOW, D("34.5"), None, LT)),
        ("positif non quantifiable", 62, ParsedLoad(BELOW, D("62"), None, LT)),
        ("ND", 62, ParsedLoad(ND, None, None, None)),
        # A not-detected result may print the detection limit, not the LLOQ.
        ("ND (<20)", 62, ParsedLoad(ND, None, None, None)),
        ("< seuil de détection", 62, ParsedLoad(ND, None, None, None)),
    ],
)
def test_lloq_given(text: str, lloq: Decimal | int | float, expected: ParsedLoad) -> None:
    assert parse_lab_result(text, lloq=lloq) == expected


@pytest.mark.parametrize(
    ("text", "lloq", "fragment"),
    [
        ("61", 62, "below the assay's LLOQ"),
        ("10", 62, "below the assay's LLOQ"),
        ("34", Decimal("34.5"), "below the assay's LLOQ"),
        (">50", 62, "below the assay's LLOQ"),
        ("<50", 62, "differs from the assay's LLOQ"),
        ("<100", 62, "differs from the assay's LLOQ"),
        ("détecté <35", 62, "differs from the assay's LLOQ"),
    ],
)
def test_inconsistent_with_lloq_is_refused(
    text: str, lloq: Decimal | int, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lab_result(text, lloq=lloq)
    assert fragment in raised.value.messages["en"]
    assert "LLOQ" in raised.value.messages["fr"]


@pytest.mark.parametrize(
    "lloq", [0, -1, Decimal("-62"), Decimal("NaN"), Decimal("Infinity"), math.nan, math.inf, True]
)
def test_invalid_lloq_is_refused(lloq: Decimal | int | float) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lab_result("5951", lloq=lloq)
    assert "LLOQ" in raised.value.messages["en"]


# --- ParsedLoad -----------------------------------------------------------------------


def test_parsed_load_properties() -> None:
    quantified = parse_lab_result("5951")
    assert quantified.quantified_value == 5951
    assert quantified.log10 == log10_load(5951)
    assert not quantified.above_uloq
    above = parse_lab_result(">1E+07")
    assert above.above_uloq
    assert above.quantified_value == Decimal("1E+7")
    assert above.log10 == 7
    below = parse_lab_result("<62")
    assert below.quantified_value is None
    assert below.log10 is None
    assert not below.above_uloq
    not_detected = parse_lab_result("ND")
    assert not_detected.value is None
    assert not_detected.log10 is None


def test_parsed_load_is_frozen_and_ignores_text_in_equality() -> None:
    parsed = parse_lab_result("5951")
    with pytest.raises(AttributeError):
        parsed.value = Decimal(1)  # type: ignore[misc]
    assert parsed == parse_lab_result(" 5951 ")
    assert hash(parsed) == hash(parse_lab_result("5951,0"))


# --- properties ------------------------------------------------------------------------

_LAB_ALPHABET = st.sampled_from(
    [
        *"0123456789<>,.eE+-− /()",
        *(NBSP, NNBSP, "ND", "log", "copies/mL", "UI/mL", "détecté", "non", "seuil", "LLOQ"),
        *("DNQ", "positif"),
    ]
)


@given(st.text())
@example("1e999")
@example("0." + "0" * 100 + "1")
@example("9" * 200)
@example("1" + "0" * 40 + ",5")
def test_parse_never_raises_anything_but_invalid_input(text: str) -> None:
    try:
        parsed = parse_lab_result(text)
    except InvalidInput as error:
        assert error.messages["en"]
        assert error.messages["fr"]
        return
    _assert_consistent(parsed)


@given(st.lists(_LAB_ALPHABET, max_size=8).map("".join), st.sampled_from([None, 62, 34.5]))
def test_parse_lab_like_text_never_raises_anything_but_invalid_input(
    text: str, lloq: int | float | None
) -> None:
    try:
        parsed = parse_lab_result(text, lloq=lloq)
    except InvalidInput:
        return
    _assert_consistent(parsed)
    if lloq is not None and parsed.value is not None:
        assert parsed.value >= Decimal(str(lloq))


def _assert_consistent(parsed: ParsedLoad) -> None:
    if parsed.state is ResultState.QUANTIFIED:
        assert parsed.value is not None
        assert 0 < parsed.value < MAX_PLAUSIBLE_LOAD
        assert parsed.reported_bound in (None, GT)
    elif parsed.state is ResultState.BELOW_LLOQ:
        assert parsed.reported_bound is (None if parsed.value is None else LT)
    else:
        assert parsed.value is None
        assert parsed.reported_bound is None


@given(st.integers(min_value=1, max_value=10**11))
def test_integers_round_trip_plain_and_grouped(number: int) -> None:
    assert parse_lab_result(str(number)).value == number
    grouped = f"{number:,}".replace(",", NNBSP)
    assert parse_lab_result(grouped).value == number
    assert parse_lab_result(f"{number} copies/mL", CP) == ParsedLoad(QUANT, Decimal(number), CP)


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9.99"), places=2),
       st.integers(min_value=0, max_value=10))
def test_scientific_notation_with_comma_or_point(mantissa: Decimal, exponent: int) -> None:
    expected = mantissa.scaleb(exponent)
    for separator in (",", "."):
        text = f"{mantissa}".replace(".", separator) + f"E+{exponent:02d}"
        assert parse_lab_result(text).value == expected


@given(st.integers(min_value=1, max_value=10**6))
def test_below_bound_round_trip(bound: int) -> None:
    assert parse_lab_result(f"<{bound}") == ParsedLoad(BELOW, Decimal(bound), None, LT)
    assert parse_lab_result(f"<{bound}", lloq=bound).value == bound


# --- log10 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, D("0")),
        (10, D("1")),
        (1000, D("3")),
        (Decimal("1E+7"), D("7")),
        (Decimal("0.1"), D("-1")),
        (Decimal("0.001"), D("-3")),
        (100.0, D("2")),
        (0.1, D("-1")),
    ],
)
def test_log10_of_powers_of_ten_is_exact(value: Decimal | int | float, expected: Decimal) -> None:
    assert log10_load(value) == expected


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (2, 8, D("0.30103000")),
        (62, 8, D("1.79239169")),
        (5951, 0, D("4")),
        (5951, 2, D("3.77")),
        (170128, 8, D("5.23077580")),
        (Decimal("1360"), 4, D("3.1335")),
    ],
)
def test_log10_rounded_for_display(value: int | Decimal, places: int, expected: Decimal) -> None:
    result = log10_load(value, places=places)
    assert result == expected
    assert result.as_tuple().exponent == -places


def test_log10_carries_many_digits() -> None:
    assert str(log10_load(2)) == "0.3010299956639811952137388947244930"


@pytest.mark.parametrize("places", [-1, 21])
def test_log10_places_out_of_range_is_a_programming_error(places: int) -> None:
    with pytest.raises(ValueError, match="places"):
        log10_load(10, places=places)


@pytest.mark.parametrize(
    "value", [0, -1, Decimal(0), Decimal("-5"), Decimal("NaN"), Decimal("-Infinity"),
              math.nan, math.inf, -0.0, True, "5951"],
)  # fmt: skip
def test_log10_refuses_what_is_not_a_positive_load(value: object) -> None:
    with pytest.raises(InvalidInput):
        log10_load(value)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=10**12))
def test_log10_of_an_integer_equals_math_log10(value: int) -> None:
    assert math.isclose(float(log10_load(value)), math.log10(value), rel_tol=0, abs_tol=1e-12)


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1E+11"),
                   allow_nan=False, allow_infinity=False))
def test_log10_of_a_decimal_equals_math_log10(value: Decimal) -> None:
    if value <= 0:
        return
    assert math.isclose(float(log10_load(value)), math.log10(value), rel_tol=0, abs_tol=1e-12)


@given(st.floats(min_value=1e-3, max_value=1e11))
def test_log10_of_a_float_equals_math_log10(value: float) -> None:
    assert math.isclose(float(log10_load(value)), math.log10(value), rel_tol=0, abs_tol=1e-12)


@given(st.text(alphabet="0123456789", min_size=1, max_size=11))
def test_log10_of_a_parsed_quantified_value_equals_math_log10(digits: str) -> None:
    try:
        parsed = parse_lab_result(digits)
    except InvalidInput:
        assert int(digits) == 0
        return
    assert parsed.log10 is not None
    assert math.isclose(float(parsed.log10), math.log10(int(digits)), abs_tol=1e-12)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**9))
def test_log10_of_a_product_is_the_sum(a: int, b: int) -> None:
    with localcontext() as context:
        context.prec = 60  # add without rounding; each log10 is correct to 34 digits
        assert abs(log10_load(a * b) - (log10_load(a) + log10_load(b))) < Decimal("1E-31")


# --- copies to IU ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "factor", "expected"),
    [
        # 1 IU = factor copies, so IU/mL = copies/mL / factor.
        (Decimal(1560), CP, Decimal("1.56"), Decimal(1000)),
        (Decimal(1000), CP, Decimal("0.5"), Decimal(2000)),
        (Decimal(2200), CP, Decimal("2.2"), Decimal(1000)),
        (Decimal(62), CP, Decimal(2), Decimal(31)),
        (1000, CP, 0.4, Decimal(2500)),
        (Decimal(5951), CP, Decimal(1), Decimal(5951)),
        # Already in IU/mL: returned as is, with or without a factor.
        (Decimal(5951), IU, None, Decimal(5951)),
        (Decimal(5951), IU, Decimal("1.56"), Decimal(5951)),
        (Decimal(5951), "UI/mL", None, Decimal(5951)),
        # No factor: unknown, never a constant.
        (Decimal(5951), CP, None, None),
        (Decimal(5951), "copies/mL", None, None),
    ],
)
def test_to_iu_per_ml(
    value: Decimal | int,
    unit: LoadUnit | str,
    factor: Decimal | float | None,
    expected: Decimal | None,
) -> None:
    assert to_iu_per_ml(value, unit, factor) == expected


def test_to_iu_per_ml_keeps_precision() -> None:
    result = to_iu_per_ml(Decimal(5951), CP, Decimal("1.8"))
    assert result is not None
    assert abs(result * Decimal("1.8") - 5951) < Decimal("1E-20")


@pytest.mark.parametrize(
    "factor",
    [Decimal("0.1"), Decimal("0.05"), Decimal(10), Decimal(11), Decimal(0), Decimal(-1),
     Decimal("NaN"), Decimal("Infinity"), 0.1, 10.0, 100, math.nan, True],
)  # fmt: skip
def test_implausible_factor_is_refused_even_for_iu(factor: Decimal | float | int) -> None:
    for unit in (CP, IU):
        with pytest.raises(InvalidInput):
            to_iu_per_ml(Decimal(5951), unit, factor)


def test_implausible_factor_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_copies_per_iu(Decimal(20))
    assert raised.value.field == "copies_per_iu"
    assert "between 0.1 and 10" in raised.value.messages["en"]
    assert "entre 0.1 et 10" in raised.value.messages["fr"]


@pytest.mark.parametrize("factor", [Decimal("0.11"), Decimal("0.4"), Decimal("2.2"), 9.99, 1])
def test_plausible_factors(factor: Decimal | float | int) -> None:
    assert validate_copies_per_iu(factor) == Decimal(str(factor))


@pytest.mark.parametrize("value", [0, -1, Decimal("NaN"), math.inf])
def test_to_iu_per_ml_refuses_non_positive_loads(value: Decimal | int | float) -> None:
    with pytest.raises(InvalidInput):
        to_iu_per_ml(value, CP, Decimal(1))


def test_to_iu_per_ml_refuses_unknown_unit() -> None:
    with pytest.raises(InvalidInput):
        to_iu_per_ml(Decimal(1), "copies", Decimal(1))


@given(st.decimals(min_value=Decimal(1), max_value=Decimal("1E+10"), places=0),
       st.decimals(min_value=Decimal("0.11"), max_value=Decimal("9.99"), places=2))
def test_conversion_multiplied_back_gives_copies(copies: Decimal, factor: Decimal) -> None:
    iu = to_iu_per_ml(copies, CP, factor)
    assert iu is not None
    assert abs(iu * factor - copies) <= copies * Decimal("1E-25")
