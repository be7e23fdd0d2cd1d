"""Figures drawn as ReportLab vector graphics.

Every figure is a `reportlab.graphics.shapes.Drawing`: vector, embedded in
the PDF as drawing operators (sharp at any zoom, selectable text), and
deterministic (no renderer state, no timestamps), so a report built twice
from the same data is byte-identical. The functions take plain numbers and
labels: computing what to draw belongs to the section builders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from reportlab.graphics.shapes import (
    Circle,
    Drawing,
    Group,
    Line,
    Polygon,
    PolyLine,
    Rect,
    String,
)
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth

from trialdb.reporting.styles import (
    FRAME_WIDTH,
    HEADER_FILL,
    INK,
    MUTED,
    NAVY,
    RULE,
    SANS,
    SANS_BOLD,
    ZEBRA,
    register_fonts,
)

TICK_FONT_SIZE = 7.0
LABEL_FONT_SIZE = 7.6


# --- scales and ticks ----------------------------------------------------------------------

def nice_step(span: float, target: int) -> float:
    """A round step (1, 2, 2.5 or 5 × 10^k) giving about `target` intervals over `span`."""
    if span <= 0:
        return 1.0
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    step = nice_step(high - low, target)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


def format_tick(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:g}"


@dataclass(frozen=True)
class Scale:
    """Maps data values in [low, high] to drawing coordinates in [start, end]."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, v = self.low, self.high, value
        if self.log:
            low, high, v = math.log10(low), math.log10(high), math.log10(max(value, 1e-300))
        if high == low:
            return self.start
        fraction = (v - low) / (high - low)
        return self.start + fraction * (self.end - self.start)


def _text(x: float, y: float, text: str, *, size: float = TICK_FONT_SIZE, anchor: str = "start",
          colour: Color = INK, bold: bool = False) -> String:
    return String(x, y, text, fontName=SANS_BOLD if bold else SANS, fontSize=size,
                  fillColor=colour, textAnchor=anchor)


def _fit(text: str, width: float, size: float, bold: bool = False) -> str:
    """Shorten `text` with an ellipsis so that it fits in `width` points."""
    font = SANS_BOLD if bold else SANS
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _axes(group: Group, x: Scale, y: Scale, x_ticks: Sequence[float], y_ticks: Sequence[float],
          *, x_label: str, y_label: str, x_format: object = format_tick,
          y_format: object = format_tick) -> None:
    """Grid, axis lines, ticks and axis titles of a rectangular plot area."""
    left, right = x.start, x.end
    bottom, top = y.start, y.end
    for value in y_ticks:
        pos = y(value)
        group.add(Line(left, pos, right, pos, strokeColor=RULE, strokeWidth=0.4))
        label = y_format(value) if callable(y_format) else format_tick(value)
        group.add(_text(left - 4, pos - 2.4, str(label), anchor="end", colour=MUTED))
    for value in x_ticks:
        pos = x(value)
        group.add(Line(pos, bottom, pos, bottom - 3, strokeColor=MUTED, strokeWidth=0.6))
        label = x_format(value) if callable(x_format) else format_tick(value)
        group.add(_text(pos, bottom - 11, str(label), anchor="middle", colour=MUTED))
    group.add(Line(left, bottom, right, bottom, strokeColor=MUTED, strokeWidth=0.8))
    group.add(Line(left, bottom, left, top, strokeColor=MUTED, strokeWidth=0.8))
    group.add(_text((left + right) / 2, bottom - 22, x_label, size=LABEL_FONT_SIZE,
                    anchor="middle"))
    title = _text(0, 0, y_label, size=LABEL_FONT_SIZE, anchor="middle")
    rotated = Group(title)
    rotated.rotate(90)
    rotated.translate((bottom + top) / 2, -(left - 30))
    group.add(rotated)


def _legend(group: Group, items: Sequence[tuple[str, Color]], x: float, y: float,
            width: float, *, line: bool = True) -> float:
    """Legend entries laid out left to right, wrapping; returns the height used."""
    cursor, row = x, 0
    for label, colour in items:
        w = 18 + stringWidth(label, SANS, LABEL_FONT_SIZE) + 12
        if cursor + w > x + width and cursor > x:
            cursor, row = x, row + 1
        yy = y - row * 11
        if line:
            group.add(Line(cursor, yy + 2.6, cursor + 12, yy + 2.6, strokeColor=colour,
                           strokeWidth=1.8))
        else:
            group.add(Rect(cursor + 2, yy, 8, 6, fillColor=colour, strokeColor=None))
        group.add(_text(cursor + 16, yy, label, size=LABEL_FONT_SIZE))
        cursor += w
    return (row + 1) * 11


