"""The REST API, exports and reports: a token of a site B coordinator never
reaches site A's participants or results; exports (the whole study's data)
are refused to site-bound roles altogether."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from tests.security.conftest import SiteAObjects
from tests.web.conftest import World, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import User

tokens = pytest.importorskip("trialdb.api.tokens")


def _token(engine: Engine, user_id: int) -> dict[str, str]:
    from trialdb.services.actor import Actor

    with unit_of_work(make_session_factory(engine)) as session:
        owner = session.get(User, user_id)
        assert owner is not None
        _row, token = tokens.create_token(session, Actor.of(owner), owner, "security test")
    return {"Authorization": f"Bearer {token}"}


def test_api_token_of_site_b_never_reaches_site_a(app: Flask, engine: Engine, world: World,
                                                  site_a_objects: SiteAObjects) -> None:
    client = app.test_client()
    headers = _token(engine, world.coordinator_b.id)
    number = site_a_objects.study_number
    assert client.get(f"/api/v1/participants/{number}", headers=headers).status_code == 404
    response = client.get(f"/api/v1/participants/{number}/viral-loads", headers=headers)
    assert response.status_code == 404 and "items" not in (response.get_json() or {})
    response = client.post(f"/api/v1/participants/{number}/viral-loads", headers=headers, json={
        "sampled_on": "2024-03-20", "virus": "CMV", "specimen": "plasma",
        "assay_id": str(world.cmv_assay.id), "result": "1000", "unit": "IU/mL"})
    assert response.status_code in (403, 404)
    listing = client.get("/api/v1/participants?limit=500", headers=headers).get_json()
    assert all(item.get("study_number") != number for item in listing["items"])
    # the positive control: site A's own coordinator sees the participant
    own = _token(engine, world.coordinator_a.id)
    assert client.get(f"/api/v1/participants/{number}", headers=own).status_code == 200


def test_api_refuses_missing_forged_and_foreign_tokens(app: Flask,
                                                       site_a_objects: SiteAObjects) -> None:
    client = app.test_client()
    url = f"/api/v1/participants/{site_a_objects.study_number}"
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer tdb_forged"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401 and site_a_objects.study_number not in response.text


@pytest.mark.parametrize("who", ["coordinator_b", "coordinator_a", "monitor"])
def test_exports_are_refused_to_site_bound_roles(app: Flask, engine: Engine, world: World,
                                                 who: str) -> None:
    user: User = getattr(world, who)
    client = app.test_client()
    headers = _token(engine, user.id)
    assert client.post("/api/v1/exports", headers=headers,
                       json={"formats": ["csv"]}).status_code == 403
    assert client.get("/api/v1/exports/1", headers=headers).status_code in (403, 404)
    assert client.get("/api/v1/exports/1/download", headers=headers).status_code in (403, 404)
    browser = app.test_client()
    sign_in(browser, user.email)
    for path in ("/exports", "/exports/1.zip"):
        if any(rule.rule.startswith("/exports") for rule in app.url_map.iter_rules()):
            assert browser.get(path).status_code in (403, 404), path
