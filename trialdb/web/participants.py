"""The participant page and the generic CRF pages (one record or a list)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import Executable, bindparam, select
from werkzeug.wrappers import Response

from trialdb.crf.definitions import FieldSpec, FormSpec, load_forms
from trialdb.crf.forms import display_value, form_class, form_data, is_shown, model_values
from trialdb.errors import NotFound, UserError
from trialdb.models import AntiviralCourse, Participant
from trialdb.services import dashboard, form_entry, records, viral_loads
from trialdb.services.form_entry import FieldErrors, FormSave, SoftLimitWarnings
from trialdb.study.timeline import age_at
from trialdb.web.base import actor, commit, db, entry_page, entry_required, participant_or_404
from trialdb.web.chart import viral_load_svg
from trialdb.web.i18n import language, t
from trialdb.web.notice import notify

bp = Blueprint("participants", __name__)

Saver = Callable[[FormSave, Any], Any]


def form_spec_or_404(name: str) -> FormSpec:
    spec = load_forms().get(name)
    if spec is None:
        raise NotFound("No such form.", "Fiche introuvable.")
    return spec


MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases


_RECORD_LOOKUPS: dict[type[Any], Executable] = {}


def record_or_404(spec: FormSpec, participant: Participant, record_id: int) -> Any:
    """A live record of this participant (404 otherwise)."""
    model = spec.model
    statement = _RECORD_LOOKUPS.get(model)
    if statement is None:  # built once per form: a statement memoises its cache key
        statement = _RECORD_LOOKUPS[model] = select(model).where(
            model.id == bindparam("record_id"),
            model.participant_id == bindparam("participant_id"), model.is_deleted.is_(False))
    record = db().execute(statement, {"record_id": record_id, "participant_id": participant.id}
                          ).scalar() if 0 < record_id <= MAX_ID else None
    if record is None:
        raise NotFound("No such record.", "Fiche introuvable.")
    return record


def viral_loads_url(study_number: str) -> str:
    """Where the signed-in user opens a participant's viral loads: the entry grid,
    or for a read-only role the results listed on the participant page."""
    if current_user.may_enter_data:
        return url_for("viral_loads.grid", study_number=study_number)
    return url_for("participants.show", study_number=study_number, _anchor="viral-loads")


def entry_url(spec: FormSpec, participant: Participant, record: Any | None = None) -> str:
    """Where a form is entered: its own page, the grid, the genotype page or screening."""
    number = participant.study_number
    if spec.entry == "grid":
        return viral_loads_url(number)
    if spec.entry == "genotype":
        if record is not None:
            return url_for("genotypes.edit", study_number=number, record_id=record.id)
        return url_for("participants.form_page", study_number=number, form_name=spec.name)
    if spec.entry == "screening":
        return url_for("screening.form", study_number=number, form_name=spec.name)
    if record is not None:
        return url_for("participants.record_page", study_number=number, form_name=spec.name,
                       record_id=record.id)
    return url_for("participants.form_page", study_number=number, form_name=spec.name)


def sections_for(spec: FormSpec, form: FlaskForm) -> list[tuple[str, list[tuple[FieldSpec, Any]]]]:
    lang = language()
    return [(section.title.get(lang), [(f, form[f.name]) for f in section.fields])
            for section in spec.sections]


class Posted(NamedTuple):
    """A CRF as posted, and whether its fields passed the form's own checks."""

    form: FlaskForm
    valid: bool


def posted_crf(spec: FormSpec) -> Posted | None:
    """On a POST, the form parsed and checked before the view's first statement.

    On SQLite a writer's first statement takes the database's write lock, which
    every other save waits for: nothing that can do without the database (parsing,
    field checks) should run while it is held.
    """
    if request.method != "POST":
        return None
    form = form_class(spec, language())()
    return Posted(form, form.validate())


def saved_crf(spec: FormSpec, record: Any | None) -> FlaskForm:
    """The form a page shows: filled from the saved record, or blank."""
    return form_class(spec, language())(data=form_data(spec, record))


def handle_crf_post(spec: FormSpec, posted: Posted, saver: Saver) -> tuple[Any, int]:
    """Save a posted CRF; returns (saved object or None, HTTP status).

    Errors are attached to their fields (or to `form.form_errors`), in the
    user's language; nothing is committed unless everything passed.
    """
    lang = language()
    form = posted.form
    form.form_errors = []
    form.soft_warnings = {}
    if not posted.valid:
        form.form_errors.append(t("fix_errors"))
        return None, 422
    version = form.row_version.data
    save = FormSave(
        values=model_values(spec, form),
        complete=bool(form.complete.data),
        confirm_soft=bool(form.confirm_soft.data),
        expected_version=int(version) if version and str(version).isdigit() else None,
        reason=form.reason.data,
    )
    try:
        saved = saver(save, form)
    except SoftLimitWarnings as warnings:
        form.soft_warnings = warnings.for_language(lang)
        form.form_errors.append(t("confirm_needed"))
        return None, 422
    except FieldErrors as errors:
        for name, text in errors.for_language(lang).items():
            _field_error(form, name, text)
        form.form_errors.append(t("fix_errors"))
        return None, 422
    except UserError as error:
        if error.field and error.field in form:
            _field_error(form, error.field, error.message(lang))
        else:
            form.form_errors.append(error.message(lang))
        return None, error.status
    commit()
    return saved, 200


