"""Every POST route refuses a request without its CSRF token, or with a wrong
one (400), before doing anything. Routes are enumerated from the URL map. The
token API (/api/v1) is the exception by design: it authenticates each request
with a bearer token, which a browser never sends on its own."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.security.conftest import SiteAObjects, fill_rule
from tests.web.conftest import World, csrf_token, sign_in
from trialdb.db import make_session_factory
from trialdb.models import AuditEvent


def _post_rules(app: Flask) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if "POST" in (rule.methods or set()) and not rule.rule.startswith("/api/v"))


def _audit_count(engine: Engine) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_every_post_route_needs_the_right_token(app: Flask, world: World, engine: Engine,
                                               site_a_objects: SiteAObjects) -> None:
    rules = _post_rules(app)
    assert len(rules) >= 15, rules
    client = app.test_client()
    sign_in(client, world.admin.email)
    real = csrf_token(client, "/")
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    before = _audit_count(engine)
    form = {"reason": "x", "text": "x", "action": "answer", "email": world.admin.email,
            "password": "correct horse battery staple", "start": "2000-01-01",
            "end": "2100-01-01", "code": "123456"}
    for rule in rules:
        url = fill_rule(rule, site_a_objects)
        for token in (None, forged, "", "x" * 200):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            response = client.post(url, data=data)
            assert response.status_code == 400, (url, token, response.status_code)
        if url.startswith("/api/"):
            response = client.post(url, json={"rows": []})
            assert response.status_code == 400, url
            response = client.post(url, json={"rows": []}, headers={"X-CSRFToken": forged})
            assert response.status_code == 400, url
    assert _audit_count(engine) == before
    # and the session is still signed in: the refusals did not log anyone out or in
    assert client.get("/").status_code == 200


def test_a_token_from_another_session_is_refused(app: Flask, world: World) -> None:
    attacker = app.test_client()
    sign_in(attacker, world.coordinator_b.email)
    stolen = csrf_token(attacker, "/")
    victim = app.test_client()
    sign_in(victim, world.coordinator_a.email)
    response = victim.post("/participants/new", data={"csrf_token": stolen,
                                                      "site": world.site_a.code})
    assert response.status_code == 400
