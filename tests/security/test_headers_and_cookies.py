"""Security headers on every page, no-store on data pages, HSTS and Secure
cookies over HTTPS (directly or behind a trusted proxy), HttpOnly and
SameSite cookies, and a new session at sign-in (no fixation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from tests.security.conftest import SiteAObjects
from tests.web.conftest import PASSWORD, World, csrf_token, make_app, sign_in

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _cookies(response: TestResponse) -> list[str]:
    return response.headers.getlist("Set-Cookie")


@pytest.mark.parametrize("path", ["/login", "/", "/participants/{sn}", "/participants/{sn}/trail",
                                  "/participants/{sn}/viral-loads", "/queries", "/dictionary",
                                  "/no/such/page"])
def test_headers_on_every_page(app: Flask, world: World, site_a_objects: SiteAObjects,
                               path: str) -> None:
    client = app.test_client()
    if path != "/login":
        sign_in(client, world.coordinator_a.email)
    response = client.get(path.format(sn=site_a_objects.study_number))
    assert response.status_code in (200, 404)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer",
                                                   "strict-origin-when-cross-origin")
    assert "no-store" in response.headers["Cache-Control"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_static_files_may_be_cached(app: Flask) -> None:
    response = app.test_client().get("/static/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_session_cookie_is_httponly_and_samesite_but_not_secure_over_http(
        app: Flask, world: World) -> None:
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"email": world.coordinator_a.email,
                                           "password": PASSWORD, "csrf_token": token})
    [cookie] = [c for c in _cookies(response) if c.startswith("session=")]
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags
    assert "; secure" not in flags  # would be dropped by the browser over plain HTTP


def test_https_sends_hsts_and_secure_cookies(app: Flask, world: World) -> None:
    client = app.test_client()
    base = "https://trialdb.example.org"
    page = client.get("/login", base_url=base)
    assert all("; Secure" in c for c in _cookies(page))
    token = _TOKEN.search(page.get_data(as_text=True))
    assert token is not None
    # over HTTPS Flask-WTF also wants a same-origin Referer
    response = client.post("/login", base_url=base, headers={"Referer": f"{base}/login"},
                           data={"email": world.coordinator_a.email, "password": PASSWORD,
                                 "csrf_token": token.group(1)})
    assert response.status_code == 302
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    cookies = _cookies(response)
    assert cookies and all("; Secure" in c for c in cookies)
    assert all("HttpOnly" in c for c in cookies if c.startswith("session="))


def test_forwarded_proto_is_trusted_only_when_configured(engine: Engine, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    untrusted = make_app(engine, tmp_path)
    response = untrusted.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers
    assert not any("; Secure" in c for c in _cookies(response))
    monkeypatch.setenv("TRIALDB_TRUSTED_PROXIES", "1")  # read by the factory, at creation
    trusted = make_app(engine, tmp_path)
    response = trusted.test_client().get("/login", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    cookies = _cookies(response)
    assert cookies and all("; Secure" in c for c in cookies)


def test_session_fixation_is_prevented(app: Flask, world: World) -> None:
    """A cookie obtained before sign-in (say, planted by an attacker) is worth
    nothing after the victim signs in: the session is rebuilt at sign-in."""
    victim = app.test_client()
    before = victim.get("/login")
    [planted] = [c.split(";")[0].split("=", 1)[1] for c in _cookies(before)
                 if c.startswith("session=")]
    with victim.session_transaction() as session:
        session["planted"] = "by an attacker"
    token = csrf_token(victim)
    response = victim.post("/login", data={"email": world.coordinator_a.email,
                                           "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    [after] = [c.split(";")[0].split("=", 1)[1] for c in _cookies(response)
               if c.startswith("session=")]
    assert after != planted
    with victim.session_transaction() as session:
        assert "planted" not in session
        assert str(session.get("_user_id")).partition(":")[0] == str(world.coordinator_a.id)
    # the attacker, holding the pre-sign-in cookie, is still anonymous
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/").status_code == 302
    assert victim.get("/").status_code == 200
