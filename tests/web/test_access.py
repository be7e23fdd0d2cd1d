"""Every protected URL needs a sign-in; a coordinator of site B never reaches a
participant of site A (404), whatever URL or form field is tampered with."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.web.conftest import World, csrf_token, new_participant, post, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import CarTInfusion, Participant
from trialdb.services import records
from trialdb.services.actor import Actor
from trialdb.vocab import CarTProduct, Disease, DiseaseStatus, Lymphodepletion, TargetAntigen

PROTECTED_GET = [
    "/", "/participants/new", "/dictionary", "/dictionary.csv", "/admin/users",
    "/admin/users/new", "/participants/{sn}", "/participants/{sn}/forms/infusion",
    "/participants/{sn}/forms/serology", "/participants/{sn}/forms/serology/new",
    "/participants/{sn}/screening/eligibility", "/participants/{sn}/screening/consent",
    "/participants/{sn}/viral-loads", "/participants/{sn}/genotypes/new",
]


@pytest.fixture()
def participant_a(engine: Engine, world: World) -> Participant:
    return new_participant(engine, world.site_a)


@pytest.mark.parametrize("path", PROTECTED_GET)
def test_anonymous_is_sent_to_sign_in(app: Flask, world: World, participant_a: Participant,
                                      path: str) -> None:
    response = app.test_client().get(path.format(sn=participant_a.study_number))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_preview_api_answers_401_json_when_anonymous(app: Flask, participant_a: Participant) -> None:
    response = app.test_client().post(
        f"/api/participants/{participant_a.study_number}/viral-loads/preview", json={"rows": []})
    assert response.status_code in (400, 401)  # CSRF or sign-in: never data


def _infusion(engine: Engine, participant: Participant) -> CarTInfusion:
    from datetime import date

    with unit_of_work(make_session_factory(engine)) as session:
        fresh = session.get(Participant, participant.id)
        assert fresh is not None
        record = records.create_record(session, Actor.system("test"), fresh, CarTInfusion, {
            "infused_on": date(2024, 3, 10), "product": CarTProduct.TISAGENLECLEUCEL,
            "target_antigen": TargetAntigen.CD19, "disease": Disease.ALL,
            "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2, "prior_allo_hsct": False,
            "bridging_therapy": False, "lymphodepletion": Lymphodepletion.FLU_CY})
        return record


@pytest.fixture()
def client_b(app: Flask, world: World) -> FlaskClient:
    client = app.test_client()
    sign_in(client, world.coordinator_b.email)
    return client


@pytest.mark.parametrize("path", [p for p in PROTECTED_GET if "{sn}" in p])
def test_other_site_gets_404(client_b: FlaskClient, participant_a: Participant, path: str) -> None:
    response = client_b.get(path.format(sn=participant_a.study_number))
    assert response.status_code == 404
    assert "participant-bar" not in response.get_data(as_text=True)


def test_other_site_cannot_reach_a_record_by_id(client_b: FlaskClient, engine: Engine,
                                                participant_a: Participant, world: World) -> None:
    record = _infusion(engine, participant_a)
    # the participant of site B, with the record id of site A in the URL
    own = new_participant(engine, world.site_b)
    url = f"/participants/{own.study_number}/forms/infusion/{record.id}"
    assert client_b.get(url).status_code == 404
    token = csrf_token(client_b, f"/participants/{own.study_number}")
    response = client_b.post(url, data={"csrf_token": token, "infused_on": "2024-03-11"})
    assert response.status_code == 404
    response = client_b.post(f"{url}/delete", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 404


def test_other_site_cannot_post_to_any_form(client_b: FlaskClient, engine: Engine,
                                            participant_a: Participant, world: World) -> None:
    sn = participant_a.study_number
    token = csrf_token(client_b, "/")
    for path in (f"/participants/{sn}/forms/infusion", f"/participants/{sn}/screening/eligibility",
                 f"/participants/{sn}/include", f"/participants/{sn}/viral-loads",
                 f"/participants/{sn}/genotypes/new"):
        assert client_b.post(path, data={"csrf_token": token}).status_code == 404, path
    response = client_b.post(f"/api/participants/{sn}/viral-loads/preview",
                             json={"rows": [{"sampled_on": "2024-03-10", "result": "5951"}]},
                             headers={"X-CSRFToken": token})
    assert response.status_code == 404
    assert response.get_json() == {"error": "Participant introuvable."}


def test_site_field_cannot_be_tampered_with(client_b: FlaskClient, engine: Engine,
                                            world: World) -> None:
    def count() -> int:
        with make_session_factory(engine, write=False)() as session:
            return session.scalar(select(func.count()).select_from(Participant).where(
                Participant.site_id == world.site_a.id)) or 0

    before = count()
    response = post(client_b, "/participants/new", {
        "site": world.site_a.code, "part": "prospective", "sex": "male", "birth_year": "1980",
        "birth_month": "3", "screened_on": "2024-01-10"})
    assert response.status_code in (404, 422)
    assert count() == before


def test_monitor_is_read_only(app: Flask, world: World, participant_a: Participant) -> None:
    client = app.test_client()
    sign_in(client, world.monitor.email)
    sn = participant_a.study_number
    assert client.get(f"/participants/{sn}").status_code == 200
    response = post(client, f"/participants/{sn}/forms/infusion", {"infused_on": "2024-03-10"},
                    token_page=f"/participants/{sn}")
    assert response.status_code == 403
    assert client.get("/admin/users").status_code == 403
