"""The site dashboard."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup

from trialdb.errors import NotFound
from trialdb.services import dashboard as service
from trialdb.web.base import actor, db
from trialdb.web.i18n import language, t

bp = Blueprint("dashboard", __name__)
#: Interface text of a status where its name is taken ("locked" is the sign-in lock).
LABEL_KEYS = {service.LOCKED: "locked_form"}
BADGE_CLASSES = {service.LOCKED: "locked_form"}


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
    # strongest first, as the grid decides (services.dashboard.PRECEDENCE)
    labels = {status: t(LABEL_KEYS.get(status, status)) for status in service.PRECEDENCE}
    # The grid has one cell per participant and form: each possible cell is
    # rendered once here, the template only picks them.
    cells = {form.name: {status: Markup(
        '<td class="cell cell-{}" title="{} · {}"><span class="dot"></span></td>').format(
            status, form.title.get(lang), label) for status, label in labels.items()}
        for form in board.forms}
    legend = [(BADGE_CLASSES.get(status, status), label) for status, label in labels.items()]
    return render_template("dashboard.html", sites=sites, site=site, board=board, cells=cells,
                           legend=legend,
                           participant_url=url_for("participants.show",
                                                   study_number="_").rstrip("_"))