# --- step curves with bands and numbers at risk -----------------------------------------

@dataclass(frozen=True)
class StepCurve:
    """A right-continuous step function: value[i] holds from time[i] to time[i+1]."""

    label: str
    times: Sequence[float]
    values: Sequence[float]
    colour: Color
    lower: Sequence[float] | None = None
    upper: Sequence[float] | None = None
    dashed: bool = False


def _step_points(times: Sequence[float], values: Sequence[float], x: Scale, y: Scale,
                 until: float) -> list[float]:
    points: list[float] = []
    previous: float | None = None
    for t, v in zip(times, values, strict=True):
        if t > until:
            break
        if previous is not None:
            points += [x(t), y(previous)]
        points += [x(t), y(v)]
        previous = v
    if previous is not None:
        points += [x(until), y(previous)]
    return points


def _band_polygon(times: Sequence[float], lower: Sequence[float], upper: Sequence[float],
                  x: Scale, y: Scale, until: float) -> list[float]:
    top = _step_points(times, upper, x, y, until)
    bottom = _step_points(times, lower, x, y, until)
    back = [coord for i in range(len(bottom) - 2, -1, -2) for coord in bottom[i:i + 2]]
    return top + back


@dataclass(frozen=True)
class AtRiskRow:
    label: str
    colour: Color
    counts: Sequence[int]


def cumulative_incidence_chart(
    curves: Sequence[StepCurve], *, horizon: float, x_label: str, y_label: str,
    at_risk_times: Sequence[float] = (), at_risk: Sequence[AtRiskRow] = (),
    at_risk_title: str = "", width: float = FRAME_WIDTH, plot_height: float = 175,
    y_max: float | None = None, percent: bool = True,
) -> Drawing:
    """Cumulative incidence step curves with confidence bands and a numbers-at-risk table."""
    register_fonts()
    # room on the left for the at-risk labels, clear of the counts centred on day 0
    longest = max((stringWidth(row.label, SANS, TICK_FONT_SIZE) for row in at_risk), default=0.0)
    label_width = max(86.0, min(150.0, 12 + longest + 18))
    risk_height = (len(at_risk) * 10.5 + 16) if at_risk else 0
    legend_height = 14
    height = plot_height + 38 + risk_height + legend_height
    drawing = Drawing(width, height)
    group = Group()
    bottom = 30 + risk_height
    highest = max([max(c.upper or c.values, default=0.0) for c in curves] + [0.05])
    y_top = y_max if y_max is not None else min(1.0, nice_step(highest, 4) *
                                                math.ceil(highest / nice_step(highest, 4)))
    x = Scale(0, horizon, label_width, width - 10)
    y = Scale(0, y_top, bottom, bottom + plot_height)
    x_ticks = nice_ticks(0, horizon, 6) if horizon > 0 else [0]
    y_ticks = nice_ticks(0, y_top, 5)
    _axes(group, x, y, x_ticks, y_ticks, x_label=x_label, y_label=y_label,
          y_format=(lambda v: f"{v * 100:g}%") if percent else format_tick)
    for curve in curves:
        if curve.lower is not None and curve.upper is not None and len(curve.times):
            band = _band_polygon(curve.times, curve.lower, curve.upper, x, y, horizon)
            group.add(Polygon(band, fillColor=curve.colour, fillOpacity=0.16, strokeColor=None,
                              strokeWidth=0))
    for curve in curves:
        if len(curve.times):
            group.add(PolyLine(_step_points(curve.times, curve.values, x, y, horizon),
                               strokeColor=curve.colour, strokeWidth=1.6,
                               strokeDashArray=[3, 2] if curve.dashed else None))
    _legend(group, [(c.label, c.colour) for c in curves], label_width, height - 10,
            width - label_width)
    if at_risk:
        top_of_table = risk_height - 4
        group.add(_text(4, top_of_table, at_risk_title, size=LABEL_FONT_SIZE, bold=True,
                        colour=NAVY))
        for index, row in enumerate(at_risk):
            yy = top_of_table - 11 - index * 10.5
            group.add(Rect(4, yy + 0.5, 5, 5, fillColor=row.colour, strokeColor=None))
            group.add(_text(12, yy, _fit(row.label, label_width - 30, TICK_FONT_SIZE)))
            for t, n in zip(at_risk_times, row.counts, strict=True):
                group.add(_text(x(t), yy, str(n), anchor="middle"))
    drawing.add(group)
    return drawing


