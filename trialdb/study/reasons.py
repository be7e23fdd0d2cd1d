"""Bilingual reasons carried by the study rules' decisions."""

from __future__ import annotations


class Bilingual:
    """Mixin for decision items that carry the same reason in French and English.

    Subclasses are dataclasses declaring `en` and `fr` fields.
    """

    en: str
    fr: str

    def message(self, language: str = "fr") -> str:
        """The reason in `language` ('fr' or 'en'); English for any other language."""
        return self.fr if language == "fr" else self.en
