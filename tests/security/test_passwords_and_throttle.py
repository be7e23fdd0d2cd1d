"""Passwords: at least 12 characters and not in (nor a thin variant of) the
bundled list of common passwords. Sign-in: throttled by client address on
top of the per-account lock-out."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.web.conftest import PASSWORD, World, csrf_token, make_app, post, sign_in
from trialdb.db import make_session_factory
from trialdb.errors import InvalidInput
from trialdb.models import User
from trialdb.security.passwords import common_passwords, is_common
from trialdb.security.throttle import SignInThrottle
from trialdb.services.accounts import MIN_PASSWORD_LENGTH, check_password_policy

REFUSED = ["password1234", "Password1234!", "PASSWORD2024!!", "P@ssw0rd12345", "motdepasse123",
           "MotDePasse2024", "m0td3p@sse!!", "azertyuiop12", "AZERTYUIOP!!", "qwertyuiop123",
           "soleil123456", "Soleil!!!!!!!", "123456789012", "000000000000", "aaaaaaaaaaaa",
           "abcabcabcabc", "azertyazerty", "iloveyou1234", "jetaime12345", "bonjour12345",
           "1qaz2wsx3edc", "  azerty  2024  ", "letmein!!!!!", "welcome12345", "doudou123456",
           "administrator1", "chocolat1234", "marseille1313"]
ACCEPTED = [PASSWORD, "violet tram under the Loire", "Quatre-chats-verts-dansent",
            "bicycle-lantern-42-harbour", "glacier orbit pepper velvet"]


def test_the_list_ships_with_the_package() -> None:
    text = resources.files("trialdb.security").joinpath("common_passwords.txt")
    assert text.is_file()
    listed = common_passwords()
    assert len(listed) >= 5000
    assert {"password", "motdepasse", "azerty", "soleil", "qwerty", "123456"} <= listed


@pytest.mark.parametrize("password", REFUSED)
def test_common_passwords_are_refused(password: str) -> None:
    assert len(password.strip()) >= MIN_PASSWORD_LENGTH  # refused for being common, not short
    assert is_common(password)
    with pytest.raises(InvalidInput) as refused:
        check_password_policy(password)
    assert refused.value.field == "password"
    assert "courant" in refused.value.message("fr") and "common" in refused.value.message("en")


@pytest.mark.parametrize("password", ACCEPTED)
def test_uncommon_passphrases_are_accepted(password: str) -> None:
    check_password_policy(password)


@pytest.mark.parametrize("password", ["", "short", "elevenchars"])
def test_short_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput, match="12"):
        check_password_policy(password)


def test_admin_page_refuses_a_common_password(app: Flask, world: World, engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, world.admin.email)
    response = post(client, "/admin/users/new", {
        "email": "new-user-common@example.org", "display_name": "New user",
        "role": "coordinator", "password": "Motdepasse2024!", "sites": [world.site_a.code]})
    assert response.status_code == 422
    assert "trop courant" in response.get_data(as_text=True)
    with make_session_factory(engine, write=False)() as session:
        assert session.scalar(select(User).where(
            User.email == "new-user-common@example.org")) is None


def test_throttle_window() -> None:
    now = [1000.0]
    throttle = SignInThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("198.51.100.7") == 0
        throttle.failed("198.51.100.7")
    assert 0 < throttle.retry_after("198.51.100.7") <= 61
    assert throttle.retry_after("198.51.100.8") == 0  # another address is not affected
    now[0] += 61
    assert throttle.retry_after("198.51.100.7") == 0
    throttle.failed("198.51.100.7")
    throttle.succeeded("198.51.100.7")
    assert throttle.retry_after("198.51.100.7") == 0


def test_sign_in_is_throttled_by_address(engine: Engine, tmp_path: Path, world: World) -> None:
    app = make_app(engine, tmp_path)
    app.config["SIGN_IN_FAILURES_PER_ADDRESS"] = 4
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    statuses = []
    for n in range(4):  # four different accounts, so no account lock-out is involved
        token = csrf_token(attacker)
        statuses.append(attacker.post("/login", data={
            "email": f"guess{n}@example.org", "password": "guessing-a-password",
            "csrf_token": token}).status_code)
    assert statuses == [401, 401, 401, 401]
    token = csrf_token(attacker)
    blocked = attacker.post("/login", data={"email": world.coordinator_a.email,
                                            "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429  # even the right password waits
    assert "Trop de tentatives" in blocked.get_data(as_text=True)
    with attacker.session_transaction() as session:
        assert "_user_id" not in session
    # someone else, from another address, signs in normally
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.21"
    sign_in(colleague, world.coordinator_a.email)
