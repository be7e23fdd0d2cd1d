"""The laboratory upload page: dry run first, then commit the same file.

The uploaded file is kept under the instance folder, named by its SHA-256,
between the dry run and the confirmation, so what is committed is exactly
the file that was checked.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, current_app, render_template, request
from flask_login import login_required

from trialdb.errors import InvalidInput
from trialdb.services import lab_import
from trialdb.web.base import actor, commit, db, entry_page

bp = Blueprint("lab_import", __name__)
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
_SHA = re.compile(r"[0-9a-f]{64}")


def _uploads() -> Path:
    folder = Path(current_app.extensions["trialdb"].settings.instance_path) / "lab_uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _keep_upload() -> tuple[Path, str]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("Choose the laboratory's CSV file.", "Choisissez le fichier CSV du laboratoire.",
                           field="file")
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=_uploads(), delete=False) as handle:
        for chunk in iter(lambda: upload.stream.read(1 << 20), b""):
            digest.update(chunk)
            handle.write(chunk)
    sha = digest.hexdigest()
    target = _uploads() / f"{sha}.csv"
    shutil.move(handle.name, target)
    return target, Path(upload.filename).name[-200:]


@bp.route("/labs/import", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_page
def page() -> str:
    mappings = lab_import.list_mappings(db())
    if request.method == "GET":
        return render_template("lab_import.html", mappings=mappings, summary=None)
    request.max_content_length = MAX_UPLOAD_BYTES
    mapping = request.form.get("mapping") or None
    confirm = request.form.get("confirm", "")
    if confirm:
        if not _SHA.fullmatch(confirm) or not (_uploads() / f"{confirm}.csv").exists():
            raise InvalidInput("The checked file is no longer available: upload it again.",
                               "Le fichier vérifié n'est plus disponible : déposez-le à nouveau.")
        path, name = _uploads() / f"{confirm}.csv", request.form.get("file_name", "upload.csv")
    else:
        path, name = _keep_upload()
    with path.open("rb") as stream:
        summary = lab_import.import_lab_file(db(), actor(), stream, file_name=name, mapping=mapping,
                                             dry_run=not confirm)
    if confirm and summary.committed:
        commit()
        path.unlink(missing_ok=True)
    return render_template("lab_import.html", mappings=mappings, summary=summary, mapping=mapping,
                           file_name=name, labels=lab_import.ROW_KIND_LABELS,
                           new_kind=lab_import.RowKind.NEW)
