"""The site dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from flask import Blueprint, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup, escape

from trialdb.crf.definitions import code_label, load_forms
from trialdb.errors import NotFound
from trialdb.services import dashboard as service
from trialdb.vocab import ParticipantStatus
from trialdb.web.base import actor, db
from trialdb.web.i18n import language, t
from trialdb.web.participants import viral_loads_url

bp = Blueprint("dashboard", __name__)
#: Interface text of a status where its name is taken ("locked" is the sign-in lock).
LABEL_KEYS = {service.LOCKED: "locked_form"}
BADGE_CLASSES = {service.LOCKED: "locked_form"}
#: Time points listed on the page (the rest are counted).
DUE_SHOWN = 60


@dataclass(frozen=True)
class GridMarkup:
    """The pieces of the status grid that depend only on the language and the
    study's forms, rendered once per process: a page then joins strings."""

    #: (badge class, label) of each cell status, strongest first.
    legend: tuple[tuple[str, str], ...]
    #: Per form, in the grid's order: its name and the cell of each status.
    cells: tuple[tuple[str, dict[str, str]], ...]
    #: The status column's cell per participant status.
    pills: dict[ParticipantStatus, str]
    #: The due list's badge cell, by overdue or not.
    due_badges: dict[bool, str]


@lru_cache(maxsize=4)
def grid_markup(lang: str) -> GridMarkup:
    """Called with the request's language: `t` reads it from the session."""
    # strongest first, as the grid decides (services.dashboard.PRECEDENCE)
    labels = {status: t(LABEL_KEYS.get(status, status)) for status in service.PRECEDENCE}
    cell = '<td class="cell cell-{}" title="{} · {}"><span class="dot"></span></td>'
    return GridMarkup(
        legend=tuple((BADGE_CLASSES.get(status, status), label)
                     for status, label in labels.items()),
        cells=tuple((form.name, {status: str(Markup(cell).format(status, form.title.get(lang),
                                                                  label))
                                 for status, label in labels.items()})
                    for form in load_forms().values()),
        pills={status: str(Markup('<td><span class="pill pill-{}">{}</span></td>').format(
            status.value, code_label(ParticipantStatus, status.value, lang)))
            for status in ParticipantStatus},
        due_badges={overdue: str(Markup('<td><span class="badge {}">{}</span></td>').format(
            "status-queried" if overdue else "status-in_progress",
            t("overdue") if overdue else t("due"))) for overdue in (True, False)},
    )


def grid_rows(board: service.Dashboard, markup: GridMarkup, participant_url: str) -> Markup:
    """The grid's body: one row per participant, each cell picked from `markup`."""
    link = f'<tr>\n<th class="sticky"><a href="{escape(participant_url)}'
    rows = []
    for row in board.rows:
        number, statuses = escape(row.study_number), row.statuses
        rows.append(f'{link}{number}">{number}</a></th>{markup.pills[row.status]}'
                    + "".join([cells[statuses[name]] for name, cells in markup.cells])
                    + "</tr>\n")
    return Markup("".join(rows))


def due_rows(board: service.Dashboard, markup: GridMarkup, lang: str,
             viral_loads_url: tuple[str, str]) -> Markup:
    """The first time points due or overdue, each linking the participant's viral loads."""
    head, tail = (str(escape(part)) for part in viral_loads_url)
    rows = []
    for point in board.due[:DUE_SHOWN]:
        number = escape(point.study_number)
        name = escape(point.time_point if lang == "en" else point.time_point.replace("D", "J"))
        start, end = point.window_start, point.window_end
        rows.append(
            f'<tr class="{"overdue" if point.overdue else "due"}">\n'
            f'<td><a href="{head}/{number}{tail}">{number}</a></td>\n<td>{name}</td>\n'
            f'<td class="nowrap">{start.day:02d}/{start.month:02d}–'
            f'{end.day:02d}/{end.month:02d}/{end.year % 100:02d}</td>\n'
            f"{markup.due_badges[point.overdue]}\n</tr>\n")
    return Markup("".join(rows))


@bp.route("/")
@login_required  # type: ignore[untyped-decorator]
def index() -> str:
    sites = service.visible_sites(db(), actor())
    if not sites:
        return render_template("dashboard.html", sites=[], site=None, board=None)
    wanted = (request.args.get("site") or "").strip().upper()
    site = next((s for s in sites if s.code == wanted), None) if wanted else sites[0]
    if site is None:
        raise NotFound("No such site.", "Centre introuvable.")
    raw_page = request.args.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 else 1
    board = service.site_dashboard(db(), site.id, date.today(), page=page,
                                   query_sites=[s.id for s in sites])
    lang = language()
    markup = grid_markup(lang)
    participant_url = url_for("participants.show", study_number="_").rstrip("_")
    # the due list links each participant's viral loads: one URL built, not one per row
    head, _slash, tail = viral_loads_url("_").rpartition("/_")
    return render_template("dashboard.html", sites=sites, site=site, board=board,
                           legend=markup.legend,
                           grid_rows=grid_rows(board, markup, participant_url),
                           due_rows=due_rows(board, markup, lang, (head, tail)),
                           due_shown=DUE_SHOWN)
