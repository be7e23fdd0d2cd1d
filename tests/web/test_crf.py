"""CRFs from forms/*.yaml: types, choices and hard limits from the model;
labels, soft limits, show-if and date rules from the definition; errors next
to their field in the user's language; nothing half-saved."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.web.conftest import World, csrf_token, new_participant, post
from trialdb.crf.definitions import DefinitionError, Limit, load_forms, parse_definition
from trialdb.crf.dictionary import data_dictionary
from trialdb.db import make_session_factory
from trialdb.models import AuditEvent, CarTInfusion, ClinicalCourse, DataQuery, Participant
from trialdb.vocab import CarTProduct, QueryStatus

FORMS = ["eligibility", "consent", "infusion", "serology", "clinical_course", "corticosteroids",
         "immune_measurements", "viral_loads", "antivirals", "cmv_disease",
         "resistance_genotype", "follow_up", "deviations"]

INFUSION = {"infused_on": "2024-03-10", "product": "tisagenlecleucel", "target_antigen": "CD19",
            "disease": "ALL", "disease_status": "relapse", "prior_lines": "2",
            "prior_allo_hsct": "no", "bridging_therapy": "no", "lymphodepletion": "flu_cy"}


def test_every_form_is_defined_in_order() -> None:
    assert list(load_forms()) == FORMS


def test_type_choices_and_hard_limits_come_from_the_model() -> None:
    course = load_forms()["clinical_course"]
    crs = course.field("crs_grade")
    assert crs.kind == "int" and crs.minimum == Limit(0) and crs.maximum == Limit(5)
    assert crs.soft_maximum == 4 and crs.required
    assert course.field("tocilizumab").kind == "yesno"
    infusion = load_forms()["infusion"]
    assert infusion.field("product").codes == CarTProduct.values()
    assert infusion.field("prior_lines").maximum == Limit(20)
    dose = load_forms()["corticosteroids"].field("daily_dose_mg")
    assert dose.minimum == Limit(0, inclusive=False) and dose.unit == "mg"
    # a conditional CHECK (x > 0 OR y IS NULL) is not read as a range
    assert course.field("crs_onset_on").minimum is None
    assert load_forms()["eligibility"].field("cmv_igg_positive").kind == "tristate"


def test_definition_errors_are_caught(tmp_path: Path) -> None:
    raw = {"form": "x", "model": "ClinicalCourse", "title": {"fr": "x", "en": "x"},
           "sections": [{"title": {"fr": "s", "en": "s"},
                         "fields": [{"name": "no_such_column", "label": {"fr": "a", "en": "a"}}]}]}
    with pytest.raises(DefinitionError, match="no_such_column"):
        parse_definition(raw, tmp_path / "x.yaml")
    raw["sections"][0]["fields"] = [{"name": "crs_grade", "label": {"fr": "a"}}]
    with pytest.raises(DefinitionError, match=r"expected \{fr: \.\.\., en"):
        parse_definition(raw, tmp_path / "x.yaml")


def test_data_dictionary_lists_every_field_with_both_labels() -> None:
    rows = data_dictionary()
    expected = sum(len(form.fields) for form in load_forms().values())
    assert len(rows) == expected
    assert all(row.label_fr and row.label_en for row in rows)
    crs = next(r for r in rows if r.form == "clinical_course" and r.field == "crs_grade")
    assert crs.hard_limits == ">= 0, <= 5" and crs.soft_limits == "<= 4"
    product = next(r for r in rows if r.field == "product")
    assert "tisagenlecleucel = Tisagenlecleucel (Kymriah)" in product.codes


def test_dictionary_page_and_csv(client_a: FlaskClient) -> None:
    page = client_a.get("/dictionary").get_data(as_text=True)
    assert "crs_grade" in page and "Grade maximal de CRS (ASTCT)" in page
    csv = client_a.get("/dictionary.csv")
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0].startswith("form,field,type")


@pytest.fixture()
def participant(engine: Engine, world: World) -> Participant:
    return new_participant(engine, world.site_a, birth=(2000, 6))


def _count(engine: Engine, model: type, participant: Participant) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(model).where(
            model.participant_id == participant.id)) or 0


def _error_for(page: str, field: str) -> list[str]:
    return [html.unescape(text) for text in
            re.findall(rf'<p class="error" data-field="{field}">([^<]+)</p>', page)]


def test_infusion_saves_and_is_audited(client_a: FlaskClient, engine: Engine,
                                       participant: Participant) -> None:
    url = f"/participants/{participant.study_number}/forms/infusion"
    response = post(client_a, url, {**INFUSION, "complete": "y"})
    assert response.status_code == 302
    with make_session_factory(engine, write=False)() as session:
        record = session.scalar(select(CarTInfusion).where(
            CarTInfusion.participant_id == participant.id))
        assert record is not None and record.infused_on == date(2024, 3, 10)
        assert record.is_complete and record.prior_allo_hsct is False
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "car_t_infusion", AuditEvent.entity_id == record.id)) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("infused_on", (date.today() + timedelta(days=2)).isoformat(), "Cette date est dans le futur."),
    ("infused_on", "1999-12-31", "Cette date précède la naissance (06/2000)."),
    ("infused_on", "2024-02-30", "Date invalide"),
    ("prior_lines", "21", "La valeur doit être au plus 20."),
    ("prior_lines", "-1", "La valeur doit être au moins 0."),
    ("prior_lines", "deux", "Nombre entier attendu."),
    ("product", "kymriah", "Choix invalide."),
    ("disease", "", "Ce champ est obligatoire."),
])
def test_refused_values_are_shown_next_to_their_field(client_a: FlaskClient, engine: Engine,
                                                      participant: Participant, field: str,
                                                      value: str, message: str) -> None:
    url = f"/participants/{participant.study_number}/forms/infusion"
    response = post(client_a, url, {**INFUSION, field: value})
    assert response.status_code == 422
    errors = _error_for(response.get_data(as_text=True), field)
    assert errors and errors[0].startswith(message)
    assert _count(engine, CarTInfusion, participant) == 0


def test_errors_in_english(client_a: FlaskClient, participant: Participant) -> None:
    token = csrf_token(client_a, "/")
    client_a.post("/language", data={"lang": "en", "csrf_token": token})
    url = f"/participants/{participant.study_number}/forms/infusion"
    response = post(client_a, url, {**INFUSION, "prior_lines": "99"})
    assert _error_for(response.get_data(as_text=True), "prior_lines") == [
        "The value must be at most 20."]


def test_date_before_d0_is_refused(client_a: FlaskClient, engine: Engine,
                                   participant: Participant) -> None:
    sn = participant.study_number
    course = {"crs_grade": "2", "crs_onset_on": "2024-03-01", "icans_grade": "0",
              "tocilizumab": "no", "ivig": "no"}
    response = post(client_a, f"/participants/{sn}/forms/clinical_course", course)
    assert response.status_code == 422
    assert _error_for(response.get_data(as_text=True), "crs_onset_on")[0].startswith(
        "Saisissez d'abord l'infusion")
    post(client_a, f"/participants/{sn}/forms/infusion", INFUSION)
    response = post(client_a, f"/participants/{sn}/forms/clinical_course", course)
    assert _error_for(response.get_data(as_text=True), "crs_onset_on") == [
        "Cette date précède l'infusion (J0, 10/03/2024)."]
    assert _count(engine, ClinicalCourse, participant) == 0
    response = post(client_a, f"/participants/{sn}/forms/clinical_course",
                    {**course, "crs_onset_on": "2024-03-12"})
    assert response.status_code == 302


def test_soft_limit_warns_then_saves_with_confirmation(client_a: FlaskClient, engine: Engine,
                                                       participant: Participant) -> None:
    sn = participant.study_number
    post(client_a, f"/participants/{sn}/forms/infusion", INFUSION)
    course = {"crs_grade": "5", "crs_onset_on": "2024-03-12", "icans_grade": "0",
              "tocilizumab": "no", "ivig": "no"}
    response = post(client_a, f"/participants/{sn}/forms/clinical_course", course)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Valeur inhabituelle (au-dessus de 4)" in page and 'name="confirm_soft"' in page
    assert _count(engine, ClinicalCourse, participant) == 0
    response = post(client_a, f"/participants/{sn}/forms/clinical_course",
                    {**course, "confirm_soft": "y"})
    assert response.status_code == 302
    assert _count(engine, ClinicalCourse, participant) == 1
    # the confirmed value raises a query for a monitor to look at
    with make_session_factory(engine, write=False)() as session:
        queries = list(session.scalars(select(DataQuery).where(
            DataQuery.participant_id == participant.id)))
        assert [(q.entity, q.field, q.status, q.raised_by_id) for q in queries] == [
            ("clinical_course", "crs_grade", QueryStatus.OPEN, None)]
        assert "au-dessus de 4" in queries[0].messages[0].text


def test_hidden_show_if_fields_are_emptied(client_a: FlaskClient, engine: Engine,
                                           participant: Participant) -> None:
    sn = participant.study_number
    post(client_a, f"/participants/{sn}/forms/infusion", INFUSION)
    response = post(client_a, f"/participants/{sn}/forms/clinical_course", {
        "crs_grade": "0", "crs_onset_on": "2024-03-12", "icans_grade": "0",
        "tocilizumab": "no", "tocilizumab_doses": "3", "ivig": "no"})
    assert response.status_code == 302
    with make_session_factory(engine, write=False)() as session:
        record = session.scalar(select(ClinicalCourse).where(
            ClinicalCourse.participant_id == participant.id))
        assert record is not None
        assert record.crs_onset_on is None and record.tocilizumab_doses is None


def test_complete_form_needs_a_reason_to_change(client_a: FlaskClient, engine: Engine,
                                                participant: Participant) -> None:
    url = f"/participants/{participant.study_number}/forms/infusion"
    post(client_a, url, {**INFUSION, "complete": "y"})
    page = client_a.get(url).get_data(as_text=True)
    version = re.search(r'name="row_version" type="hidden" value="(\d+)"', page)
    assert version is not None
    changed = {**INFUSION, "prior_lines": "3", "complete": "y", "row_version": version.group(1)}
    response = post(client_a, url, changed)
    assert response.status_code == 422
    assert "indiquez le motif" in response.get_data(as_text=True)
    response = post(client_a, url, {**changed, "reason": "source document re-read"})
    assert response.status_code == 302
    # a save based on the old version is refused, not applied over the new one
    response = post(client_a, url, {**changed, "prior_lines": "4", "reason": "again"})
    assert response.status_code == 409


def test_repeating_form_list_add_and_delete(client_a: FlaskClient, engine: Engine,
                                            participant: Participant) -> None:
    sn = participant.study_number
    post(client_a, f"/participants/{sn}/forms/infusion", INFUSION)
    course = {"drug": "letermovir", "indication": "prophylaxis", "started_on": "2024-03-11",
              "ended_on": "2024-03-05"}
    response = post(client_a, f"/participants/{sn}/forms/antivirals/new", course)
    assert response.status_code == 422
    assert _error_for(response.get_data(as_text=True), "ended_on")[0].startswith(
        "Cette date précède « Premier jour »")
    response = post(client_a, f"/participants/{sn}/forms/antivirals/new",
                    {**course, "ended_on": "2024-06-01", "stop_reason": "end_of_prophylaxis",
                     "dose_mg": "480"})
    assert response.status_code == 302
    page = client_a.get(f"/participants/{sn}/forms/antivirals").get_data(as_text=True)
    assert "Letermovir" in page and "480" in page
    record_id = re.search(rf"/participants/{sn}/forms/antivirals/(\d+)", page)
    assert record_id is not None
    delete_url = f"/participants/{sn}/forms/antivirals/{record_id.group(1)}/delete"
    token = csrf_token(client_a, f"/participants/{sn}")
    assert client_a.post(delete_url, data={"csrf_token": token, "reason": " "}).status_code == 422
    assert client_a.post(delete_url, data={"csrf_token": token,
                                           "reason": "duplicate"}).status_code == 302
    page = client_a.get(f"/participants/{sn}/forms/antivirals").get_data(as_text=True)
    assert "480" not in page


def test_garbage_never_gives_a_500(client_a: FlaskClient, participant: Participant,
                                   app: Flask) -> None:
    sn = participant.study_number
    junk = {"infused_on": "\x00", "prior_lines": "9" * 40, "product": "'; drop table x; --",
            "row_version": "abc", "complete": "maybe", "crs_grade": "1e999",
            "daily_dose_mg": "nan", "dose_mg": "inf", "description": "x" * 100000}
    for path in ("forms/infusion", "forms/clinical_course", "forms/corticosteroids/new",
                 "forms/antivirals/new", "forms/deviations/new", "forms/nope",
                 "forms/infusion/999999999", "forms/serology/99999999999999999999999",
                 "forms/serology/99999999999999999999999/delete", "screening/eligibility",
                 "screening/consent",
                 "screening/other", "viral-loads", "genotypes/new", "include"):
        response = post(client_a, f"/participants/{sn}/{path}", junk,
                        token_page=f"/participants/{sn}")
        assert 300 <= response.status_code < 500, (path, response.status_code)
