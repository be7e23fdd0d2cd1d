"""Fast entry of serial viral loads: a grid, a JSON preview, an all-or-nothing save."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from trialdb.errors import InvalidInput
from trialdb.models import Participant
from trialdb.services import viral_loads as service
from trialdb.services.form_entry import infusion_date
from trialdb.study.viral_load import log10_load
from trialdb.vocab import LoadUnit, Specimen, Virus
from trialdb.web.base import actor, commit, db, entry_page, participant_or_404
from trialdb.web.i18n import language
from trialdb.web.notice import notify

bp = Blueprint("viral_loads", __name__)
BLANK_ROWS = 8
_FIELDS = ("sampled_on", "virus", "specimen", "assay_id", "result", "unit")


def _rows_from_form() -> list[service.LoadRow]:
    """Grid rows from the posted form: fields named rows-<i>-<field>."""
    count_text = request.form.get("row_count", "0").strip()
    count = min(int(count_text) if count_text.isascii() and count_text.isdigit() else 0,
                service.MAX_ROWS + 1)
    return [service.LoadRow(**{name: request.form.get(f"rows-{i}-{name}", "").strip()
                               for name in _FIELDS}) for i in range(count)]


def _rows_from_json() -> list[service.LoadRow]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
        raise InvalidInput("Expected {\"rows\": [...]}.", "Attendu : {\"rows\": [...]}.")
    return [service.LoadRow.from_mapping(raw) for raw in payload["rows"][: service.MAX_ROWS + 1]]


def _render(participant: Participant, rows: list[service.LoadRow],
            previews: dict[int, service.RowPreview], status: int = 200,
            errors: list[str] | None = None) -> tuple[str, int]:
    padded = rows + [service.LoadRow() for _ in range(max(0, BLANK_ROWS - len(rows)))]
    page = render_template(
        "viral_loads.html", participant=participant, rows=padded, previews=previews,
        assays=service.assays(db()), viruses=list(Virus), specimens=list(Specimen),
        units=list(LoadUnit), saved=service.participant_loads(db(), participant.id),
        d0=infusion_date(db(), participant.id), form_errors=errors or [])
    return page, status


@bp.app_template_filter("log10")
def _log10(value: float) -> float:
    """For saved_loads.html, which the participant page shows too."""
    return float(log10_load(value))


@bp.route("/participants/<study_number>/viral-loads", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_page
def grid(study_number: str) -> Response | tuple[str, int]:
    participant = participant_or_404(study_number)
    if request.method == "GET":
        return _render(participant, [], {})
    rows = _rows_from_form()
    if request.form.get("action") == "preview":
        previews = service.preview_rows(db(), participant, rows)
        return _render(participant, rows, {p.index: p for p in previews})
    try:
        saved = service.save_rows(db(), actor(), participant, rows)
    except service.GridErrors as errors:
        return _render(participant, rows, {p.index: p for p in errors.previews}, 422,
                       [errors.message(language())])
    except InvalidInput as error:
        return _render(participant, rows, {}, 422, [error.message(language())])
    commit()
    notify("loads_saved", count=len(saved))
    return redirect(url_for("viral_loads.grid", study_number=participant.study_number))


@bp.route("/api/participants/<study_number>/viral-loads/preview", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_page
def preview(study_number: str) -> Any:
    """What each row would store, without storing anything (JSON in, JSON out)."""
    participant = participant_or_404(study_number)
    previews = service.preview_rows(db(), participant, _rows_from_json())
    return jsonify({"rows": [p.as_json(language()) for p in previews]})
