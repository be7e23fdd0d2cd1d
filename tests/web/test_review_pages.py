"""Review pages: verification, signatures shown with name, time and meaning,
locks refused on the server, queries, history, trail and the audit export."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from tests import factories
from tests.web.conftest import World, new_participant, post, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import ClinicalCourse, Participant, Site, User
from trialdb.services import records
from trialdb.vocab import Role

COURSE = {"crs_grade": 1, "icans_grade": 0, "tocilizumab": False, "ivig": False}


@dataclass
class Case:
    participant: Participant
    course_id: int
    investigator: User
    data_manager: User

    @property
    def review_url(self) -> str:
        return f"/participants/{self.participant.study_number}/review"

    def action_url(self, action: str, entity: str = "clinical_course",
                   record_id: int | None = None) -> str:
        target = self.course_id if record_id is None else record_id
        return f"{self.review_url}/{entity}/{target}/{action}"


@pytest.fixture()
def case(engine: Engine, world: World) -> Case:
    participant = new_participant(engine, world.site_a)
    with unit_of_work(make_session_factory(engine)) as session:
        site = session.get(Site, world.site_a.id)
        assert site is not None
        investigator = factories.user(session, Role.INVESTIGATOR, [site])
        data_manager = factories.user(session, Role.DATA_MANAGER, [])
        person = session.get(Participant, participant.id)
        assert person is not None
        course = records.create_record(session, factories.SYSTEM, person, ClinicalCourse,
                                       COURSE, complete=True)
        return Case(participant, course.id, investigator, data_manager)


def _client(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, email)
    return client


def test_monitor_verifies_and_a_later_change_clears_it(app: Flask, world: World,
                                                       case: Case) -> None:
    monitor = _client(app, world.monitor.email)
    response = post(monitor, case.action_url("verify"), {}, token_page=case.review_url)
    assert response.status_code == 302
    page = monitor.get(case.review_url).get_data(as_text=True)
    assert "status-verified" in page
    manager = _client(app, case.data_manager.email)
    coordinator = _client(app, world.coordinator_a.email)
    assert post(coordinator, case.action_url("verify"), {},
                token_page=case.review_url).status_code == 403
    delete = f"/participants/{case.participant.study_number}/forms/clinical_course/" \
             f"{case.course_id}/delete"
    assert post(coordinator, delete, {"reason": "entered twice"},
                token_page=case.review_url).status_code == 302
    assert "status-verified" not in manager.get(case.review_url).get_data(as_text=True)


def test_signature_is_shown_with_name_time_and_meaning(app: Flask, case: Case) -> None:
    investigator = _client(app, case.investigator.email)
    wrong = post(investigator, case.action_url("sign"),
                 {"meaning": "reviewed_and_approved", "password": "not my password"},
                 token_page=case.review_url)
    assert wrong.status_code == 422
    right = post(investigator, case.action_url("sign"),
                 {"meaning": "reviewed_and_approved", "password": factories.PASSWORD},
                 token_page=case.review_url)
    assert right.status_code == 302
    page = investigator.get(case.review_url).get_data(as_text=True)
    assert f"Signé par {case.investigator.display_name} le" in page
    assert "Revu et approuvé" in page


def test_locked_form_refuses_writes_whatever_the_client(app: Flask, world: World,
                                                        case: Case) -> None:
    manager = _client(app, case.data_manager.email)
    assert post(manager, case.action_url("lock"), {},
                token_page=case.review_url).status_code == 302
    coordinator = _client(app, world.coordinator_a.email)
    delete = f"/participants/{case.participant.study_number}/forms/clinical_course/" \
             f"{case.course_id}/delete"
    refused = post(coordinator, delete, {"reason": "x"}, token_page=case.review_url)
    assert refused.status_code == 403
    assert "verrouillées" in refused.get_data(as_text=True)
    assert post(manager, case.action_url("unlock"), {"reason": ""},
                token_page=case.review_url).status_code == 422
    assert post(manager, case.action_url("unlock"), {"reason": "monitor request"},
                token_page=case.review_url).status_code == 302
    assert post(coordinator, delete, {"reason": "x"},
                token_page=case.review_url).status_code == 302


def test_query_pages(app: Flask, world: World, case: Case) -> None:
    monitor = _client(app, world.monitor.email)
    assert post(monitor, case.action_url("query"),
                {"field": "crs_grade", "text": "Grade per ASTCT?"},
                token_page=case.review_url).status_code == 302
    coordinator = _client(app, world.coordinator_a.email)
    listing = coordinator.get("/queries").get_data(as_text=True)
    assert case.participant.study_number in listing and "crs_grade" in listing
    query_url = "/queries/" + listing.split('href="/queries/')[1].split('"')[0]
    assert post(coordinator, query_url, {"action": "answer", "text": "Grade 1 confirmed."}
                ).status_code == 302
    assert post(monitor, query_url, {"action": "close", "text": ""}).status_code == 302
    assert "Grade 1 confirmed." in monitor.get(query_url).get_data(as_text=True)
    other = _client(app, world.coordinator_b.email)
    assert other.get(query_url).status_code == 404
    assert case.participant.study_number not in other.get("/queries?status=closed").get_data(
        as_text=True)


def test_history_trail_and_other_site(app: Flask, world: World, case: Case) -> None:
    coordinator = _client(app, world.coordinator_a.email)
    history = coordinator.get(
        f"/participants/{case.participant.study_number}/history/clinical_course/{case.course_id}")
    assert history.status_code == 200 and "crs_grade" in history.get_data(as_text=True)
    trail = coordinator.get(f"/participants/{case.participant.study_number}/trail")
    assert trail.status_code == 200
    other = _client(app, world.coordinator_b.email)
    assert other.get(case.review_url).status_code == 404
    assert post(other, case.action_url("verify"), {}, token_page="/").status_code == 404


def test_audit_export_for_data_managers_only(app: Flask, world: World, case: Case) -> None:
    coordinator = _client(app, world.coordinator_a.email)
    assert coordinator.get("/audit/export").status_code == 403
    manager = _client(app, case.data_manager.email)
    response = post(manager, "/audit/export", {"start": "2020-01-01", "end": "2099-12-31"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.splitlines()[0].startswith("id,occurred_at,user_id")
    assert case.participant.study_number in body
    assert post(manager, "/audit/export", {"start": "yesterday", "end": ""}).status_code == 422


def test_history_and_trail_read_changes_with_the_forms_labels(app: Flask, world: World,
                                                             case: Case) -> None:
    coordinator = _client(app, world.coordinator_a.email)
    history = coordinator.get(
        f"/participants/{case.participant.study_number}/history/clinical_course/{case.course_id}"
    ).get_data(as_text=True)
    assert "Grade maximal de CRS (ASTCT)" in history
    assert "<td>Non</td>" in history  # tocilizumab: False, as the form says it
    assert "<td>False</td>" not in history
    trail = coordinator.get(f"/participants/{case.participant.study_number}/trail").get_data(
        as_text=True)
    assert "Immunoglobulines IV</span>: — → Non" in trail
