"""The Reports page: interim reports, casebooks and the annotated blank CRF as PDF.

Site investigators get their sites' data; the coordinating investigator
(an investigator with study-wide access) and data managers the whole study
(`trialdb.reporting.service.scope_for`). Register with
`app.register_blueprint(reports.bp)`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import login_required
from sqlalchemy import select

from trialdb.db import unit_of_work
from trialdb.errors import Forbidden, InvalidInput
from trialdb.models import DataSnapshot
from trialdb.reporting import service
from trialdb.vocab import Role
from trialdb.web.base import actor, db, participant_or_404
from trialdb.web.i18n import language

bp = Blueprint("reports", __name__)

#: Who may download reports.
READERS = frozenset({Role.INVESTIGATOR, Role.DATA_MANAGER})

F = TypeVar("F", bound=Callable[..., Any])


def readers_only(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if actor().role not in READERS:
            raise Forbidden("Reports are for investigators and data managers.",
                            "Les rapports sont réservés aux investigateurs et data managers.")
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def _pdf(content: bytes, filename: str) -> Response:
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={filename}",
                             "Cache-Control": "no-store"})


def _audited(pdf: bytes, document: str, *, snapshot_id: int | None = None,
             study_number: str | None = None) -> bytes:
    """Write the download in the audit trail: its own short write transaction
    (the page's session only reads), committed here, before the PDF is sent."""
    with unit_of_work(current_app.extensions["trialdb"].write_factory) as session:
        service.record_export(session, actor(), document, pdf, snapshot_id=snapshot_id,
                              study_number=study_number, language=language())
    return pdf


def _snapshot_id() -> int | None:
    raw = request.args.get("snapshot", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput("The snapshot must be a number.", "L'instantané doit être un numéro.",
                           field="snapshot")
    return int(raw)


@bp.route("/reports")
@login_required  # type: ignore[untyped-decorator]
@readers_only
def page() -> str:
    session = db()
    snapshots = session.execute(
        select(DataSnapshot.id, DataSnapshot.created_at, DataSnapshot.created_by,
               DataSnapshot.label, DataSnapshot.content_hash, DataSnapshot.participant_count)
        .order_by(DataSnapshot.id.desc())).all()
    scope = service.scope_for(session, actor())
    return render_template("reports.html", snapshots=snapshots, scope=scope, lang=language())


@bp.route("/reports/interim.pdf")
@login_required  # type: ignore[untyped-decorator]
@readers_only
def interim() -> Response:
    snapshot_id = _snapshot_id()
    pdf = _audited(service.interim_report(db(), actor(), snapshot_id=snapshot_id,
                                          language=language()),
                   "interim", snapshot_id=snapshot_id)
    suffix = f"snapshot-{snapshot_id}" if snapshot_id is not None else "live"
    return _pdf(pdf, f"NCT06058858-interim-{suffix}.pdf")


@bp.route("/reports/casebook/<study_number>.pdf")
@login_required  # type: ignore[untyped-decorator]
@readers_only
def casebook(study_number: str) -> Response:
    participant = participant_or_404(study_number)
    pdf = _audited(service.casebook(db(), actor(), participant.study_number,
                                    language=language()),
                   "casebook", study_number=participant.study_number)
    return _pdf(pdf, f"casebook-{participant.study_number}.pdf")


@bp.route("/reports/casebook")
@login_required  # type: ignore[untyped-decorator]
@readers_only
def casebook_by_number() -> Response:
    response: Response = casebook(request.args.get("participant", ""))
    return response


@bp.route("/reports/blank-crf.pdf")
@login_required  # type: ignore[untyped-decorator]
def blank_crf() -> Response:
    pdf = _audited(service.blank_crf(actor(), language=language()), "blank-crf")
    return _pdf(pdf, "NCT06058858-blank-crf.pdf")