# --- time series by category (inclusions over time) ----------------------------------------

def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_label(index: int) -> str:
    return f"{index // 12}-{index % 12 + 1:02d}"


def cumulative_counts_chart(
    series: Sequence[tuple[str, Sequence[date]]], *, x_label: str, y_label: str,
    total_label: str | None = None, width: float = FRAME_WIDTH, plot_height: float = 150,
) -> Drawing:
    """Cumulative counts over calendar months, one step line per series (e.g. sites)."""
    register_fonts()
    all_days = [d for _, days in series for d in days]
    legend_rows = math.ceil((len(series) + (1 if total_label else 0)) / 5)
    height = plot_height + 44 + legend_rows * 11
    drawing = Drawing(width, height)
    if not all_days:
        drawing.add(_text(width / 2, height / 2, "—", anchor="middle", colour=MUTED))
        return drawing
    group = Group()
    first, last = _month_index(min(all_days)), _month_index(max(all_days)) + 1
    if last - first < 2:
        first -= 1
    totals = [(label, _monthly_cumulative(days, first, last)) for label, days in series]
    overall = _monthly_cumulative(all_days, first, last)
    y_top_value = (max(overall, default=1) if total_label
                   else max((t[-1] for _, t in totals if t), default=1))
    step = nice_step(y_top_value, 5)
    y_top = step * math.ceil(max(y_top_value, 1) / step)
    x = Scale(first, last, 46, width - 10)
    y = Scale(0, y_top, 34, 34 + plot_height)
    month_step = max(1, math.ceil((last - first) / 10))
    x_ticks = list(range(first, last + 1, month_step))
    _axes(group, x, y, x_ticks, nice_ticks(0, y_top, 5), x_label=x_label, y_label=y_label,
          x_format=lambda v: _month_label(int(v)))
    items: list[tuple[str, Color]] = []
    palette = _series_colours(len(series))
    for (label, values), colour in zip(totals, palette, strict=True):
        group.add(PolyLine(_cumulative_points(values, first, x, y), strokeColor=colour,
                           strokeWidth=1.4))
        items.append((label, colour))
    if total_label:
        group.add(PolyLine(_cumulative_points(overall, first, x, y), strokeColor=NAVY,
                           strokeWidth=1.8, strokeDashArray=[4, 2]))
        items.append((total_label, NAVY))
    _legend(group, items, 46, height - 10, width - 56)
    drawing.add(group)
    return drawing


def _series_colours(count: int) -> list[Color]:
    from trialdb.reporting.styles import SERIES

    return [SERIES[i % len(SERIES)] for i in range(count)]


def _monthly_cumulative(days: Sequence[date], first: int, last: int) -> list[int]:
    counts = [0] * (last - first)
    for day in days:
        counts[_month_index(day) - first] += 1
    running, out = 0, []
    for c in counts:
        running += c
        out.append(running)
    return out


def _cumulative_points(values: Sequence[int], first: int, x: Scale, y: Scale) -> list[float]:
    points = [x(first), y(0)]
    for index, value in enumerate(values):
        points += [x(first + index + 1), y(value)]
    return points


# --- flow diagram --------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowBox:
    title: str
    count: int
    details: Sequence[tuple[str, int]] = field(default_factory=tuple)


