"""The site dashboard."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask_login import login_required

from trialdb.errors import NotFound
from trialdb.services import dashboard as service
from trialdb.web.base import actor, db

bp = Blueprint("dashboard", __name__)


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
    board = service.site_dashboard(db(), site.id, date.today())
    return render_template("dashboard.html", sites=sites, site=site, board=board)
