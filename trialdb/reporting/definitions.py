"""Report definitions: the YAML files in reports/ (which sections, in which
order, with which parameters). The renderers read them; adding, removing or
reordering a section is an edit of the file, not of the code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trialdb.errors import InvalidInput
from trialdb.resources import reports_dir

_REPORT_KEYS = frozenset({"report", "title", "subtitle", "sections"})
_SECTION_KEYS = frozenset({"kind", "title", "params"})


@dataclass(frozen=True)
class Text:
    """A label in English and French."""

    en: str
    fr: str

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True)
class SectionDefinition:
    kind: str
    title: Text | None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportDefinition:
    name: str
    title: Text
    subtitle: Text | None
    sections: tuple[SectionDefinition, ...]

    def section(self, kind: str) -> SectionDefinition | None:
        return next((s for s in self.sections if s.kind == kind), None)


def text(raw: Any, where: str) -> Text:
    if isinstance(raw, str):
        return Text(raw, raw)
    if not isinstance(raw, dict) or set(raw) != {"en", "fr"}:
        raise InvalidInput(f"{where}: expected {{en: ..., fr: ...}}",
                           f"{where} : {{en: ..., fr: ...}} attendu")
    return Text(str(raw["en"]), str(raw["fr"]))


def parse_report(raw: Any, where: str) -> ReportDefinition:
    if not isinstance(raw, dict) or not isinstance(raw.get("sections"), list):
        raise InvalidInput(f"{where}: a report needs a list of sections",
                           f"{where} : un rapport doit avoir une liste de sections")
    unknown = set(raw) - _REPORT_KEYS
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {sorted(unknown)}",
                           f"{where} : clés inconnues {sorted(unknown)}")
    sections = []
    for index, item in enumerate(raw["sections"]):
        if not isinstance(item, dict) or "kind" not in item or set(item) - _SECTION_KEYS:
            raise InvalidInput(f"{where}: section {index + 1} needs 'kind' (and only title, params)",
                               f"{where} : la section {index + 1} doit avoir 'kind' "
                               "(et seulement title, params)")
        sections.append(SectionDefinition(
            kind=str(item["kind"]),
            title=text(item["title"], f"{where}: section {index + 1}") if "title" in item
            else None,
            params=dict(item.get("params") or {}),
        ))
    return ReportDefinition(
        name=str(raw.get("report", where)),
        title=text(raw.get("title", where), f"{where}: title"),
        subtitle=text(raw["subtitle"], f"{where}: subtitle") if raw.get("subtitle") else None,
        sections=tuple(sections),
    )


def load_report(name: str, directory: Path | None = None) -> ReportDefinition:
    """The definition reports/<name>.yaml."""
    path = (directory or reports_dir()) / f"{name}.yaml"
    if not path.is_file():
        raise InvalidInput(f"There is no report definition {name!r}.",
                           f"Il n'y a pas de définition de rapport {name!r}.")
    return parse_report(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
