"""Tables and number formats shared by the reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias
from xml.sax.saxutils import escape

from reportlab.platypus import Paragraph, Table, TableStyle

from trialdb.reporting.styles import FRAME_WIDTH, HEADER_FILL, NAVY, RULE, ZEBRA, styles

#: A table cell: text, or a ready paragraph (ReportLab is untyped, hence Any).
Cell: TypeAlias = Any


def p(value: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text (escaped: data never becomes markup)."""
    return Paragraph(escape(value), getattr(styles(), style))


def markup(value: str, style: str = "body") -> Paragraph:
    """A paragraph of trusted markup written in the code (bold, italics)."""
    return Paragraph(value, getattr(styles(), style))


def n_percent(count: int, total: int) -> str:
    if total <= 0:
        return f"{count}"
    return f"{count} ({100 * count / total:.1f}%)"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}%"


def percent_ci(estimate: float | None, lower: float | None, upper: float | None,
               to: str = "to") -> str:
    """'25.9% (20.7% to 31.3%)'; `to` in the report's language ('à' in French)."""
    return f"{percent(estimate)} ({percent(lower)} {to} {percent(upper)})"


def number(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def median_iqr_text(stats: tuple[float, float, float] | None, digits: int = 0) -> str:
    if stats is None:
        return "–"
    median, q1, q3 = stats
    return f"{median:.{digits}f} [{q1:.{digits}f}–{q3:.{digits}f}]"


def p_value(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}"


def data_table(header: Sequence[str], rows: Sequence[Sequence[Cell]], *,
               widths: Sequence[float] | None = None, numeric_from: int = 1,
               section_rows: Sequence[int] = (), repeat_header: bool = True,
               font_size: float | None = None) -> Table:
    """A table with a shaded header, zebra rows, numbers right-aligned.

    `numeric_from`: columns from this index on are right-aligned.
    `section_rows`: indexes (in `rows`) of sub-heading rows spanning the table.
    """
    sheet = styles()
    cell_style = sheet.cell
    right_style = sheet.cell_right
    if font_size is not None:
        cell_style = cell_style.clone("cell_sized", fontSize=font_size, leading=font_size * 1.25)
        right_style = right_style.clone("right_sized", fontSize=font_size,
                                        leading=font_size * 1.25)

    def cell(value: Cell, column: int) -> Paragraph:
        if isinstance(value, Paragraph):
            return value
        style = right_style if column >= numeric_from else cell_style
        return Paragraph(escape(value).replace("\n", "<br/>"), style)

    head = [Paragraph(escape(h).replace("\n", "<br/>"), sheet.cell_head.clone(
        "head_right", alignment=2) if i >= numeric_from else sheet.cell_head)
        for i, h in enumerate(header)]
    body = [[cell(v, i) for i, v in enumerate(row)] for row in rows]
    columns = len(header)
    if widths is None:
        first = FRAME_WIDTH * (0.34 if columns > 2 else 0.6)
        rest = (FRAME_WIDTH - first) / max(columns - 1, 1)
        widths = [first] + [rest] * (columns - 1)
    table = Table([head, *body], colWidths=list(widths), repeatRows=1 if repeat_header else 0)
    commands: list[tuple[object, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, NAVY),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    stripe = 0
    for index in range(len(rows)):
        if index in section_rows:
            commands += [("SPAN", (0, index + 1), (-1, index + 1)),
                         ("LINEABOVE", (0, index + 1), (-1, index + 1), 0.4, RULE)]
            if index + 1 < len(rows):  # never leave a sub-heading alone at a page's foot
                commands.append(("NOSPLIT", (0, index + 1), (-1, index + 2)))
            stripe = 0
            continue
        if stripe % 2 == 1:
            commands.append(("BACKGROUND", (0, index + 1), (-1, index + 1), ZEBRA))
        stripe += 1
    table.setStyle(TableStyle(commands))
    return table


def key_value_table(rows: Sequence[tuple[str, Cell]], *, label_width: float = 150) -> Table:
    sheet = styles()
    body = [[Paragraph(escape(k), sheet.cover_label),
             v if isinstance(v, Paragraph) else Paragraph(escape(v), sheet.cover_value)]
            for k, v in rows]
    table = Table(body, colWidths=[label_width, FRAME_WIDTH - label_width])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table
