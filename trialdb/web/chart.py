"""The participant's viral-load chart as inline SVG, drawn on the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from trialdb.models import AntiviralCourse, ViralLoadResult
from trialdb.study.timeline import study_day
from trialdb.study.viral_load import log10_load
from trialdb.vocab import ResultState, Virus

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
BAR_HEIGHT = 10
SERIES = {Virus.CMV: "series-cmv", Virus.TTV: "series-ttv"}


@dataclass(frozen=True)
class Point:
    day: int
    log10: float
    state: ResultState


def _points(loads: list[ViralLoadResult], d0: date, virus: Virus) -> list[Point]:
    points = []
    for load in loads:
        if load.virus is not virus:
            continue
        if load.state is ResultState.QUANTIFIED and load.value:
            value = float(log10_load(load.value))
        elif load.state is ResultState.BELOW_LLOQ:
            value = float(log10_load(load.assay.lloq)) if load.assay.lloq else 1.5
        else:
            value = 0.0
        points.append(Point(study_day(d0, load.sampled_on), value, load.state))
    return points


def viral_load_svg(loads: list[ViralLoadResult], courses: list[AntiviralCourse], d0: date,
                   today: date, labels: dict[str, str]) -> str:
    """log10 CMV and TTV by study day; antiviral courses as bars under the axis."""
    series = {virus: _points(loads, d0, virus) for virus in SERIES}
    all_points = [p for pts in series.values() for p in pts]
    course_spans = [(c, study_day(d0, c.started_on),
                     study_day(d0, c.ended_on or today)) for c in courses]
    days = [p.day for p in all_points] + [s for _, s, e in course_spans] + [
        e for _, s, e in course_spans] + [0, 90]
    x_min, x_max = min(days) - 2, max(days) + 2
    y_max = max([6.0] + [p.log10 + 0.5 for p in all_points])
    lanes = max(1, len(course_spans))
    plot_bottom = HEIGHT - BOTTOM - lanes * (BAR_HEIGHT + 4)
    height = HEIGHT

    def x(day: float) -> float:
        return LEFT + (day - x_min) / (x_max - x_min) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return plot_bottom - value / y_max * (plot_bottom - TOP)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{escape(labels["title"])}" xmlns="http://www.w3.org/2000/svg">']
    for tick in range(0, int(y_max) + 1):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{tick}</text>')
    for day in range(0, int(x_max) + 1, 7 if x_max - x_min < 120 else 30):
        if day < x_min:
            continue
        parts.append(f'<line class="grid-v" x1="{x(day):.1f}" x2="{x(day):.1f}" y1="{TOP}" '
                     f'y2="{plot_bottom}"/><text class="tick" x="{x(day):.1f}" '
                     f'y="{HEIGHT - 8}" text-anchor="middle">{"D" if labels["lang"] == "en" else "J"}'
                     f'{day}</text>')
    parts.append(f'<line class="d0" x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{TOP}" '
                 f'y2="{plot_bottom}"/>')
    for virus, points in series.items():
        css = SERIES[virus]
        if len(points) > 1:
            path = " ".join(f"{x(p.day):.1f},{y(p.log10):.1f}" for p in points)
            parts.append(f'<polyline class="{css} line" points="{path}"/>')
        for p in points:
            hollow = " hollow" if p.state is not ResultState.QUANTIFIED else ""
            parts.append(f'<circle class="{css}{hollow}" cx="{x(p.day):.1f}" cy="{y(p.log10):.1f}" '
                         f'r="4"><title>{virus} {labels["day"]} {p.day}: '
                         f'{p.log10:.2f}</title></circle>')
    for lane, (course, start, end) in enumerate(course_spans):
        top = plot_bottom + 6 + lane * (BAR_HEIGHT + 4)
        parts.append(f'<rect class="course course-{course.drug.value}" x="{x(start):.1f}" '
                     f'y="{top}" width="{max(3.0, x(end) - x(start)):.1f}" '
                     f'height="{BAR_HEIGHT}" rx="3"><title>{escape(course.drug.value)} '
                     f'{labels["day"]} {start}–{end}</title></rect>'
                     f'<text class="course-label" x="{x(end) + 4:.1f}" y="{top + 9}">'
                     f'{escape(course.drug.value)}</text>')
    # anchored at the right edge, so that a longer translation grows leftwards, inside
    right = WIDTH - RIGHT
    parts.append(f'<text class="legend series-cmv-text" x="{right - 50}" y="{TOP + 10}" '
                 f'text-anchor="end">● CMV</text><text class="legend series-ttv-text" '
                 f'x="{right}" y="{TOP + 10}" text-anchor="end">● TTV</text>'
                 f'<text class="legend tick" x="{right}" y="{TOP + 24}" text-anchor="end">'
                 f'○ {escape(labels.get("hollow", ""))}</text>')
    parts.append("</svg>")
    return "".join(parts)