def flow_diagram(main: Sequence[FlowBox], side: Sequence[FlowBox | None],
                 width: float = FRAME_WIDTH) -> Drawing:
    """A CONSORT-style flow: main boxes top to bottom, exclusion boxes to the right.

    `side[i]` (or None) branches off the arrow between main[i] and main[i+1].
    """
    register_fonts()
    box_w, box_h, gap = 150.0, 34.0, 30.0
    side_w = width - box_w - 70
    side_heights = [0.0 if s is None else 18 + 10 * len(s.details) for s in side]
    gaps = [max(gap, h + 12) for h in side_heights] + [0.0]
    height = sum(box_h for _ in main) + sum(gaps[: len(main) - 1]) + 10
    drawing = Drawing(width, height)
    group = Group()
    x0 = 10.0
    y = height - 5
    for index, box in enumerate(main):
        top = y
        group.add(Rect(x0, top - box_h, box_w, box_h, fillColor=HEADER_FILL, strokeColor=NAVY,
                       strokeWidth=0.8, rx=3, ry=3))
        group.add(_text(x0 + box_w / 2, top - 14, box.title, size=8, anchor="middle",
                        bold=True, colour=NAVY))
        group.add(_text(x0 + box_w / 2, top - 26, f"n = {box.count}", size=8.5,
                        anchor="middle"))
        y = top - box_h
        if index < len(main) - 1:
            next_top = y - gaps[index]
            mid_x = x0 + box_w / 2
            group.add(Line(mid_x, y, mid_x, next_top + 4, strokeColor=NAVY, strokeWidth=0.9))
            group.add(Polygon([mid_x - 3, next_top + 5, mid_x + 3, next_top + 5, mid_x,
                               next_top], fillColor=NAVY, strokeColor=None))
            branch = side[index] if index < len(side) else None
            if branch is not None:
                bh = side_heights[index]
                by = (y + next_top) / 2
                bx = x0 + box_w + 40
                group.add(Line(mid_x, by, bx - 3, by, strokeColor=MUTED, strokeWidth=0.8))
                group.add(Polygon([bx - 5, by + 3, bx - 5, by - 3, bx, by], fillColor=MUTED,
                                  strokeColor=None))
                group.add(Rect(bx, by - bh / 2, side_w, bh, fillColor=colors.white,
                               strokeColor=MUTED, strokeWidth=0.7, rx=3, ry=3))
                ty = by + bh / 2 - 11
                group.add(_text(bx + 6, ty, f"{branch.title} (n = {branch.count})", size=7.8,
                                bold=True))
                for reason, n in branch.details:
                    ty -= 10
                    group.add(_text(bx + 12, ty, _fit(f"{reason}", side_w - 50, 7.2), size=7.2))
                    group.add(_text(bx + side_w - 6, ty, str(n), size=7.2, anchor="end"))
            y = next_top
    drawing.add(group)
    return drawing


# --- forest plot ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ForestRow:
    label: str
    estimate: float | None
    lower: float | None
    upper: float | None
    colour: Color = NAVY


def forest_plot(rows: Sequence[ForestRow], *, x_label: str, width: float = FRAME_WIDTH,
                row_height: float = 13.0, label_width: float = 170.0) -> Drawing:
    """Hazard ratios on a log axis, one row per term, with the line of no effect at 1."""
    register_fonts()
    finite = [v for r in rows for v in (r.lower, r.upper, r.estimate)
              if v is not None and math.isfinite(v) and v > 0]
    low = min([*finite, 0.5])
    high = max([*finite, 2.0])
    low_exp = math.floor(math.log10(low) * 2) / 2
    high_exp = math.ceil(math.log10(high) * 2) / 2
    low, high = max(10 ** low_exp, 1e-3), min(10 ** high_exp, 1e3)
    height = len(rows) * row_height + 40
    drawing = Drawing(width, height)
    group = Group()
    x = Scale(low, high, label_width, width - 12, log=True)
    top = height - 6
    bottom = 30
    ticks = [t for t in (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 100, 1000)
             if low <= t <= high]
    for t in ticks:
        group.add(Line(x(t), bottom, x(t), top, strokeColor=RULE, strokeWidth=0.4))
        group.add(_text(x(t), bottom - 10, format_tick(t), anchor="middle", colour=MUTED))
    group.add(Line(x(1), bottom, x(1), top, strokeColor=MUTED, strokeWidth=0.9))
    group.add(Line(label_width, bottom, width - 12, bottom, strokeColor=MUTED, strokeWidth=0.8))
    group.add(_text((label_width + width - 12) / 2, bottom - 22, x_label, size=LABEL_FONT_SIZE,
                    anchor="middle"))
    for index, row in enumerate(rows):
        yy = top - (index + 0.5) * row_height
        if index % 2 == 0:
            group.add(Rect(0, yy - row_height / 2, width, row_height, fillColor=colors.HexColor(
                "#F6F8FA"), strokeColor=None))
        group.add(_text(4, yy - 2.5, _fit(row.label, label_width - 10, TICK_FONT_SIZE)))
        values = (row.estimate, row.lower, row.upper)
        if any(v is None or not math.isfinite(v) or v <= 0 for v in values):
            group.add(_text(label_width + 4, yy - 2.5, "n.e.", colour=MUTED))
            continue
        assert row.estimate is not None and row.lower is not None and row.upper is not None
        lo, hi = max(row.lower, low), min(row.upper, high)
        group.add(Line(x(lo), yy, x(hi), yy, strokeColor=row.colour, strokeWidth=1.1))
        if low <= row.estimate <= high:
            group.add(Rect(x(row.estimate) - 2.6, yy - 2.6, 5.2, 5.2, fillColor=row.colour,
                           strokeColor=None))
        if row.upper > high:
            group.add(Polygon([x(high), yy + 2.5, x(high), yy - 2.5, x(high) + 4, yy],
                              fillColor=row.colour, strokeColor=None))
    drawing.add(group)
    return drawing


