"""Where the study's data folders are, installed or in a source checkout.

A wheel carries forms/, reports/ and migrations/ under trialdb/_data; an
editable install or a checkout reads them from the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"trialdb data folder {name!r} is missing from this installation")


def forms_dir() -> Path:
    return data_dir("forms")


def reports_dir() -> Path:
    return data_dir("reports")


def migrations_dir() -> Path:
    return data_dir("migrations")
