"""Screening: a new participant, eligibility, consent and inclusion."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from trialdb.crf.definitions import code_label
from trialdb.crf.forms import BLANK_CHOICE, options, to_model_value
from trialdb.crf.messages import message, translated_meta
from trialdb.errors import NotFound, UserError
from trialdb.services import dashboard, participants, screening
from trialdb.services.form_entry import FormSave
from trialdb.study.consent import Signatory
from trialdb.vocab import Sex, StudyPart
from trialdb.web.base import actor, commit, db, entry_page, entry_required, participant_or_404
from trialdb.web.i18n import language, t
from trialdb.web.notice import notify
from trialdb.web.participants import (
    form_spec_or_404,
    handle_crf_post,
    posted_crf,
    render_crf,
    saved_crf,
)

bp = Blueprint("screening", __name__)

SIGNATORY_LABELS = {
    Signatory.PATIENT: ("Patient", "Patient"),
    Signatory.CHILD_ASSENT: ("Enfant (accord)", "Child (assent)"),
    Signatory.PARENT_1: ("Premier parent", "First parent"),
    Signatory.PARENT_2: ("Second parent", "Second parent"),
    Signatory.LEGAL_REPRESENTATIVE: ("Représentant légal", "Legal representative"),
    Signatory.INVESTIGATOR: ("Investigateur", "Investigator"),
}


def signatory_label(who: Signatory) -> str:
    fr, en = SIGNATORY_LABELS[who]
    return fr if language() == "fr" else en


def _new_participant_form(site_choices: list[tuple[str, str]]) -> FlaskForm:
    lang = language()
    required = InputRequired(message=message("required", lang))

    class NewParticipantForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
        site = SelectField(t("site"), choices=options(site_choices), validators=[required])
        part = SelectField(t("part"), validators=[required], choices=options([
            BLANK_CHOICE, *[(p.value, code_label(StudyPart, p.value, lang)) for p in StudyPart]]))
        sex = SelectField(t("sex"), validators=[required], choices=options([
            BLANK_CHOICE, *[(s.value, code_label(Sex, s.value, lang)) for s in Sex]]))
        birth_year = IntegerField(t("birth_year"), validators=[
            required, NumberRange(1900, 2100, message=message("max_inclusive", lang,
                                                              limit="2100"))])
        birth_month = SelectField(t("birth_month"), validators=[required], choices=options([
            BLANK_CHOICE, *[(str(i), name) for i, name in
                            enumerate(t("month_names").split(","), start=1)]]))
        screened_on = DateField(t("screened_on"), validators=[required], default=date.today)

    NewParticipantForm.Meta = translated_meta(lang)
    return NewParticipantForm()


@bp.route("/participants/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_page
def new() -> Response | str | tuple[str, int]:
    sites = dashboard.visible_sites(db(), actor())
    form = _new_participant_form([(s.code, f"{s.code} · {s.name}") for s in sites])
    if request.method == "GET" and request.args.get("site"):
        form.site.data = request.args["site"]
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            site = next((s for s in sites if s.code == form.site.data), None)
            try:
                if site is None:
                    raise NotFound("No such site.", "Centre introuvable.", field="site")
                participant = participants.register_participant(
                    db(), actor(), site_id=site.id, part=StudyPart(form.part.data),
                    sex=Sex(form.sex.data), birth_year=form.birth_year.data,
                    birth_month=int(form.birth_month.data), screened_on=form.screened_on.data)
            except UserError as error:
                target = error.field if error.field in form else (
                    "birth_year" if "birth" in error.message("en").lower() else None)
                if target:
                    form[target].errors = [*form[target].errors, error.message(language())]
                else:
                    errors.append(error.message(language()))
                status = error.status
            else:
                commit()
                notify("created_number", number=participant.study_number)
                return redirect(url_for("screening.form", study_number=participant.study_number,
                                        form_name="eligibility"))
        else:
            errors.append(t("fix_errors"))
    page = render_template("participant_new.html", form=form, form_errors=errors)
    return (page, status) if status != 200 else page


def _screening_context(state: screening.ScreeningState, participant: Any,
                       consent_on: date | None, only_one_parent_alive: bool,
                       minor_at_consent: bool | None) -> dict[str, Any]:
    when = consent_on or (state.consent.consent_on if state.consent else date.today())
    signers = screening.signatories_for(participant, when, only_one_parent_alive,
                                        minor_at_consent)
    return {"state": state, "signers": signers, "signatory_label": signatory_label,
            "Signatory": Signatory, "required_fields": signers.fields(signers.required),
            "recommended_fields": signers.fields(signers.recommended)}


@bp.route("/participants/<study_number>/screening/<form_name>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_required
def form(study_number: str, form_name: str) -> Response | tuple[str, int]:
    if form_name not in ("eligibility", "consent"):
        raise NotFound("No such form.", "Fiche introuvable.")
    spec = form_spec_or_404(form_name)
    posted = posted_crf(spec)  # before the first statement: see posted_crf
    participant = participant_or_404(study_number)
    state = screening.screening_state(db(), participant)
    record = state.eligibility if form_name == "eligibility" else state.consent
    status = 200
    if posted is None:
        crf = saved_crf(spec, record)
    else:
        crf = posted.form

        def saver(save: FormSave, _form: FlaskForm) -> Any:
            if form_name == "eligibility":
                return screening.save_eligibility(db(), actor(), participant, spec, save)
            return screening.save_consent(db(), actor(), participant, spec, save)

        saved, status = handle_crf_post(spec, posted, saver)
        if saved is not None:
            notify("saved")
            return redirect(url_for("screening.form", study_number=study_number,
                                    form_name=form_name))
    consent_on, only_one, statement = None, False, None
    if form_name == "consent":
        consent_on = crf.consent_on.data
        only_one = bool(crf.only_one_parent_alive.data)
        statement = to_model_value(spec.field("minor_at_consent"), crf.minor_at_consent.data)
    return render_crf(spec, participant, crf, record, status, template="screening_form.html",
                      **_screening_context(state, participant, consent_on, only_one, statement))


@bp.route("/participants/<study_number>/include", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_required
def include(study_number: str) -> Response:
    participant = participant_or_404(study_number)
    raw = request.form.get("included_on", "")
    try:
        included_on = date.fromisoformat(raw)
    except ValueError as error:
        raise UserError("Give the inclusion date.", "Indiquez la date d'inclusion.",
                        field="included_on") from error
    screening.include(db(), actor(), participant, included_on)
    commit()
    notify("included")
    return redirect(url_for("participants.show", study_number=participant.study_number))
