"""The Exports page: statisticians and data managers make and download bundles."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from trialdb.errors import NotFound
from trialdb.exports import bundle
from trialdb.exports.formats import FORMATS
from trialdb.models import DataSnapshot, ExportBundle
from trialdb.web.base import actor, commit, db
from trialdb.web.notice import notify

bp = Blueprint("exports_page", __name__)


def _export_dir() -> Path:
    return Path(current_app.extensions["trialdb"].settings.instance_path) / "exports"


@bp.route("/exports", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def page() -> str | Response:
    bundle.require_exporter(actor())
    if request.method == "POST":
        formats = [f for f in request.form.getlist("formats") if f in FORMATS] or ["csv"]
        raw = request.form.get("snapshot_id", "").strip()
        snapshot_id = int(raw) if raw.isdigit() else None
        xpt_ascii = "transliterate" if request.form.get("xpt_ascii") == "transliterate" else "refuse"
        result = bundle.run_export(db(), actor(), _export_dir(), formats, snapshot_id=snapshot_id,
                                   xpt_ascii=xpt_ascii)
        commit()
        notify("saved")
        return redirect(url_for("exports_page.page", done=result.bundle_id))
    session = db()
    exports = list(session.scalars(select(ExportBundle).order_by(ExportBundle.id.desc()).limit(50)))
    snapshots = list(session.execute(select(DataSnapshot.id, DataSnapshot.label, DataSnapshot.created_at,
                                            DataSnapshot.content_hash)
                                     .order_by(DataSnapshot.id.desc()).limit(50)))
    return render_template("exports.html", exports=exports, snapshots=snapshots, formats=FORMATS,
                           done=request.args.get("done", type=int))


@bp.route("/exports/<int:export_id>.zip")
@login_required  # type: ignore[untyped-decorator]
def download(export_id: int) -> Response:
    current = actor()
    bundle.require_exporter(current)
    row = db().get(ExportBundle, export_id)
    if row is None or (row.created_by_id != current.user_id and not current.all_sites):
        raise NotFound("No such export.", "Export introuvable.")
    directory = Path(row.directory)
    if not directory.is_dir():
        raise NotFound("The export's files are no longer on the server.",
                       "Les fichiers de l'export ne sont plus sur le serveur.")
    archive = bundle.zip_bundle(directory, Path(tempfile.mkdtemp(prefix="trialdb-export-")) / directory.name)
    return send_file(archive, mimetype="application/zip", as_attachment=True,
                     download_name=f"{directory.name}.zip")
