"""The REST API (JSON) under /api/v1, authenticated by personal tokens.

Thin views: parse, call one service, answer JSON. A token acts with its
owner's role and sites (services.actor.Actor), exactly as the web pages do.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from trialdb.api import tokens
from trialdb.api.openapi import document
from trialdb.db import unit_of_work, utcnow
from trialdb.errors import Forbidden, InvalidInput, NotFound, UserError
from trialdb.models import ApiToken, Assay, CarTInfusion, ExportBundle, Participant, Site, ViralLoadResult
from trialdb.services.actor import Actor, require_entry
from trialdb.study.timeline import age_at, study_day
from trialdb.study.viral_load import log10_load
from trialdb.vocab import ParticipantStatus

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
MAX_LIMIT = 500
MAX_ID = 2_147_483_647  # PostgreSQL integer


def _state() -> Any:
    return current_app.extensions["trialdb"]


def _language() -> str:
    accepted = request.headers.get("Accept-Language", "")
    return "fr" if accepted.lower().startswith("fr") else "en"


def _error(status: int, en: str, fr: str, **extra: Any) -> tuple[Response, int]:
    body = {"error": fr if _language() == "fr" else en, "messages": {"en": en, "fr": fr}, **extra}
    return jsonify(body), status


@bp.errorhandler(UserError)
def _user_error(error: UserError) -> tuple[Response, int]:
    extra: dict[str, Any] = {"field": error.field}
    previews = getattr(error, "previews", None)
    if previews is not None:
        extra["rows"] = [p.as_json(_language()) for p in previews]
    return _error(error.status, error.messages["en"], error.messages["fr"], **extra)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 400
    text = error.description or error.name
    return _error(status, text, text)


def _actor() -> Actor:
    return g.api_actor  # type: ignore[no-any-return]


@bp.before_request
def _authenticate() -> tuple[Response, int] | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "Send a personal token: Authorization: Bearer tdb_...",
                      "Envoyez un jeton personnel : Authorization: Bearer tdb_...")
    with _state().read_factory() as session:
        found = tokens.authenticate(session, token.strip())
        if found is None:
            return _error(401, "This token is unknown, revoked or expired.",
                          "Ce jeton est inconnu, révoqué ou expiré.")
        row, user = found
        g.api_actor = Actor.of(user)
        token_id, last_used = row.id, row.last_used_at
    if last_used is None or tokens.as_utc(last_used) < utcnow() - timedelta(minutes=1):
        with unit_of_work(_state().write_factory) as session:
            used = session.get(ApiToken, token_id)
            if used is not None:
                used.last_used_at = utcnow()
    return None


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document(request.script_root + bp.url_prefix if bp.url_prefix else "/api/v1"))


# --- participants ---------------------------------------------------------------------------------


def _query_int(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit():
        raise InvalidInput(f"{name} must be a whole number.", f"{name} doit être un nombre entier.",
                           field=name)
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise InvalidInput(f"{name} is out of range.", f"{name} est hors limites.", field=name)
    return value


def _visible(session: Session, study_number: str) -> Participant:
    if "\x00" in study_number or len(study_number) > 11:
        raise NotFound("No such participant.", "Participant introuvable.")
    participant = session.scalar(select(Participant).where(
        Participant.study_number == study_number.strip().upper()))
    if participant is None or not _actor().may_see_site(participant.site_id):
        raise NotFound("No such participant.", "Participant introuvable.")
    return participant


def _participant_json(p: Participant, site_code: str, infused_on: Any) -> dict[str, Any]:
    age = None
    if infused_on is not None:
        try:
            age = age_at(p.birth_year, p.birth_month, infused_on)
        except UserError:
            age = None
    return {
        "study_number": p.study_number, "site_code": site_code, "part": p.part.value,
        "sex": p.sex.value, "status": p.status.value, "screened_on": p.screened_on.isoformat(),
        "included_on": p.included_on.isoformat() if p.included_on else None,
        "infused_on": infused_on.isoformat() if infused_on else None, "age_at_infusion": age,
    }


def _infused_on(session: Session, participant_ids: list[int]) -> dict[int, Any]:
    rows = session.execute(select(CarTInfusion.participant_id, CarTInfusion.infused_on).where(
        CarTInfusion.participant_id.in_(participant_ids), CarTInfusion.is_deleted.is_(False)))
    return {pid: day for pid, day in rows}


@bp.get("/participants")
def list_participants() -> Response:
    limit = _query_int("limit", 100, 1, MAX_LIMIT)
    offset = _query_int("offset", 0, 0)
    status = request.args.get("status")
    if status is not None and status not in ParticipantStatus.values():
        raise InvalidInput("Unknown status.", "Statut inconnu.", field="status")
    actor = _actor()
    with _state().read_factory() as session:
        query = select(Participant, Site.code).join(Site, Site.id == Participant.site_id)
        if not actor.all_sites:
            query = query.where(Participant.site_id.in_(actor.site_ids))
        if status is not None:
            query = query.where(Participant.status == ParticipantStatus(status))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(query.order_by(Participant.study_number).limit(limit).offset(offset)).all()
        d0 = _infused_on(session, [p.id for p, _ in rows])
        items = [_participant_json(p, code, d0.get(p.id)) for p, code in rows]
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset})


@bp.get("/participants/<study_number>")
def get_participant(study_number: str) -> Response:
    with _state().read_factory() as session:
        participant = _visible(session, study_number)
        d0 = _infused_on(session, [participant.id]).get(participant.id)
        return jsonify(_participant_json(participant, participant.site.code, d0))


# --- viral loads ----------------------------------------------------------------------------------


def _load_json(session: Session, participant: Participant, results: list[ViralLoadResult]
               ) -> list[dict[str, Any]]:
    d0 = _infused_on(session, [participant.id]).get(participant.id)
    assays = {a.id: a.name for a in session.scalars(select(Assay))}
    return [{
        "id": r.id, "study_number": participant.study_number, "sampled_on": r.sampled_on.isoformat(),
        "study_day": None if d0 is None else study_day(d0, r.sampled_on), "virus": r.virus.value,
        "specimen": r.specimen.value, "assay_id": r.assay_id, "assay": assays.get(r.assay_id, ""),
        "state": r.state.value, "value": r.value, "unit": r.unit.value,
        "log10": None if r.value is None else float(log10_load(r.value)), "reported_as": r.reported_as,
    } for r in results]


@bp.route("/participants/<study_number>/viral-loads", methods=["GET", "POST"])
def viral_loads(study_number: str) -> Response | tuple[Response, int]:
    from trialdb.services import viral_loads as service

    if request.method == "GET":
        with _state().read_factory() as session:
            participant = _visible(session, study_number)
            loads = service.participant_loads(session, participant.id)
            return jsonify({"items": _load_json(session, participant, loads)})
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", "Envoyez un objet JSON.")
    if any(isinstance(v, str) and "\x00" in v for v in body.values()):
        raise InvalidInput("Text may not contain NUL characters.",
                           "Le texte ne peut pas contenir de caractère NUL.")
    row = service.LoadRow.from_mapping({k: body.get(k) for k in
                                        ("sampled_on", "virus", "specimen", "assay_id", "result", "unit")})
    actor = _actor()
    with unit_of_work(_state().write_factory) as session:
        participant = _visible(session, study_number)
        require_entry(actor)
        if not row.sampled_on or not row.result:
            raise InvalidInput("sampled_on and result are required.",
                               "sampled_on et result sont obligatoires.")
        created = service.save_rows(session, actor, participant, [row])
        answer = _load_json(session, participant, created)
    return jsonify({"items": answer}), 201


# --- exports --------------------------------------------------------------------------------------


def _export_dir() -> Path:
    return Path(_state().settings.instance_path) / "exports"


def _export_json(row: ExportBundle, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id, "snapshot_id": row.snapshot_id, "formats": list(row.formats),
        "created_at": tokens.as_utc(row.created_at).isoformat(), "manifest_sha256": row.manifest_sha256,
        "download": f"{bp.url_prefix}/exports/{row.id}/download",
    }
    if manifest is not None:
        body["manifest"] = manifest
    return body


@bp.post("/exports")
def start_export() -> tuple[Response, int]:
    from trialdb.exports import bundle

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("formats"), list) or not all(
            isinstance(f, str) for f in body["formats"]):
        raise InvalidInput("Send {\"formats\": [\"csv\", ...]}.", "Envoyez {\"formats\": [\"csv\", ...]}.",
                           field="formats")
    snapshot_id = body.get("snapshot_id")
    if snapshot_id is not None and (isinstance(snapshot_id, bool) or not isinstance(snapshot_id, int)
                                    or not 0 < snapshot_id <= MAX_ID):
        raise InvalidInput("snapshot_id must be a snapshot number.",
                           "snapshot_id doit être un numéro d'instantané.", field="snapshot_id")
    actor = _actor()
    bundle.require_exporter(actor)
    with unit_of_work(_state().write_factory) as session:
        result = bundle.run_export(session, actor, _export_dir(), body["formats"], snapshot_id=snapshot_id,
                                   xpt_ascii=body.get("xpt_ascii", "refuse"))
        row = session.get(ExportBundle, result.bundle_id)
        assert row is not None
        answer = _export_json(row, result.manifest)
    return jsonify(answer), 201


def _visible_export(session: Session, export_id: int) -> ExportBundle:
    from trialdb.exports import bundle

    actor = _actor()
    bundle.require_exporter(actor)
    row = session.get(ExportBundle, export_id) if export_id <= MAX_ID else None
    if row is None or (row.created_by_id != actor.user_id and not actor.all_sites):
        raise NotFound("No such export.", "Export introuvable.")
    return row


@bp.get("/exports/<int:export_id>")
def get_export(export_id: int) -> Response:
    import json

    with _state().read_factory() as session:
        row = _visible_export(session, export_id)
        path = Path(row.directory) / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        return jsonify(_export_json(row, manifest))


@bp.get("/exports/<int:export_id>/download")
def download_export(export_id: int) -> Response:
    from trialdb.exports.bundle import zip_bundle

    with _state().read_factory() as session:
        row = _visible_export(session, export_id)
        directory = Path(row.directory)
    if not directory.is_dir():
        raise NotFound("The export's files are no longer on the server.",
                       "Les fichiers de l'export ne sont plus sur le serveur.")
    target = Path(tempfile.mkdtemp(prefix="trialdb-export-")) / directory.name
    archive = zip_bundle(directory, target)
    return send_file(archive, mimetype="application/zip", as_attachment=True,
                     download_name=f"{directory.name}.zip")


# --- the day-90 analysis -------------------------------------------------------------------------


@bp.get("/analyses/day90")
def day90() -> Response:
    from trialdb.analysis.day90 import run_day90_analysis

    actor = _actor()
    if not actor.all_sites:
        raise Forbidden("The study-wide analysis is for study-wide accounts.",
                        "L'analyse de l'étude entière est réservée aux comptes sans restriction de centre.")
    with _state().read_factory() as session:
        result = run_day90_analysis(session)
    return jsonify(result.to_dict())
