"""Refuse passwords that appear in (or are thin variants of) a list of common ones.

The list ships with the package (`common_passwords.txt`). A password is
refused when, compared case-insensitively, it is in the list, or becomes a
listed word once trailing or leading digits and punctuation are stripped,
once common symbol-for-letter swaps are undone (p@ssw0rd), or when it is a
listed word repeated, a short pattern repeated, or nothing but digits and
punctuation.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SPACES = re.compile(r"[\s\-_.]+")
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s",
                       "5": "s", "7": "t", "+": "t", "|": "l"})


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("trialdb.security").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def _repeats_a_short_unit(text: str, longest_unit: int = 4) -> bool:
    for size in range(1, min(longest_unit, len(text) // 2) + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return True
    return False


def _is_listed_repetition(text: str, listed: frozenset[str]) -> bool:
    for size in range(4, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size] in listed
    return False


def _variants(password: str) -> set[str]:
    lower = password.strip().lower()
    variants = {lower, _SPACES.sub("", lower)}
    for text in list(variants):
        stripped = _EDGES.sub("", text)
        for candidate in (stripped, text.translate(_LEET), stripped.translate(_LEET)):
            variants.add(candidate)
            variants.add(_EDGES.sub("", candidate))
    return variants


def is_common(password: str) -> bool:
    """True when the password is too common (or too predictable) to accept."""
    listed = common_passwords()
    stripped = _EDGES.sub("", password.strip().lower())
    if not stripped:
        return True  # digits and punctuation only
    for text in _variants(password):
        if not text or text in listed or _repeats_a_short_unit(text):
            return True
        if _is_listed_repetition(text, listed):
            return True
    return False
