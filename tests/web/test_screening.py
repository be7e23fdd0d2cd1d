"""Screening: a new participant gets a study number; eligibility shows its
decision and reasons; the signatories follow the part and the age; inclusion
only when both allow it."""

from __future__ import annotations

import re
from datetime import date

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.web.conftest import World, post
from trialdb.db import make_session_factory
from trialdb.models import EligibilityAssessment, Participant
from trialdb.vocab import ParticipantStatus

ELIGIBLE = {"assessed_on": "2024-02-01", "car_t_for_refractory_disease": "yes",
            "cmv_igg_positive": "yes", "social_security_affiliation": "yes",
            "under_guardianship": "no", "ame_beneficiary": "no"}


def _create(client: FlaskClient, world: World, birth: tuple[int, int], part: str) -> str:
    response = post(client, "/participants/new", {
        "site": world.site_a.code, "part": part, "sex": "male", "birth_year": str(birth[0]),
        "birth_month": str(birth[1]), "screened_on": "2024-01-15"})
    assert response.status_code == 302
    match = re.match(r"/participants/([A-Z0-9]+-\d{4})/screening/eligibility",
                     response.headers["Location"])
    assert match is not None
    return match.group(1)


def _participant(engine: Engine, number: str) -> Participant:
    with make_session_factory(engine, write=False)() as session:
        participant = session.scalar(select(Participant).where(
            Participant.study_number == number))
        assert participant is not None
        return participant


def test_new_participant_gets_the_next_study_number(client_a: FlaskClient, world: World) -> None:
    first = _create(client_a, world, (1980, 5), "prospective")
    second = _create(client_a, world, (1981, 6), "retrospective")
    assert first.startswith(world.site_a.code + "-")
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


def test_new_participant_refuses_impossible_birth(client_a: FlaskClient, world: World) -> None:
    future = date.today().year + 1
    response = post(client_a, "/participants/new", {
        "site": world.site_a.code, "part": "prospective", "sex": "male",
        "birth_year": str(future), "birth_month": "1", "screened_on": "2024-01-15"})
    assert response.status_code == 422
    assert 'data-field="birth_year"' in response.get_data(as_text=True)


def test_eligibility_decision_and_reasons(client_a: FlaskClient, world: World,
                                          engine: Engine) -> None:
    number = _create(client_a, world, (1975, 2), "prospective")
    url = f"/participants/{number}/screening/eligibility"
    response = post(client_a, url, {**ELIGIBLE, "cmv_igg_positive": "no"})
    assert response.status_code == 302
    page = client_a.get(url).get_data(as_text=True)
    assert "Non éligible" in page
    assert "Patient séronégatif pour le CMV (critère d&#39;exclusion)." in page
    with make_session_factory(engine, write=False)() as session:
        answers = session.scalar(select(EligibilityAssessment).join(Participant).where(
            Participant.study_number == number))
        assert answers is not None and answers.decision == "not_eligible"
        assert "exclusion_cmv_seronegative" in answers.failed_criteria
    assert _participant(engine, number).status is ParticipantStatus.SCREEN_FAILURE


def test_twelve_year_old_prospective_needs_both_parents(client_a: FlaskClient, world: World,
                                                        engine: Engine) -> None:
    number = _create(client_a, world, (2012, 1), "prospective")
    post(client_a, f"/participants/{number}/screening/eligibility", ELIGIBLE)
    url = f"/participants/{number}/screening/consent"
    page = client_a.get(url).get_data(as_text=True)
    signers = re.findall(r'<li class="required" data-signatory="([a-z_0-9]+)"', page)
    assert sorted(signers) == ["investigator", "parent_1", "parent_2"]
    assert "Mineur à la date du consentement" in page
    consent = {"document_version": "v2.1", "document_date": "2023-10-01",
               "consent_on": "2024-02-01", "parent_1_signed_on": "2024-02-01",
               "investigator_signed_on": "2024-02-01"}
    post(client_a, url, consent)
    page = client_a.get(url).get_data(as_text=True)
    assert "Manquant : signature du second parent" in page
    assert 'id="include-form"' not in page
    token_page = f"/participants/{number}"
    blocked = post(client_a, f"/participants/{number}/include", {"included_on": "2024-02-02"},
                   token_page=token_page)
    assert blocked.status_code == 409
    assert _participant(engine, number).status is ParticipantStatus.SCREENING
    # only one living parent: the legal representative signs instead
    page = post(client_a, url, {**consent, "only_one_parent_alive": "y"}).get_data(as_text=True)
    page = client_a.get(url).get_data(as_text=True)
    signers = re.findall(r'<li class="required" data-signatory="([a-z_0-9]+)"', page)
    assert sorted(signers) == ["investigator", "legal_representative"]
    post(client_a, url, {**consent, "parent_2_signed_on": "2024-02-01"})
    page = client_a.get(url).get_data(as_text=True)
    assert 'id="include-form"' in page and "Consentement valide" in page
    response = post(client_a, f"/participants/{number}/include", {"included_on": "2024-02-02"},
                    token_page=token_page)
    assert response.status_code == 302
    included = _participant(engine, number)
    assert included.status is ParticipantStatus.INCLUDED
    assert included.included_on == date(2024, 2, 2)


def test_adult_retrospective_needs_patient_and_investigator(client_a: FlaskClient,
                                                            world: World) -> None:
    number = _create(client_a, world, (1960, 4), "retrospective")
    page = client_a.get(f"/participants/{number}/screening/consent").get_data(as_text=True)
    signers = re.findall(r'<li class="required" data-signatory="([a-z_0-9]+)"', page)
    assert sorted(signers) == ["investigator", "patient"]
    assert "Rétrospective (non-opposition)" in page
