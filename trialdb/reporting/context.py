"""What a report is rendered from: the data's provenance, scope and language."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from trialdb.reporting.definitions import Text
from trialdb.reporting.facts import Scope


@dataclass(frozen=True)
class Provenance:
    """Where the data come from and who asked for the document.

    `generated_at` is printed as the time of generation and written as the
    PDF's creation date: for a snapshot it is the snapshot's freezing time
    unless given, so that the same snapshot always gives the same bytes.
    """

    cut_off: datetime
    generated_by: str
    generated_at: datetime
    snapshot_id: int | None = None
    snapshot_label: str | None = None
    content_hash: str | None = None
    frozen_by: str | None = None
    participant_count: int | None = None


@dataclass(frozen=True)
class Language:
    """Only the language: for documents that read no data (the blank CRF)."""

    language: str = "en"

    def t(self, en: str, fr: str) -> str:
        return fr if self.language == "fr" else en


@dataclass
class ReportContext:
    session: Session
    provenance: Provenance
    scope: Scope = field(default_factory=Scope)
    language: str = "en"
    cache: dict[str, Any] = field(default_factory=dict)

    def t(self, en: str, fr: str) -> str:
        return fr if self.language == "fr" else en

    def text(self, value: Text | None, default_en: str = "", default_fr: str = "") -> str:
        if value is None:
            return self.t(default_en, default_fr)
        return value.get(self.language)


def utc_text(moment: datetime) -> str:
    """A moment as 'YYYY-MM-DD HH:MM UTC' (naive values are taken as UTC)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%d %H:%M UTC")
