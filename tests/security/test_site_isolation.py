"""A user of another site never reaches site A's objects: participants, their
records and results, queries, the audit trail. Every route that names a
participant is enumerated from the URL map, so a new blueprint (exports,
reports, API) is covered the day it is registered."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests import factories
from tests.security.conftest import SiteAObjects, fill_rule
from tests.web.conftest import World, csrf_token, new_participant, post, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import AuditEvent, Site
from trialdb.vocab import Role


def _participant_rules(app: Flask) -> list[tuple[str, str]]:
    return sorted({(rule.rule, method) for rule in app.url_map.iter_rules()
                   if "<study_number>" in rule.rule
                   for method in (rule.methods or set()) & {"GET", "POST"}})


@pytest.fixture()
def client_b(app: Flask, world: World) -> FlaskClient:
    client = app.test_client()
    sign_in(client, world.coordinator_b.email)
    return client


def _audit_count(engine: Engine) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_every_participant_route_is_refused_to_another_site(
        app: Flask, client_b: FlaskClient, site_a_objects: SiteAObjects, engine: Engine) -> None:
    rules = _participant_rules(app)
    assert len(rules) >= 15, rules  # the enumeration really found the routes
    token = csrf_token(client_b, "/")
    before = _audit_count(engine)
    for rule, method in rules:
        url = fill_rule(rule, site_a_objects)
        if method == "GET":
            response = client_b.get(url)
        elif rule.startswith("/api/"):
            response = client_b.post(url, json={"rows": []}, headers={"X-CSRFToken": token})
        else:
            response = client_b.post(url, data={"csrf_token": token, "reason": "x",
                                                "text": "x", "password": factories.PASSWORD})
        # the token API ignores the session cookie altogether: 401, no data
        refused = (401, 403, 404) if rule.startswith("/api/v") else (403, 404)
        assert response.status_code in refused, (method, url, response.status_code)
        body = response.get_data(as_text=True)
        assert response.mimetype in ("text/html", "application/json"), (method, url)
        assert "participant-bar" not in body, (method, url)  # no participant page around it
    assert _audit_count(engine) == before  # nothing written for site B's attempts


def test_records_of_site_a_are_not_reached_through_a_participant_of_site_b(
        app: Flask, client_b: FlaskClient, site_a_objects: SiteAObjects, engine: Engine,
        world: World) -> None:
    own = new_participant(engine, world.site_b).study_number
    urls = [
        f"/participants/{own}/history/viral_load_result/{site_a_objects.result_id}",
        f"/participants/{own}/history/car_t_infusion/{site_a_objects.infusion_id}",
        f"/participants/{own}/forms/infusion/{site_a_objects.infusion_id}",
    ]
    for url in urls:
        assert client_b.get(url).status_code == 404, url
    for entity, record_id in (("viral_load_result", site_a_objects.result_id),
                              ("car_t_infusion", site_a_objects.infusion_id)):
        response = post(client_b, f"/participants/{own}/review/{entity}/{record_id}/lock", {},
                        token_page="/")
        assert response.status_code in (403, 404), entity


def test_queries_of_site_a_are_invisible(client_b: FlaskClient,
                                         site_a_objects: SiteAObjects) -> None:
    url = f"/queries/{site_a_objects.query_id}"
    assert client_b.get(url).status_code == 404
    assert post(client_b, url, {"action": "answer", "text": "seen"}, token_page="/") \
        .status_code == 404
    for status in ("open", "answered", "closed", "all"):
        page = client_b.get(f"/queries?status={status}").get_data(as_text=True)
        assert site_a_objects.study_number not in page
        assert f"/queries/{site_a_objects.query_id}\"" not in page


def test_a_query_is_visible_to_its_own_site(app: Flask, world: World,
                                            site_a_objects: SiteAObjects) -> None:
    # the positive control: the refusals above are about the site, not a broken page
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    assert client.get(f"/queries/{site_a_objects.query_id}").status_code == 200
    assert client.get(f"/participants/{site_a_objects.study_number}/trail").status_code == 200
    assert site_a_objects.study_number in client.get("/queries").get_data(as_text=True)


def test_audit_trail_of_site_a_is_refused(app: Flask, client_b: FlaskClient, engine: Engine,
                                          world: World, site_a_objects: SiteAObjects) -> None:
    assert client_b.get(f"/participants/{site_a_objects.study_number}/trail").status_code == 404
    # coordinators cannot export the trail at all
    assert client_b.get("/audit/export").status_code == 403
    # a monitor of site B exports only site B's part of the trail
    with unit_of_work(make_session_factory(engine)) as session:
        site_b = session.get(Site, world.site_b.id)
        assert site_b is not None
        monitor_b = factories.user(session, Role.MONITOR, [site_b])
    new_participant(engine, world.site_b)
    client = app.test_client()
    sign_in(client, monitor_b.email)
    response = post(client, "/audit/export", {"start": "2000-01-01", "end": "2100-01-01"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    codes = {row.get("site_code") for row in rows}
    assert world.site_b.code in codes
    assert world.site_a.code not in codes
    assert not any(site_a_objects.study_number in ",".join(map(str, row.values()))
                   for row in rows)


def test_preview_api_refuses_another_site(client_b: FlaskClient,
                                          site_a_objects: SiteAObjects) -> None:
    token = csrf_token(client_b, "/")
    response = client_b.post(f"/api/participants/{site_a_objects.study_number}/viral-loads/preview",
                             json={"rows": [{"sampled_on": "2024-03-10", "result": "100"}]},
                             headers={"X-CSRFToken": token})
    assert response.status_code == 404
    assert "rows" not in (response.get_json() or {})
