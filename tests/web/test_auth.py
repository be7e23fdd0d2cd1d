"""Sign-in: argon2id, lock-out after 5 failures (audited), new session at
sign-in, idle timeout, CSRF on every form, safe redirects."""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.web.conftest import (
    PASSWORD,
    World,
    csrf_token,
    make_app,
    new_participant,
    post,
    sign_in,
)
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import AuditEvent, ImmuneMeasurement, User
from trialdb.services import staff


def _events(engine: Engine, user_id: int, action: str) -> list[AuditEvent]:
    with make_session_factory(engine, write=False)() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == user_id,
            AuditEvent.action == action)))


def test_sign_in_and_out(app: Flask, world: World, engine: Engine) -> None:
    with app.test_client() as client:
        assert client.get("/").status_code == 302
        sign_in(client, world.coordinator_a.email)
        assert client.get("/").status_code == 200
        token = csrf_token(client, "/")
        client.post("/logout", data={"csrf_token": token})
        assert client.get("/").status_code == 302
    assert len(_events(engine, world.coordinator_a.id, "login")) == 1


def test_wrong_password_is_refused_and_audited(app: Flask, world: World, engine: Engine) -> None:
    with app.test_client() as client:
        token = csrf_token(client)
        response = client.post("/login", data={"email": world.coordinator_a.email,
                                               "password": "wrong password!", "csrf_token": token})
        assert response.status_code == 401
        assert "Adresse ou mot de passe incorrect" in response.get_data(as_text=True)
    assert len(_events(engine, world.coordinator_a.id, "failed_login")) == 1


def test_five_failures_lock_the_account(app: Flask, world: World, engine: Engine) -> None:
    email = world.coordinator_b.email
    with app.test_client() as client:
        statuses = []
        for _ in range(5):
            token = csrf_token(client)
            statuses.append(client.post("/login", data={
                "email": email, "password": "not the password", "csrf_token": token}).status_code)
        assert statuses == [401, 401, 401, 401, 429]
        token = csrf_token(client)
        locked = client.post("/login", data={"email": email, "password": PASSWORD,
                                             "csrf_token": token})
        assert locked.status_code == 429  # even the right password waits
        assert "verrouillé" in locked.get_data(as_text=True)
    with make_session_factory(engine, write=False)() as session:
        user = session.get(User, world.coordinator_b.id)
        assert user is not None and user.locked_until is not None and user.failed_logins == 5
    reasons = [e.reason or "" for e in _events(engine, world.coordinator_b.id, "failed_login")]
    assert any("locked for" in r for r in reasons) and "account locked" in reasons


def test_lock_expires(engine: Engine, world: World) -> None:
    from datetime import timedelta

    from trialdb.db import utcnow

    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        for _ in range(5):
            staff.sign_in(session, world.monitor.email, "nope nope nope")
    later = utcnow() + timedelta(minutes=staff.LOCK_MINUTES + 1)
    with unit_of_work(factory) as session:
        result = staff.sign_in(session, world.monitor.email, PASSWORD, now=later)
        assert result.user is not None and result.user.failed_logins == 0


def test_session_is_renewed_at_sign_in(app: Flask, world: World) -> None:
    with app.test_client() as client:
        with client.session_transaction() as session:
            session["planted"] = "by an attacker"
        sign_in(client, world.coordinator_a.email)
        with client.session_transaction() as session:
            assert "planted" not in session
            assert str(session.get("_user_id")).partition(":")[0] == str(world.coordinator_a.id)


def test_idle_timeout_signs_out(engine: Engine, tmp_path: Path, world: World) -> None:
    app = make_app(engine, tmp_path, idle_minutes=1)
    with app.test_client() as client:
        sign_in(client, world.coordinator_a.email)
        assert client.get("/").status_code == 200
        with client.session_transaction() as session:
            session["seen"] = time.time() - 61
        response = client.get("/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        page = client.get("/login").get_data(as_text=True)
        assert "inactivité" in page
        assert client.get("/").status_code == 302


def test_activity_renews_the_session_at_most_once_a_step(engine: Engine, tmp_path: Path,
                                                         world: World) -> None:
    app = make_app(engine, tmp_path, idle_minutes=1)
    with app.test_client() as client:
        sign_in(client, world.coordinator_a.email)
        assert client.get("/").status_code == 200
        response = client.get("/")  # moments later: the signed cookie is left as it is
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        with client.session_transaction() as session:
            session["seen"] = time.time() - 45  # last renewed 45 s ago, the limit is 60 s
        response = client.get("/")
        assert response.status_code == 200 and "Set-Cookie" in response.headers
        with client.session_transaction() as session:
            assert time.time() - session["seen"] < 5
            assert session.permanent


def test_post_without_csrf_token_is_refused(app: Flask, world: World) -> None:
    with app.test_client() as client:
        response = client.post("/login", data={"email": world.coordinator_a.email,
                                               "password": PASSWORD})
        assert response.status_code == 400
        sign_in(client, world.coordinator_a.email)
        response = client.post("/participants/new", data={"site": world.site_a.code})
        assert response.status_code == 400
        assert "expiré" in response.get_data(as_text=True)


def test_crf_post_without_csrf_token_is_refused_and_saves_nothing(
        app: Flask, world: World, engine: Engine) -> None:
    participant = new_participant(engine, world.site_a)
    url = f"/participants/{participant.study_number}/forms/immune_measurements/new"
    data = {"measured_on": "2024-03-11", "lymphocytes_per_ul": "300"}
    with app.test_client() as client:
        sign_in(client, world.coordinator_a.email)
        assert client.post(url, data=data).status_code == 400
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
        with make_session_factory(engine, write=False)() as session:
            assert session.scalar(select(func.count()).select_from(ImmuneMeasurement).where(
                ImmuneMeasurement.participant_id == participant.id)) == 0
        # the token the form page carries is the one that is accepted
        assert post(client, url, data, token_page=url).status_code == 302


def test_deactivated_account_cannot_sign_in(app: Flask, world: World, engine: Engine) -> None:
    from trialdb.services.actor import Actor

    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        admin = session.get(User, world.admin.id)
        assert admin is not None
        staff.set_active(session, Actor.of(admin), world.monitor.id, False)
    with app.test_client() as client:
        token = csrf_token(client)
        response = client.post("/login", data={"email": world.monitor.email, "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 401


def test_redirect_after_sign_in_stays_on_site(app: Flask, world: World) -> None:
    with app.test_client() as client:
        token = csrf_token(client)
        response = client.post("/login?next=https://evil.example/x", data={
            "email": world.coordinator_a.email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        assert response.headers["Location"] == "/"
