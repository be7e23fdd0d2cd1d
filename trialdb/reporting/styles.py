"""Fonts, colours, paragraph and table styles shared by every report.

The fonts are DejaVu Sans and DejaVu Sans Mono, which matplotlib ships in
its data folder: always installed with trialdb, they cover French accents
and the symbols a statistical report needs (≥, ≤, ×, –, ₁₀), and they are
embedded (subset) in the PDF, so a page looks the same on every reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

SANS = "TrialSans"
SANS_BOLD = "TrialSans-Bold"
SANS_ITALIC = "TrialSans-Oblique"
SANS_BOLD_ITALIC = "TrialSans-BoldOblique"
MONO = "TrialMono"

_FONT_FILES = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    SANS_ITALIC: "DejaVuSans-Oblique.ttf",
    SANS_BOLD_ITALIC: "DejaVuSans-BoldOblique.ttf",
    MONO: "DejaVuSansMono.ttf",
}


@cache
def register_fonts() -> None:
    """Register the embedded fonts once per process."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, filename in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / filename)))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=SANS_BOLD, italic=SANS_ITALIC,
                                  boldItalic=SANS_BOLD_ITALIC)


# --- colours --------------------------------------------------------------------------------

INK = colors.HexColor("#1B2631")          # body text
NAVY = colors.HexColor("#1F3A5F")         # headings, header band
MUTED = colors.HexColor("#5D6D7E")        # captions, footers
RULE = colors.HexColor("#C9D3DD")         # thin rules and grid lines
ZEBRA = colors.HexColor("#F3F6F9")        # alternate table rows
HEADER_FILL = colors.HexColor("#E4EBF2")  # table header rows
CMV = colors.HexColor("#B03A2E")          # CMV reactivation, the primary event
DEATH = colors.HexColor("#566573")        # death, the competing event
ACCENT = colors.HexColor("#1F7A8C")       # secondary series
WARN_FILL = colors.HexColor("#FDF2E9")    # caveat boxes
WARN_EDGE = colors.HexColor("#E59866")

#: Colours of series in order (sites, subgroups): distinguishable, print-safe.
SERIES = [
    colors.HexColor(h) for h in (
        "#1F7A8C", "#B03A2E", "#7D3C98", "#D68910", "#2E86C1", "#239B56",
        "#873600", "#5D6D7E", "#C0392B", "#17A589", "#6C3483", "#B7950B",
    )
]

#: Virus colours used by every figure that shows viral loads.
VIRUS_COLOURS = {
    "CMV": CMV,
    "TTV": colors.HexColor("#1F7A8C"),
    "redondovirus": colors.HexColor("#7D3C98"),
    "pegivirus": colors.HexColor("#D68910"),
    "EBV": colors.HexColor("#2E86C1"),
    "HHV-6": colors.HexColor("#239B56"),
    "adenovirus": colors.HexColor("#873600"),
}

PAGE_MARGIN = 18 * mm
FRAME_WIDTH = 210 * mm - 2 * PAGE_MARGIN


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    caption: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    cell_head: ParagraphStyle
    cell_mono: ParagraphStyle
    caveat: ParagraphStyle
    cover_label: ParagraphStyle
    cover_value: ParagraphStyle
    mono: ParagraphStyle


@cache
def styles() -> Styles:
    register_fonts()
    base = ParagraphStyle("body", fontName=SANS, fontSize=9.2, leading=12.4, textColor=INK,
                          spaceAfter=4)

    def derive(name: str, **kwargs: Any) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kwargs)

    return Styles(
        title=derive("title", fontName=SANS_BOLD, fontSize=21, leading=26, textColor=NAVY,
                     spaceAfter=8),
        subtitle=derive("subtitle", fontSize=11.5, leading=15, textColor=MUTED, spaceAfter=14),
        h1=derive("h1", fontName=SANS_BOLD, fontSize=14, leading=18, textColor=NAVY,
                  spaceBefore=4, spaceAfter=8),
        h2=derive("h2", fontName=SANS_BOLD, fontSize=10.5, leading=14, textColor=NAVY,
                  spaceBefore=8, spaceAfter=4),
        body=base,
        small=derive("small", fontSize=7.8, leading=10),
        caption=derive("caption", fontName=SANS_ITALIC, fontSize=7.8, leading=10,
                       textColor=MUTED, spaceBefore=2, spaceAfter=8),
        cell=derive("cell", fontSize=7.8, leading=9.6, spaceAfter=0, alignment=TA_LEFT),
        cell_right=derive("cell_right", fontSize=7.8, leading=9.6, spaceAfter=0,
                          alignment=TA_RIGHT),
        cell_head=derive("cell_head", fontName=SANS_BOLD, fontSize=7.8, leading=9.6,
                         spaceAfter=0, textColor=NAVY),
        cell_mono=derive("cell_mono", fontName=MONO, fontSize=7.2, leading=9.2, spaceAfter=0),
        caveat=derive("caveat", fontSize=8.4, leading=11, backColor=WARN_FILL,
                      borderColor=WARN_EDGE, borderWidth=0.6, borderPadding=5,
                      spaceBefore=6, spaceAfter=10),
        cover_label=derive("cover_label", fontSize=8.6, textColor=MUTED, spaceAfter=0),
        cover_value=derive("cover_value", fontSize=9.6, spaceAfter=0),
        mono=derive("mono", fontName=MONO, fontSize=7.6, leading=9.6),
    )


CENTER = TA_CENTER
