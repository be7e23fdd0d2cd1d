"""Assembling a story of flowables into a reproducible PDF.

Reproducible means byte-identical for the same content: ReportLab runs in
invariant mode (no random document ID, no clock), the creation date written
in the document information is the date passed in (a snapshot's freezing
time, never "now"), and every object carries a fixed, content-derived name.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from trialdb.reporting.styles import (
    MUTED,
    NAVY,
    PAGE_MARGIN,
    RULE,
    SANS,
    SANS_BOLD,
    register_fonts,
    styles,
)
from trialdb.reporting.versions import trialdb_version

PAGE_WIDTH, PAGE_HEIGHT = A4


@dataclass(frozen=True)
class DocumentInfo:
    """What every page and the PDF's information dictionary say about the document."""

    title: str
    subject: str
    author: str
    created_at: datetime
    header_left: str
    header_right: str
    footer_left: str
    language: str = "en"
    has_cover: bool = False


def _pdf_date(moment: datetime) -> Callable[..., str]:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = utc.strftime("D:%Y%m%d%H%M%S+00'00'")

    def formatter(*_ignored: Any) -> str:
        return text

    return formatter


def _page_label(language: str, number: int, total: int) -> str:
    return f"Page {number} / {total}" if language == "fr" else f"Page {number} of {total}"


def _numbered_canvas(info: DocumentInfo) -> type[Canvas]:
    """A canvas that knows the page count when it draws each page's footer."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # ReportLab is untyped
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["invariant"] = 1
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []
            self.setDateFormatter(_pdf_date(info.created_at))
            self.setTitle(info.title)
            self.setSubject(info.subject)
            self.setAuthor(info.author)
            self.setCreator(f"trialdb {trialdb_version()}")
            self.setProducer(f"trialdb {trialdb_version()} (ReportLab)")
            self.setKeywords("NCT06058858")

        def showPage(self) -> None:  # noqa: N802 - ReportLab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                _decorate(self, info, self._pageNumber, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def _decorate(canvas: Canvas, info: DocumentInfo, number: int, total: int) -> None:
    """Header rule and running title, footer with page count (not on the cover)."""
    canvas.saveState()
    if info.has_cover and number == 1:
        canvas.setFillColor(NAVY)
        canvas.rect(0, PAGE_HEIGHT - 16 * mm, PAGE_WIDTH, 16 * mm, stroke=0, fill=1)
        canvas.restoreState()
        return
    top = PAGE_HEIGHT - 11 * mm
    canvas.setFont(SANS_BOLD, 7.5)
    canvas.setFillColor(NAVY)
    canvas.drawString(PAGE_MARGIN, top, info.header_left)
    canvas.setFont(SANS, 7.5)
    canvas.setFillColor(MUTED)
    canvas.drawRightString(PAGE_WIDTH - PAGE_MARGIN, top, info.header_right)
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.6)
    canvas.line(PAGE_MARGIN, top - 2.5 * mm, PAGE_WIDTH - PAGE_MARGIN, top - 2.5 * mm)
    bottom = 10 * mm
    canvas.line(PAGE_MARGIN, bottom + 4 * mm, PAGE_WIDTH - PAGE_MARGIN, bottom + 4 * mm)
    canvas.setFont(SANS, 7)
    canvas.drawString(PAGE_MARGIN, bottom, info.footer_left)
    canvas.drawRightString(PAGE_WIDTH - PAGE_MARGIN, bottom,
                           _page_label(info.language, number, total))
    canvas.restoreState()


class _ReportTemplate(BaseDocTemplate):  # type: ignore[misc]  # ReportLab is untyped
    """Registers level-0/1 headings with the table of contents and as PDF outline."""

    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 - ReportLab's name
        if not isinstance(flowable, Paragraph):
            return
        level = {"h1": 0, "h2": 1}.get(flowable.style.name)
        if level is None or getattr(flowable, "_no_toc", False):
            return
        text = flowable.getPlainText()
        key = f"h{self.seq.nextf('heading')}"
        # An outline level may only go one deeper than the previous entry.
        level = min(level, getattr(self, "_outline_level", -1) + 1)
        self._outline_level = level
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
        self.notify("TOCEntry", (level, text, self.page, key))


def table_of_contents(*, compact: bool = False) -> TableOfContents:
    """The contents; `compact` for long lists that should fit one page."""
    sheet = styles()
    if compact:
        toc = TableOfContents(tableStyle=TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    else:
        toc = TableOfContents()
    toc.levelStyles = [
        sheet.body.clone("toc0", fontName=SANS_BOLD, fontSize=9.5, leading=14, leftIndent=0),
        sheet.body.clone("toc1", fontSize=8.6, leading=11.5, leftIndent=12, textColor=MUTED),
    ]
    toc.dotsMinLevel = 0
    return toc


def build_pdf(story: Sequence[Flowable], info: DocumentInfo) -> bytes:
    """Render `story` to PDF bytes; same story and info give the same bytes."""
    register_fonts()
    buffer = io.BytesIO()
    doc = _ReportTemplate(
        buffer, pagesize=A4, title=info.title, author=info.author, subject=info.subject,
        creator=f"trialdb {trialdb_version()}", invariant=1, lang=info.language,
        leftMargin=PAGE_MARGIN, rightMargin=PAGE_MARGIN,
        topMargin=PAGE_MARGIN + 2 * mm, bottomMargin=PAGE_MARGIN,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    has_toc = any(isinstance(f, TableOfContents) for f in story)
    if has_toc:
        doc.multiBuild(list(story), canvasmaker=_numbered_canvas(info))
    else:
        doc.build(list(story), canvasmaker=_numbered_canvas(info))
    return buffer.getvalue()
