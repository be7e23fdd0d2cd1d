"""The data dictionary as a page and as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, fields

from flask import Blueprint, Response, render_template
from flask_login import login_required

from trialdb.crf.definitions import load_forms
from trialdb.crf.dictionary import DictionaryRow, data_dictionary

bp = Blueprint("dictionary", __name__)


@bp.route("/dictionary")
@login_required  # type: ignore[untyped-decorator]
def page() -> str:
    return render_template("dictionary.html", rows=data_dictionary(), forms=load_forms())


@bp.route("/dictionary.csv")
@login_required  # type: ignore[untyped-decorator]
def as_csv() -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f.name for f in fields(DictionaryRow)])
    for row in data_dictionary():
        writer.writerow(astuple(row))
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=data_dictionary.csv"})