# --- median and IQR over study days ------------------------------------------------------

@dataclass(frozen=True)
class QuantileSeries:
    label: str
    colour: Color
    days: Sequence[float]
    median: Sequence[float]
    q1: Sequence[float]
    q3: Sequence[float]


def quantile_panels(panels: Sequence[tuple[str, Sequence[QuantileSeries]]], *, x_label: str,
                    y_label: str, width: float = FRAME_WIDTH, plot_height: float = 120,
                    horizon: float = 90) -> Drawing:
    """Side-by-side panels (one per virus): median line with an IQR band per group."""
    register_fonts()
    count = max(len(panels), 1)
    gutter = 40.0
    gap = 22.0  # between panels: room for the last and first tick labels
    panel_w = (width - gutter - gap * (count - 1)) / count
    legend_items: dict[str, Color] = {}
    height = plot_height + 62
    drawing = Drawing(width, height)
    group = Group()
    values = [v for _, series in panels for s in series for v in (*s.q1, *s.q3, *s.median)]
    y_low = math.floor(min(values, default=0.0))
    y_high = math.ceil(max(values, default=1.0))
    if y_high <= y_low:
        y_high = y_low + 1
    for index, (title, series) in enumerate(panels):
        left = gutter + index * (panel_w + gap)
        x = Scale(0, horizon, left, left + panel_w)
        y = Scale(y_low, y_high, 34, 34 + plot_height)
        x_ticks = [t for t in (0, 30, 60, 90, 120, 180) if t <= horizon]
        for value in nice_ticks(y_low, y_high, 4):
            pos = y(value)
            group.add(Line(left, pos, left + panel_w, pos, strokeColor=RULE, strokeWidth=0.4))
            if index == 0:
                group.add(_text(left - 4, pos - 2.4, format_tick(value), anchor="end",
                                colour=MUTED))
        for value in x_ticks:
            group.add(_text(x(value), 23, format_tick(value), anchor="middle", colour=MUTED))
        group.add(Line(left, 34, left + panel_w, 34, strokeColor=MUTED, strokeWidth=0.8))
        group.add(Line(left, 34, left, 34 + plot_height, strokeColor=MUTED, strokeWidth=0.8))
        group.add(_text(left + panel_w / 2, 38 + plot_height, title, size=8, anchor="middle",
                        bold=True, colour=NAVY))
        for s in series:
            legend_items[s.label] = s.colour
            if len(s.days) >= 2:
                band = [c for d, v in zip(s.days, s.q3, strict=True) for c in (x(d), y(v))]
                band += [c for d, v in zip(reversed(s.days), reversed(s.q1), strict=True)
                         for c in (x(d), y(v))]
                group.add(Polygon(band, fillColor=s.colour, fillOpacity=0.15, strokeColor=None,
                                  strokeWidth=0))
                group.add(PolyLine([c for d, v in zip(s.days, s.median, strict=True)
                                    for c in (x(d), y(v))], strokeColor=s.colour,
                                   strokeWidth=1.5))
            for d, v in zip(s.days, s.median, strict=True):
                group.add(Circle(x(d), y(v), 1.8, fillColor=s.colour, strokeColor=None))
    group.add(_text(gutter + (width - gutter) / 2, 6, x_label, size=LABEL_FONT_SIZE,
                    anchor="middle"))
    title = Group(_text(0, 0, y_label, size=LABEL_FONT_SIZE, anchor="middle"))
    title.rotate(90)
    title.translate(34 + plot_height / 2, -10)
    group.add(title)
    _legend(group, list(legend_items.items()), gutter, height - 10, width - gutter)
    drawing.add(group)
    return drawing


# --- one participant's loads and antiviral courses -----------------------------------------

@dataclass(frozen=True)
class LoadPoint:
    day: int
    log10: float | None  # None: not detected or below LLOQ (drawn at the floor)
    detected: bool


@dataclass(frozen=True)
class CourseBar:
    label: str
    start_day: int
    end_day: int | None
    colour: Color


