"""The registry of report section builders: `reports/*.yaml` names a section
kind, and the module that draws that kind registers it here with `@section`."""

from __future__ import annotations

from collections.abc import Callable

from reportlab.platypus import Flowable

from trialdb.reporting.context import ReportContext
from trialdb.reporting.definitions import SectionDefinition

Builder = Callable[[ReportContext, SectionDefinition], list[Flowable]]
BUILDERS: dict[str, Builder] = {}


def section(kind: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        BUILDERS[kind] = builder
        return builder
    return register
