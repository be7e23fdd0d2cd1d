"""The last check before data leave: refuse anything that could identify a person.

Runs on every dataset of every export, whatever built it. A column is
refused when its name says it holds an identity (name, initials, birth,
address, telephone, e-mail, hospital or social-security number) or a
calendar date (``*_on``, ``*_at``, ``*date*``), when it holds date or
datetime values, or when one of its text values looks like a date, an
e-mail address, a telephone number, a social-security number or a person's
name after a title (M., Mme, Dr...). Only distinct values are examined, so
the cost follows the number of different codes, not of rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

import pandas as pd

from trialdb.errors import InvalidInput
from trialdb.exports.datasets import Dataset

_IDENTITY_WORDS: Final = (
    "name", "names", "nom", "prenom", "firstname", "lastname", "surname", "initial", "initials",
    "birth", "birthdate", "dob", "naissance", "address", "adresse", "phone", "telephone", "tel",
    "email", "mail", "ipp", "nip", "mrn", "hospital", "ssn", "nir", "insee", "postcode", "zip",
)  # fmt: skip
_IDENTITY_NAME: Final = re.compile(rf"(?:^|_)(?:{'|'.join(_IDENTITY_WORDS)})(?:_|$)", re.IGNORECASE)
_DATE_NAME: Final = re.compile(r"(?:_on$|_at$|(?:^|_)dates?(?:_|$)|(?:^|_)dt(?:_|$))", re.IGNORECASE)

_VALUE_PATTERNS: Final = (
    ("a calendar date", "une date calendaire",
     re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b|\b(?:19|20)\d{2}-\d{1,2}-\d{1,2}\b")),
    ("an e-mail address", "une adresse électronique", re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")),
    ("a telephone number", "un numéro de téléphone",
     re.compile(r"(?:\+33\s?|\b0)[1-9](?:[\s.-]?\d{2}){4}\b")),
    ("a social-security number", "un numéro de sécurité sociale",
     re.compile(r"\b[12]\s?\d{2}\s?\d{2}\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?\b")),
    ("a person's name after a title", "un nom de personne après une civilité",
     re.compile(r"\b(?:M|Mme|Mlle|Mr|Mrs|Ms|Dr|Pr|Monsieur|Madame)\.?\s+[A-ZÀ-Ý][a-zà-ÿ'-]+")),
)


@dataclass(frozen=True)
class Finding:
    dataset: str
    column: str
    problem_en: str
    problem_fr: str


def scan_frame(dataset_name: str, frame: pd.DataFrame) -> list[Finding]:
    findings: list[Finding] = []
    for column in frame.columns:
        name = str(column)
        if _IDENTITY_NAME.search(name):
            findings.append(Finding(dataset_name, name, "its name says it identifies a person",
                                    "son nom indique qu'elle identifie une personne"))
            continue
        if _DATE_NAME.search(name):
            findings.append(Finding(dataset_name, name, "its name says it holds calendar dates",
                                    "son nom indique qu'elle contient des dates calendaires"))
            continue
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            findings.append(Finding(dataset_name, name, "it holds calendar dates",
                                    "elle contient des dates calendaires"))
            continue
        if series.dtype != object:
            continue
        values = series.dropna().unique()
        if any(isinstance(v, dt.date) for v in values):
            findings.append(Finding(dataset_name, name, "it holds calendar dates",
                                    "elle contient des dates calendaires"))
            continue
        for en, fr, pattern in _VALUE_PATTERNS:
            hit = next((str(v) for v in values if isinstance(v, str) and pattern.search(v)), None)
            if hit is not None:
                findings.append(Finding(dataset_name, name, f"a value looks like {en}",
                                        f"une valeur ressemble à {fr}"))
                break
    return findings


def scan(datasets: list[Dataset]) -> None:
    """Raise InvalidInput naming every refused column; nothing is written then."""
    findings = [f for d in datasets for f in scan_frame(d.spec.name, d.frame)]
    if findings:
        en = "; ".join(f"{f.dataset}.{f.column}: {f.problem_en}" for f in findings)
        fr = "; ".join(f"{f.dataset}.{f.column} : {f.problem_fr}" for f in findings)
        raise InvalidInput(
            f"Export refused, it could identify a person: {en}.",
            f"Export refusé, il pourrait identifier une personne : {fr}.",
        )