def participant_load_chart(series: Sequence[tuple[str, Color, Sequence[LoadPoint]]],
                           courses: Sequence[CourseBar], *, x_label: str, y_label: str,
                           below_label: str, ongoing_label: str, width: float = FRAME_WIDTH,
                           plot_height: float = 150) -> Drawing:
    """log10 loads by study day (one line per virus) above lanes of antiviral courses.

    The lanes sit directly under the plot and share its day axis, which is
    drawn once, under the lanes.
    """
    register_fonts()
    lanes = len(courses)
    lane_h = 11.0
    courses_h = lanes * lane_h + (4 if lanes else 0)
    axis_y = 34.0  # the day axis; tick labels and its title below it
    height = axis_y + courses_h + plot_height + 30
    drawing = Drawing(width, height)
    group = Group()
    days: list[int] = [p.day for _, _, pts in series for p in pts]
    days += [c.start_day for c in courses] + [c.end_day for c in courses if c.end_day is not None]
    d_low = min(min(days, default=0), 0)
    d_high = max(max(days, default=90), 90)
    logs = [p.log10 for _, _, pts in series for p in pts if p.log10 is not None]
    y_high = max(math.ceil(max(logs, default=4.0)), 4)
    floor = 1.0
    left = 86.0
    bottom = axis_y + courses_h  # the plot's own bottom
    x = Scale(d_low, d_high, left, width - 10)
    y = Scale(0, y_high, bottom, bottom + plot_height)
    x_ticks = nice_ticks(d_low, d_high, 8)
    # grid and y axis of the plot; the day axis is drawn under the lanes
    _axes(group, x, y, [], list(range(0, y_high + 1)), x_label="", y_label=y_label)
    if lanes:
        group.add(Rect(left, axis_y, x.end - left, courses_h, fillColor=ZEBRA, strokeColor=None))
        for value in x_ticks:
            group.add(Line(x(value), axis_y, x(value), bottom, strokeColor=RULE, strokeWidth=0.4))
        group.add(Line(left, axis_y, left, bottom, strokeColor=MUTED, strokeWidth=0.8))
    for value in x_ticks:
        pos = x(value)
        group.add(Line(pos, axis_y, pos, axis_y - 3, strokeColor=MUTED, strokeWidth=0.6))
        group.add(_text(pos, axis_y - 11, format_tick(value), anchor="middle", colour=MUTED))
    group.add(Line(left, axis_y, x.end, axis_y, strokeColor=MUTED, strokeWidth=0.8))
    group.add(_text((left + x.end) / 2, axis_y - 23, x_label, size=LABEL_FONT_SIZE,
                    anchor="middle"))
    group.add(Line(x(0), axis_y, x(0), bottom + plot_height, strokeColor=NAVY, strokeWidth=0.6,
                   strokeDashArray=[2, 2]))
    group.add(_text(x(0) + 2, bottom + plot_height - 8, "D0", size=7, colour=NAVY))
    for _, colour, points in series:
        coords = [c for p in points for c in (x(p.day), y(p.log10 if p.log10 is not None
                                                          else (floor if p.detected else 0)))]
        if len(points) >= 2:
            group.add(PolyLine(coords, strokeColor=colour, strokeWidth=1.3))
        for p in points:
            px = x(p.day)
            if p.log10 is not None:
                group.add(Circle(px, y(p.log10), 2.2, fillColor=colour, strokeColor=None))
            else:
                py = y(floor if p.detected else 0)
                group.add(Circle(px, py, 2.2, fillColor=colors.white, strokeColor=colour,
                                 strokeWidth=0.9))
    for index, course in enumerate(courses):
        yy = bottom - 2 - (index + 1) * lane_h  # first course in the top lane
        end = course.end_day if course.end_day is not None else d_high
        group.add(Rect(x(course.start_day), yy + 2, max(x(end) - x(course.start_day), 2),
                       lane_h - 4, fillColor=course.colour, fillOpacity=0.8, strokeColor=None))
        label = course.label + ("" if course.end_day is not None else f" ({ongoing_label})")
        group.add(_text(left - 4, yy + 3.5, _fit(label, left - 8, 6.8), size=6.8, anchor="end"))
    items = [(name, colour) for name, colour, _ in series]
    used = _legend(group, items, left, height - 10, width - left)
    group.add(_text(width - 10, height - 10 - used, below_label, size=6.8, anchor="end",
                    colour=MUTED))
    drawing.add(group)
    return drawing
