"""The assays page: administrators and data managers list, declare and correct
the laboratories' assays (trialdb.services.assays does the checking and the audit)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField

from trialdb.crf.definitions import code_label
from trialdb.crf.forms import BLANK_CHOICE, options
from trialdb.errors import UserError
from trialdb.models import Assay
from trialdb.services import assays as service
from trialdb.services.form_entry import FieldErrors
from trialdb.vocab import LoadUnit, Specimen, Virus
from trialdb.web.base import actor, commit, db
from trialdb.web.i18n import language, t
from trialdb.web.notice import notify

bp = Blueprint("assays", __name__)
_FIELDS = ("name", "virus", "specimen", "unit", "limit_of_detection", "lloq", "copies_per_iu")


def _choices(enum_class: Any) -> Any:
    lang = language()
    return options([BLANK_CHOICE, *[(m.value, code_label(enum_class, m.value, lang))
                                    for m in enum_class]])


def _assay_form(used: bool) -> FlaskForm:
    """The form: rendering and CSRF only; the service checks the values."""

    class AssayForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
        name = StringField(t("assay_name"), description=t("assay_name_help"))
        virus = SelectField(t("virus"), choices=_choices(Virus), validate_choice=False)
        specimen = SelectField(t("specimen"), choices=_choices(Specimen), validate_choice=False)
        unit = SelectField(t("unit"), choices=_choices(LoadUnit), validate_choice=False,
                           description=t("assay_unit_help"))
        limit_of_detection = StringField(t("limit_of_detection"), description=t("in_assay_unit"))
        lloq = StringField(t("lloq"), description=t("in_assay_unit"))
        copies_per_iu = StringField(t("copies_per_iu"), description=t("copies_per_iu_help"))

    if used:
        AssayForm.reason = StringField(t("reason"), description=t("assay_reason_help"))
    return AssayForm()


def _values(form: FlaskForm) -> service.AssayValues:
    return service.AssayValues(**{name: str(form[name].data or "") for name in _FIELDS})


def _show_errors(form: FlaskForm, error: UserError) -> list[str]:
    """Each message next to its field; what belongs to no field above the form."""
    lang = language()
    found = error.for_language(lang) if isinstance(error, FieldErrors) else (
        {error.field: error.message(lang)} if error.field else {})
    general = [] if found else [error.message(lang)]
    for name, text in found.items():
        if name in form:
            form[name].errors = [*list(form[name].errors or []), text]
        else:
            general.append(text)
    return [t("fix_errors"), *general]


@bp.route("/assays")
@login_required  # type: ignore[untyped-decorator]
def index() -> str:
    service.require_manager(actor())
    return render_template("assays.html", rows=service.list_assays(db()), Virus=Virus,
                           Specimen=Specimen, LoadUnit=LoadUnit)


@bp.route("/assays/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def new() -> Response | str | tuple[str, int]:
    service.require_manager(actor())
    form = _assay_form(used=False)
    if not form.is_submitted():
        return render_template("assay_form.html", form=form, assay=None, used=0, form_errors=[])
    try:
        service.create_assay(db(), actor(), _values(form))
    except UserError as error:
        return render_template("assay_form.html", form=form, assay=None, used=0,
                               form_errors=_show_errors(form, error)), error.status
    commit()
    notify("assay_created")
    return redirect(url_for("assays.index"))


@bp.route("/assays/<int:assay_id>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def edit(assay_id: int) -> Response | str | tuple[str, int]:
    assay: Assay = service.get_assay(db(), actor(), assay_id)
    used = service.result_count(db(), assay.id)
    form = _assay_form(used=bool(used))
    if not form.is_submitted():
        form.process(data=service.AssayValues.of(assay).__dict__)
        return render_template("assay_form.html", form=form, assay=assay, used=used,
                               form_errors=[])
    try:
        service.update_assay(db(), actor(), assay.id, _values(form),
                             reason=str(form.reason.data or "") if used else "")
    except UserError as error:
        return render_template("assay_form.html", form=form, assay=assay, used=used,
                               form_errors=_show_errors(form, error)), error.status
    commit()
    notify("assay_saved")
    return redirect(url_for("assays.index"))
