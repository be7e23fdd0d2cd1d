"""Passwords: at least 12 characters and not in (nor a thin variant of) the
bundled list of common passwords. Sign-in: throttled by client address on
top of the per-account lock-out, with counts in the database shared by
every worker."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.factories import unique_code
from tests.web.conftest import PASSWORD, World, csrf_token, make_app, post, sign_in
from trialdb.db import make_engine, make_session_factory, unit_of_work, utcnow
from trialdb.errors import InvalidInput
from trialdb.models import SignInFailure, User
from trialdb.security import second_factor, totp
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


def _throttle(engine: Engine, now: list[float], limit: int = 3) -> SignInThrottle:
    return SignInThrottle(make_session_factory(engine, write=False), make_session_factory(engine),
                          b"throttle-test-key", limit=limit, window=60, clock=lambda: now[0])


def test_throttle_window(engine: Engine) -> None:
    now = [time.time()]
    throttle = _throttle(engine, now)
    address, other = f"198.51.100.7-{unique_code('a')}", f"198.51.100.8-{unique_code('a')}"
    for _ in range(3):
        assert throttle.retry_after(address) == 0
        throttle.failed(address, "someone@example.org")
    assert 0 < throttle.retry_after(address) <= 61
    assert throttle.retry_after(other) == 0  # another address is not affected
    now[0] += 30
    assert 30 <= throttle.retry_after(address) <= 31  # the oldest failure leaves in 30 s
    now[0] += 31
    assert throttle.retry_after(address) == 0
    throttle.failed(address, "someone@example.org")
    throttle.succeeded(address, " Someone@Example.org")  # as typed: case and spaces aside
    assert throttle.retry_after(address) == 0


def test_a_success_forgets_only_its_own_account(engine: Engine) -> None:
    """Signing in to one's own account must not wipe the failures against others
    from the same address (an insider would reset the count between rounds)."""
    now = [time.time()]
    throttle = _throttle(engine, now, limit=3)
    address = f"198.51.100.12-{unique_code('a')}"
    throttle.failed(address, "colleague@example.org")
    throttle.failed(address, "insider@example.org")
    throttle.failed(address, "other@example.org")
    assert throttle.retry_after(address) > 0
    throttle.succeeded(address, "insider@example.org")
    assert throttle.retry_after(address) == 0  # two failures left, under the limit of three
    throttle.failed(address, "third@example.org")
    throttle.succeeded(address, "insider@example.org")  # nothing of theirs left to forget
    assert throttle.retry_after(address) > 0
    throttle.succeeded(f"198.51.100.13-{unique_code('a')}", "colleague@example.org")
    assert throttle.retry_after(address) > 0  # another address forgets nothing here


def test_throttle_counts_the_limit_th_most_recent_failure(engine: Engine) -> None:
    """Failures past the limit (requests racing in before the check) keep the
    address waiting until fewer than `limit` remain in the window."""
    now = [time.time()]
    throttle = _throttle(engine, now, limit=2)
    address = f"198.51.100.9-{unique_code('a')}"
    throttle.failed(address, "someone@example.org")
    for _ in range(2):
        now[0] += 20
        throttle.failed(address, "someone@example.org")
    # three failures at t, t+20, t+40: two remain in the window until t+20 leaves it
    assert 40 <= throttle.retry_after(address) <= 41


def test_throttle_keeps_only_the_window_and_no_address(engine: Engine) -> None:
    now = [time.time() + 10_000]  # after every failure the other tests wrote
    throttle = _throttle(engine, now)
    address = f"198.51.100.10-{unique_code('a')}"
    throttle.failed(address, "someone@example.org")
    reader = make_session_factory(engine, write=False)
    with reader() as session:
        stored = session.scalars(select(SignInFailure.client_digest)).all()
    expected = hmac.new(b"throttle-test-key", b"sign-in throttle\0" + address.encode(),
                        hashlib.sha256).hexdigest()
    assert expected in stored and not any(address in digest for digest in stored)
    with reader() as session:
        accounts = session.scalars(select(SignInFailure.account_digest)).all()
    assert accounts and not any("someone" in (digest or "") for digest in accounts)
    now[0] += 61  # the window slides past it: the next failure, of anyone, deletes it
    throttle.failed(f"198.51.100.11-{unique_code('a')}", "someone@example.org")
    with reader() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure).where(
            SignInFailure.failed_at < datetime.fromtimestamp(now[0] - 60, UTC))) == 0
        assert session.scalar(select(func.count()).select_from(SignInFailure).where(
            SignInFailure.client_digest == expected)) == 0


def _guess(client: FlaskClient, n: int) -> int:
    token = csrf_token(client)
    return client.post("/login", data={"email": f"guess{n}-{unique_code('g')}@example.org",
                                       "password": "guessing-a-password",
                                       "csrf_token": token}).status_code


def _on(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


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
    assert 0 < int(blocked.headers["Retry-After"]) <= 301
    with attacker.session_transaction() as session:
        assert "_user_id" not in session
    # someone else, from another address, signs in normally
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.21"
    sign_in(colleague, world.coordinator_a.email)


def test_workers_share_the_count(engine: Engine, tmp_path: Path, world: World) -> None:
    """Two applications on the same database stand for two gunicorn workers,
    each with its own engine and pool: failures through either count for both,
    and a worker started afterwards (a restart) finds them still there."""
    second_engine = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        workers = [make_app(engine, tmp_path), make_app(second_engine, tmp_path)]
        for worker in workers:
            worker.config["SIGN_IN_FAILURES_PER_ADDRESS"] = 4
        clients = [_on(worker, "198.51.100.30") for worker in workers]
        assert [_guess(clients[n % 2], n) for n in range(4)] == [401, 401, 401, 401]
        restarted = make_app(second_engine, tmp_path)
        restarted.config["SIGN_IN_FAILURES_PER_ADDRESS"] = 4
        for client in [*clients, _on(restarted, "198.51.100.30")]:
            token = csrf_token(client)
            blocked = client.post("/login", data={"email": world.coordinator_a.email,
                                                  "password": PASSWORD, "csrf_token": token})
            assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    finally:
        second_engine.dispose()


def _mistype(client: FlaskClient, email: str) -> int:
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": "not-my-password",
                                       "csrf_token": token}).status_code


def test_a_right_password_clears_its_own_failures(engine: Engine, tmp_path: Path,
                                                  world: World) -> None:
    """For an admin too, whose second-factor policy is read during the sign-in:
    that read ends with the sign-in's commit, before the throttle writes (on
    SQLite a second write transaction in the same thread would wait out the
    busy timeout, and the count would stay)."""
    app = make_app(engine, tmp_path)
    app.config["SIGN_IN_FAILURES_PER_ADDRESS"] = 2
    assert _mistype(_on(app, "198.51.100.31"), world.admin.email.upper()) == 401
    started = time.monotonic()
    sign_in(_on(app, "198.51.100.31"), world.admin.email)
    assert time.monotonic() - started < 10
    again = _on(app, "198.51.100.31")
    assert [_guess(again, 1), _guess(again, 2), _guess(again, 3)] == [401, 401, 429]


def test_a_right_password_leaves_guesses_at_others_counted(engine: Engine, tmp_path: Path,
                                                           world: World) -> None:
    """Guesses at other accounts stay counted when the guesser signs in to their own."""
    app = make_app(engine, tmp_path)
    app.config["SIGN_IN_FAILURES_PER_ADDRESS"] = 3
    insider = _on(app, "198.51.100.33")
    assert [_guess(insider, 1), _guess(insider, 2)] == [401, 401]
    sign_in(_on(app, "198.51.100.33"), world.coordinator_a.email)
    assert [_guess(_on(app, "198.51.100.33"), 3), _guess(_on(app, "198.51.100.33"), 4)] == [
        401, 429]


def test_failed_second_steps_are_counted(engine: Engine, tmp_path: Path, world: World) -> None:
    """A wrong or empty code at the second step counts for the address, after
    that request's own transaction ended."""
    secret = totp.new_secret()
    earlier = utcnow() - timedelta(seconds=30)
    with unit_of_work(make_session_factory(engine)) as session:
        user = session.get(User, world.coordinator_b.id)
        assert user is not None
        assert second_factor.enrol(session, user, secret, totp.current_code(secret, earlier),
                                   now=earlier)
    app = make_app(engine, tmp_path)
    app.config["SIGN_IN_FAILURES_PER_ADDRESS"] = 2
    client = _on(app, "198.51.100.32")
    token = csrf_token(client)
    assert client.post("/login", data={"email": world.coordinator_b.email, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    statuses = []
    for _ in range(3):
        token = csrf_token(client, "/login/second-factor")
        statuses.append(client.post("/login/second-factor",
                                    data={"code": "", "csrf_token": token}).status_code)
    assert statuses == [401, 401, 429]


def test_sign_in_goes_on_when_the_throttle_cannot_be_read_or_written(
        engine: Engine, tmp_path: Path, world: World) -> None:
    """Fail open: with the throttle's table unavailable, failures are answered
    401 and a right password signs in (never a 500, never a 429)."""
    app = make_app(engine, tmp_path)
    elsewhere = make_engine(f"sqlite:///{tmp_path / 'no-throttle-table.db'}")
    try:
        app.extensions["trialdb_sign_in_throttle"] = SignInThrottle(
            make_session_factory(elsewhere, write=False), make_session_factory(elsewhere),
            b"throttle-test-key", limit=1)
        client = _on(app, "198.51.100.33")
        assert [_guess(client, 0), _guess(client, 1)] == [401, 401]
        sign_in(client, world.coordinator_a.email)
    finally:
        elsewhere.dispose()