def _field_error(form: FlaskForm, name: str, text: str) -> None:
    field = form._fields.get(name)
    if field is None:
        form.form_errors.append(text)
        return
    field.errors = [*list(field.errors or []), text]


def render_crf(spec: FormSpec, participant: Participant, form: FlaskForm, record: Any | None,
               status: int = 200, template: str = "crf_form.html",
               **extra: Any) -> tuple[str, int]:
    page = render_template(
        template, spec=spec, participant=participant, form=form, record=record,
        sections=sections_for(spec, form), title=spec.title.get(language()),
        soft_warnings=getattr(form, "soft_warnings", {}),
        form_errors=getattr(form, "form_errors", []), **extra)
    return page, status


@bp.route("/participants/<study_number>")
@login_required  # type: ignore[untyped-decorator]
def show(study_number: str) -> str:
    participant = participant_or_404(study_number)
    session = db()
    statuses = dashboard.participant_form_statuses(session, participant.id)
    d0 = form_entry.infusion_date(session, participant.id)
    today = date.today()
    chart = None
    loads = viral_loads.participant_loads(session, participant.id)
    if d0 is not None and loads:
        courses = form_entry.participant_records(session, load_forms()["antivirals"],
                                                 participant.id)
        chart = viral_load_svg(loads, [c for c in courses if isinstance(c, AntiviralCourse)], d0,
                               today, {"title": t("chart_title"), "day": t("study_day"),
                                       "lang": language(), "hollow": t("not_quantified")})
    age = age_at(participant.birth_year, participant.birth_month, today)
    forms = [(spec, statuses[spec.name], entry_url(spec, participant))
             for spec in load_forms().values()]
    return render_template("participant.html", participant=participant, forms=forms, d0=d0,
                           chart=chart, age=age, loads=loads)


@bp.route("/participants/<study_number>/forms/<form_name>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_required
def form_page(study_number: str, form_name: str) -> Response | tuple[str, int] | str:
    spec = form_spec_or_404(form_name)
    single = spec.entry == "generic" and not spec.repeating
    posted = posted_crf(spec) if single else None
    participant = participant_or_404(study_number)
    if spec.entry in ("grid", "screening"):
        return redirect(entry_url(spec, participant))
    if spec.repeating:
        if request.method == "POST":
            abort(405)
        rows = form_entry.participant_records(db(), spec, participant.id)
        lang = language()
        table = [(record, [display_value(f, getattr(record, f.name), lang) for f in spec.fields])
                 for record in rows]
        return render_template("crf_list.html", spec=spec, participant=participant, table=table,
                               title=spec.title.get(lang), entry_url=entry_url)
    record = form_entry.existing_record(db(), spec, participant.id)
    return _edit(spec, participant, record, posted)


@bp.route("/participants/<study_number>/forms/<form_name>/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_page
def new_record(study_number: str, form_name: str) -> Response | tuple[str, int] | str:
    spec = form_spec_or_404(form_name)
    posted = posted_crf(spec) if spec.entry == "generic" else None
    participant = participant_or_404(study_number)
    if spec.entry != "generic":
        return redirect(entry_url(spec, participant))
    return _edit(spec, participant, None, posted)


@bp.route("/participants/<study_number>/forms/<form_name>/<int:record_id>",
          methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_required
def record_page(study_number: str, form_name: str,
                record_id: int) -> Response | tuple[str, int] | str:
    spec = form_spec_or_404(form_name)
    posted = posted_crf(spec) if spec.entry == "generic" else None
    participant = participant_or_404(study_number)
    if spec.entry != "generic":
        return redirect(entry_url(spec, participant))
    return _edit(spec, participant, record_or_404(spec, participant, record_id), posted)


def _edit(spec: FormSpec, participant: Participant, record: Any | None,
          posted: Posted | None) -> Response | tuple[str, int]:
    if posted is None:
        return render_crf(spec, participant, saved_crf(spec, record), record)

    def saver(save: FormSave, _form: FlaskForm) -> Any:
        return form_entry.save_form(db(), actor(), participant, spec, save, record=record)

    saved, status = handle_crf_post(spec, posted, saver)
    if saved is None:
        return render_crf(spec, participant, posted.form, record, status)
    notify("saved")
    target = url_for("participants.form_page", study_number=participant.study_number,
                     form_name=spec.name) if spec.repeating else url_for(
        "participants.show", study_number=participant.study_number)
    return redirect(target)


@bp.route("/participants/<study_number>/forms/<form_name>/<int:record_id>/delete",
          methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_required
def delete(study_number: str, form_name: str, record_id: int) -> Response:
    participant = participant_or_404(study_number)
    spec = form_spec_or_404(form_name)
    record = record_or_404(spec, participant, record_id)
    records.delete_record(db(), actor(), record, request.form.get("reason", ""))
    commit()
    notify("deleted")
    return redirect(url_for("participants.show", study_number=participant.study_number))


__all__ = ["bp", "entry_url", "handle_crf_post", "is_shown", "render_crf", "viral_loads_url"]
