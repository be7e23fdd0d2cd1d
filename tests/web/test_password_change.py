"""A signed-in user changes their own password at /account/password: the
current one is checked (a wrong one counts towards the lock-out), the new one
follows the account-creation policy, the other sessions end, this one goes on."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.web.conftest import PASSWORD, World, csrf_token, post, sign_in
from trialdb.db import make_session_factory
from trialdb.models import AuditEvent, User
from trialdb.services import audit

PAGE = "/account/password"
NEW_PASSWORD = "violet tramway under ninety lanterns"


@dataclass(frozen=True)
class Account:
    password_hash: str
    session_epoch: int
    failed_logins: int
    audit_events: int


def _account(engine: Engine, user_id: int) -> Account:
    with make_session_factory(engine, write=False)() as session:
        user = session.get(User, user_id)
        assert user is not None
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        return Account(user.password_hash, user.session_epoch, user.failed_logins, events or 0)


def _change(client: FlaskClient, current: str = PASSWORD, new: str = NEW_PASSWORD,
            repeated: str | None = None):  # type: ignore[no-untyped-def]
    return post(client, PAGE, {"current": current, "new": new,
                               "repeated": new if repeated is None else repeated})


def _login_status(app: Flask, email: str, password: str) -> int:
    with app.test_client() as client:
        token = csrf_token(client)
        return client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token}).status_code


@pytest.mark.parametrize("who", ["coordinator_a", "monitor", "admin"])
def test_change_ends_other_sessions_and_keeps_this_one(
        app: Flask, world: World, engine: Engine, who: str) -> None:
    user = getattr(world, who)
    before = _account(engine, user.id)
    older, client = app.test_client(), app.test_client()  # two browsers
    sign_in(older, user.email)  # the other one, signed in before the change
    sign_in(client, user.email)
    assert older.get("/").status_code == 200  # the test can fail
    assert f'href="{PAGE}"' in client.get("/").get_data(as_text=True)  # in the header
    response = _change(client)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"].endswith("/")
    page = client.get("/")
    assert page.status_code == 200  # this session goes on
    assert "Mot de passe changé" in page.get_data(as_text=True)
    assert client.get(PAGE).status_code == 200
    ended = older.get("/")
    assert ended.status_code == 302 and "/login" in ended.headers["Location"]
    after = _account(engine, user.id)
    assert after.password_hash != before.password_hash
    assert after.password_hash.startswith("$argon2id$")
    assert after.session_epoch == before.session_epoch + 1
    assert _login_status(app, user.email, PASSWORD) == 401
    assert _login_status(app, user.email, NEW_PASSWORD) == 302


def test_audit_entry_names_the_change_without_secrets(app: Flask, world: World,
                                                       engine: Engine) -> None:
    user = world.coordinator_a
    with app.test_client() as client:
        sign_in(client, user.email)
        assert _change(client).status_code == 302
    after = _account(engine, user.id)
    with make_session_factory(engine, write=False)() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == user.id)
            .order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert event.action == "permission" and event.user_id == user.id
        assert "password changed" in (event.reason or "")
        kept = repr((event.reason, event.changes))
        for secret in (PASSWORD, NEW_PASSWORD, after.password_hash, "$argon2"):
            assert secret not in kept
        assert audit.verify_chain(session) is None


def test_wrong_current_password_counts_as_a_failed_sign_in(app: Flask, world: World,
                                                           engine: Engine) -> None:
    user = world.coordinator_a
    before = _account(engine, user.id)
    with app.test_client() as client:
        sign_in(client, user.email)
        response = _change(client, current="not my password at all")
        assert response.status_code == 422
        text = response.get_data(as_text=True)
        assert 'data-field="current">Mot de passe actuel incorrect' in text
        assert client.get("/").status_code == 200  # still signed in
    after = _account(engine, user.id)
    assert (after.password_hash, after.session_epoch) == (before.password_hash,
                                                          before.session_epoch)
    assert after.failed_logins == 1
    with make_session_factory(engine, write=False)() as session:
        reasons = list(session.scalars(select(AuditEvent.reason).where(
            AuditEvent.entity_id == user.id, AuditEvent.action == "failed_login")))
    assert reasons == ["wrong current password (password change)"]
    assert _login_status(app, user.email, PASSWORD) == 302  # the password is unchanged


def test_repeated_wrong_current_passwords_lock_the_account(app: Flask, world: World,
                                                           engine: Engine) -> None:
    user = world.monitor
    with app.test_client() as client:
        sign_in(client, user.email)
        statuses = [_change(client, current=f"wrong guess number {n}").status_code
                    for n in range(5)]
        assert statuses == [422, 422, 422, 422, 429]
        locked = _change(client)  # even the right current password waits
        assert locked.status_code == 429
        assert "verrouillé" in locked.get_data(as_text=True)
    assert _account(engine, user.id).failed_logins == 5
    assert _login_status(app, user.email, PASSWORD) == 429  # the same lock as /login
    assert _login_status(app, user.email, NEW_PASSWORD) == 429


@pytest.mark.parametrize(("new", "repeated", "field", "french", "english"), [
    ("short one", None, "new", "au moins 12 caractères", "at least 12 characters"),
    ("Password1234!", None, "new", "trop courant", "too common"),
    (NEW_PASSWORD, NEW_PASSWORD + "x", "repeated", "diffèrent", "differ"),
    (PASSWORD, None, "new", "doit être différent", "differ from the current one"),
], ids=["too-short", "common", "mismatch", "same-as-current"])
def test_refused_new_password_writes_nothing(
        app: Flask, world: World, engine: Engine, new: str, repeated: str | None, field: str,
        french: str, english: str) -> None:
    user = world.coordinator_a
    with app.test_client() as client:
        sign_in(client, user.email)
        before = _account(engine, user.id)  # after the sign-in, which is audited
        response = _change(client, new=new, repeated=repeated)
        assert response.status_code == 422
        text = response.get_data(as_text=True)
        assert f'data-field="{field}">' in text and french in text
        client.post("/language", data={"lang": "en", "next": "/",
                                       "csrf_token": csrf_token(client, "/")})
        response = _change(client, new=new, repeated=repeated)
        assert response.status_code == 422
        assert english in response.get_data(as_text=True)
        assert client.get("/").status_code == 200
    assert _account(engine, user.id) == before


def test_missing_csrf_token_is_refused(app: Flask, world: World, engine: Engine) -> None:
    user = world.coordinator_a
    with app.test_client() as client:
        sign_in(client, user.email)
        before = _account(engine, user.id)
        response = client.post(PAGE, data={"current": PASSWORD, "new": NEW_PASSWORD,
                                           "repeated": NEW_PASSWORD})
        assert response.status_code == 400
    assert _account(engine, user.id) == before


def test_empty_form_is_refused(app: Flask, world: World, engine: Engine) -> None:
    user = world.coordinator_a
    with app.test_client() as client:
        sign_in(client, user.email)
        before = _account(engine, user.id)
        response = post(client, PAGE, {})
        assert response.status_code == 422
        assert "Ce champ est obligatoire" in response.get_data(as_text=True)
    assert _account(engine, user.id) == before


def test_anonymous_user_is_sent_to_sign_in(app: Flask) -> None:
    with app.test_client() as client:
        for response in (client.get(PAGE), client.post(PAGE, data={
                "csrf_token": csrf_token(client), "current": PASSWORD, "new": NEW_PASSWORD,
                "repeated": NEW_PASSWORD})):
            assert response.status_code == 302
            assert "/login" in response.headers["Location"]
