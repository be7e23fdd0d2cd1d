"""Data review pages: queries, source verification, e-signatures, locks, and
the audit trail (field history, participant trail, CSV export)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import inspect, select
from werkzeug.wrappers import Response as BaseResponse

from trialdb.crf.definitions import load_forms
from trialdb.crf.forms import audited_value
from trialdb.errors import Forbidden, InvalidInput, NotFound
from trialdb.models import Participant, Site, form_models
from trialdb.models._columns import FormRecordMixin
from trialdb.services import audit, review
from trialdb.vocab import QueryStatus, Role, SignatureMeaning
from trialdb.web.base import actor, commit, db, participant_or_404
from trialdb.web.i18n import language
from trialdb.web.notice import notify

bp = Blueprint("review", __name__)

AUDIT_EXPORTERS = frozenset({Role.DATA_MANAGER, Role.MONITOR, Role.ADMIN})


def _record(participant: Participant, entity: str, record_id: int) -> FormRecordMixin:
    model = form_models().get(entity)
    record = db().get(model, record_id) if model is not None else None
    if record is None or record.participant_id != participant.id:  # type: ignore[attr-defined]
        raise NotFound("No such record.", "Fiche introuvable.")
    return record


def _target(participant: Participant, entity: str, record_id: int) -> tuple[str, int]:
    """A record of the participant, or the casebook itself."""
    if entity == review.CASEBOOK:
        if record_id != participant.id:
            raise NotFound("No such record.", "Fiche introuvable.")
        return entity, record_id
    return entity, _record(participant, entity, record_id).id


def _form_titles() -> dict[str, str]:
    lang = language()
    return {spec.model.__tablename__: spec.title.get(lang) for spec in load_forms().values()}


def _audited_labels() -> dict[str, Any]:
    """Template helpers: an audited change read with its form's field label and
    answer labels (the CSV export keeps the stored codes)."""
    lang = language()
    fields = {spec.model.__tablename__: {f.name: f for f in spec.fields}
              for spec in load_forms().values()}

    def field_title(entity: str | None, name: str) -> str:
        spec = fields.get(entity or "", {}).get(name)
        return spec.label.get(lang) if spec else name

    def shown(entity: str | None, name: str, value: Any) -> str:
        return audited_value(fields.get(entity or "", {}).get(name), value, lang)

    return {"field_title": field_title, "shown": shown}


def _back(participant: Participant) -> BaseResponse:
    notify("review_done")
    return redirect(url_for("review.participant", study_number=participant.study_number))


@bp.route("/participants/<study_number>/review")
@login_required  # type: ignore[untyped-decorator]
def participant(study_number: str) -> str:
    person = participant_or_404(study_number)
    return render_template(
        "review.html", participant=person, states=review.record_states(db(), person),
        titles=_form_titles(), meanings=list(SignatureMeaning), casebook=review.CASEBOOK,
        columns={name: [c.name for c in inspect(model).columns
                        if c.name not in {"id", "participant_id", "row_version", "created_at",
                                          "updated_at", "is_deleted", "deletion_reason"}]
                 for name, model in form_models().items()}, **_audited_labels())


@bp.route("/participants/<study_number>/review/<entity>/<int:record_id>/<action>",
          methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def act(study_number: str, entity: str, record_id: int, action: str) -> BaseResponse:
    person = participant_or_404(study_number)
    entity, record_id = _target(person, entity, record_id)
    form = request.form
    session, who = db(), actor()
    if action == "verify" and entity != review.CASEBOOK:
        review.verify(session, who, _record(person, entity, record_id))
    elif action == "lock":
        review.lock(session, who, person, entity, record_id)
    elif action == "unlock":
        review.unlock(session, who, person, entity, record_id, form.get("reason", ""))
    elif action == "sign":
        try:
            meaning = SignatureMeaning(form.get("meaning", ""))
        except ValueError as error:
            raise InvalidInput("Choose the meaning of the signature.",
                               "Choisissez la signification de la signature.") from error
        review.sign(session, who, person, entity, record_id, password=form.get("password", ""),
                    meaning=meaning)
    elif action == "query" and entity != review.CASEBOOK:
        review.raise_query(session, who, _record(person, entity, record_id),
                           form.get("field", ""), form.get("text", ""))
    else:
        raise NotFound("No such action.", "Action inconnue.")
    commit()
    return _back(person)


@bp.route("/queries")
@login_required  # type: ignore[untyped-decorator]
def queries() -> str:
    wanted = request.args.get("status", "open")
    status = QueryStatus(wanted) if wanted in QueryStatus.values() else None
    rows = review.site_queries(db(), actor(), status)
    today = datetime.now(UTC)
    aged = [(query, number, (today - _aware(query.raised_at)).days) for query, number in rows]
    return render_template("queries.html", rows=aged, status=wanted, titles=_form_titles(),
                           statuses=QueryStatus.values())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.route("/queries/<int:query_id>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def query(query_id: int) -> BaseResponse | str:
    session, who = db(), actor()
    item = review.get_query(session, who, query_id)
    person = session.get(Participant, item.participant_id)
    if request.method == "POST":
        text = request.form.get("text", "")
        action = request.form.get("action")
        if action == "answer":
            review.answer_query(session, who, item, text)
        elif action == "close":
            review.close_query(session, who, item, text)
        elif action == "reopen":
            review.reopen_query(session, who, item, text)
        else:
            raise NotFound("No such action.", "Action inconnue.")
        commit()
        notify("review_done")
        return redirect(url_for("review.query", query_id=item.id))
    return render_template("query.html", query=item, participant=person, titles=_form_titles())


@bp.route("/participants/<study_number>/history/<entity>/<int:record_id>")
@login_required  # type: ignore[untyped-decorator]
def history(study_number: str, entity: str, record_id: int) -> str:
    person = participant_or_404(study_number)
    record = _record(person, entity, record_id)
    fields = [c.name for c in inspect(type(record)).columns]
    changes = {name: audit.field_history(db(), entity, record_id, name) for name in fields}
    return render_template("history.html", participant=person, entity=entity, record=record,
                           changes={k: v for k, v in changes.items() if v},
                           titles=_form_titles(), **_audited_labels())


@bp.route("/participants/<study_number>/trail")
@login_required  # type: ignore[untyped-decorator]
def trail(study_number: str) -> str:
    person = participant_or_404(study_number)
    return render_template("trail.html", participant=person,
                           events=audit.participant_trail(db(), person.study_number),
                           titles=_form_titles(), **_audited_labels())


@bp.route("/audit/export", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def audit_export() -> Response | str:
    who = actor()
    if who.role not in AUDIT_EXPORTERS:
        raise Forbidden("Your role cannot export the audit trail.",
                        "Votre rôle ne permet pas d'exporter la piste d'audit.")
    if request.method == "GET":
        today = date.today()
        return render_template("audit_export.html", start=today - timedelta(days=30), end=today)
    try:
        start = date.fromisoformat(request.form.get("start", ""))
        end = date.fromisoformat(request.form.get("end", ""))
    except ValueError as error:
        raise InvalidInput("Give both dates as YYYY-MM-DD.",
                           "Indiquez les deux dates (AAAA-MM-JJ).") from error
    if end < start:
        raise InvalidInput("The end is before the start.", "La fin précède le début.")
    session = db()
    sites = None if who.all_sites else _site_codes(who.site_ids)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=audit.EXPORT_COLUMNS)
    writer.writeheader()
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    last = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    count = 0
    for row in audit.export_rows(session, first, last, sites):
        writer.writerow(row)
        count += 1
    audit.record(session, who, audit.Entry(action="export", entity="audit_event",
                                           reason=f"audit trail {start} to {end}, {count} rows"))
    commit()
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=audit_{start}_{end}.csv"})


def _site_codes(site_ids: frozenset[int]) -> frozenset[str]:
    return frozenset(db().scalars(select(Site.code).where(Site.id.in_(site_ids))))
