"""Hostile and malformed values for form fields, grids, files and JSON."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SCRIPT = "<script>alert('xss')</script>"
INJECTIONS = [
    SCRIPT, "\"><img src=x onerror=alert(1)>", "javascript:alert(1)", "<svg/onload=alert(1)>",
    "'; DROP TABLE participant; --", "1' OR '1'='1", "1; DELETE FROM audit_event",
    "\" OR 1=1 --", "%s%s%s%n", "{{7*7}}", "${7*7}", "../../etc/passwd", "\x00", "a\x00b",
    "\u202e\u0644\u0627", "\ufeff", "\r\n\r\nSet-Cookie: x=1", "=cmd|' /C calc'!A0",
]
MALFORMED_NUMBERS = ["", " ", "-", "+", ".", "1e309", "-1e309", "NaN", "nan", "inf", "-inf",
                     "Infinity", "1,5", "1.5.5", "0x1F", "1_000", "١٢٣", "１２３", "12abc",
                     "9" * 400, "-0", "00000000001", "1e-400", "²", "½", "−5", "3 4"]
MALFORMED_DATES = ["", "2024-02-30", "2024-13-01", "0000-00-00", "0001-01-01", "9999-12-31",
                   "2024-1-1", "31/12/2024", "32/01/2024", "2024/01/01", "2024-01-01T10:00",
                   "１９９９-01-01", "yesterday", "2024-02-29", "2023-02-29", "1900-01-01",
                   "-2024-01-01", "2024-01-01 ; DROP TABLE x", "2" * 300]
CHOICES_NOISE = ["", "y", "n", "yes", "no", "true", "false", "1", "0", "on", "off", "unknown",
                 "None", "null", "[]", "{}"]

unicode_text = st.text(st.characters(codec="utf-8"), max_size=60)  # every category but surrogates
huge_text = st.sampled_from(["A" * 5000, "é" * 20000, "<b>" * 3000, "9" * 100000])
hostile_text = st.one_of(st.sampled_from(INJECTIONS), unicode_text, huge_text)


def value_for(kind: str, codes: list[str]) -> st.SearchStrategy[str]:
    """A value for a field of `kind`: plausible or hostile."""
    plausible: list[st.SearchStrategy[str]] = []
    if kind == "date":
        plausible.append(st.dates().map(lambda d: d.isoformat()))
        plausible.append(st.sampled_from(MALFORMED_DATES))
    elif kind in ("int", "float"):
        plausible.append(st.integers(-10**15, 10**15).map(str))
        plausible.append(st.floats(allow_nan=True, allow_infinity=True).map(repr))
        plausible.append(st.sampled_from(MALFORMED_NUMBERS))
    elif kind in ("enum", "assay"):
        plausible.append(st.sampled_from(codes or ["x"]))
    elif kind in ("bool", "yesno", "tristate"):
        plausible.append(st.sampled_from(CHOICES_NOISE))
    return st.one_of(*plausible, hostile_text) if plausible else hostile_text


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                         st.floats(allow_nan=False), hostile_text)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                          st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
