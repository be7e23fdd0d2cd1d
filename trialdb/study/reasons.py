"""Bilingual reasons carried by the study rules' decisions."""

from __future__ import annotations

import datetime as dt


class Bilingual:
    """Mixin for decision items that carry the same reason in French and English.

    Subclasses are dataclasses declaring `en` and `fr` fields.
    """

    en: str
    fr: str

    def message(self, language: str = "fr") -> str:
        """The reason in `language` ('fr' or 'en'); English for any other language."""
        return self.fr if language == "fr" else self.en


def fr_date(day: dt.date) -> str:
    """A date as French readers write it: 01/08/2024 (English messages use ISO)."""
    return day.strftime("%d/%m/%Y")
