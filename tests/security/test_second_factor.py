"""TOTP second factor: optional for everyone, required for investigators,
data managers and admins when a site's policy says so; a second sign-in step
that does not sign in until the code is right; wrong codes count towards the
lock-out; enrolment shows the key and the otpauth URI."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pyotp
import pytest
import segno
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm.attributes import set_committed_value

from tests import factories
from tests.web.conftest import PASSWORD, World, csrf_token, post, sign_in
from trialdb.db import make_session_factory, unit_of_work, utcnow
from trialdb.errors import Forbidden
from trialdb.models import AuditEvent, Site, User
from trialdb.security import second_factor, totp
from trialdb.services.actor import Actor
from trialdb.vocab import Role

SECOND_STEP = "/login/second-factor"
ENROL = "/account/second-factor"


def _password_step(client: FlaskClient, email: str, next_page: str = "") -> str:
    token = csrf_token(client)
    response = client.post(f"/login{next_page}", data={"email": email, "password": PASSWORD,
                                                       "csrf_token": token})
    assert response.status_code == 302
    return response.headers["Location"]


def _enrolled(engine: Engine, user_id: int) -> str:
    """Enrol a second factor a time step ago: the enrolment's code is spent, the
    current one is not."""
    secret = totp.new_secret()
    earlier = utcnow() - timedelta(seconds=30)
    with unit_of_work(make_session_factory(engine)) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert second_factor.enrol(session, user, secret, totp.current_code(secret, earlier),
                                   now=earlier)
    return secret


def _user(engine: Engine, user_id: int) -> User:
    with make_session_factory(engine, write=False)() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def _set_policy(engine: Engine, site_ids: list[int], required: bool) -> None:
    with unit_of_work(make_session_factory(engine)) as session:
        session.execute(update(Site).where(Site.id.in_(site_ids)).values(
            requires_second_factor=required))


@pytest.fixture()
def require_at(engine: Engine) -> Iterator[Callable[[int], None]]:
    """Turn a site's policy on for one test only: on any site, it binds every
    study-wide investigator, data manager and admin that later tests sign in
    on the same database."""
    sites: list[int] = []

    def require(site_id: int) -> None:
        sites.append(site_id)
        _set_policy(engine, [site_id], True)

    yield require
    if sites:
        _set_policy(engine, sites, False)


def test_totp_codes() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and re.fullmatch(r"[A-Z2-7]+", secret)
    code = totp.current_code(secret)
    assert totp.verify(secret, code) and totp.verify(secret, f"{code[:3]} {code[3:]}")
    assert not totp.verify(secret, "12345") and not totp.verify(secret, "١٢٣٤٥٦")
    assert not totp.verify(secret, "abcdef") and not totp.verify(secret, "")
    uri = totp.provisioning_uri(secret, "someone@example.org")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "issuer=trialdb" in uri


def test_sign_in_with_a_second_factor(app: Flask, world: World, engine: Engine) -> None:
    secret = _enrolled(engine, world.coordinator_a.id)
    client = app.test_client()
    location = _password_step(client, world.coordinator_a.email, "?next=/queries")
    assert location.endswith(SECOND_STEP)
    assert client.get("/").status_code == 302  # the password alone does not sign in
    with client.session_transaction() as session:
        assert "_user_id" not in session
    wrong = "000000" if totp.current_code(secret) != "000000" else "111111"
    response = post(client, SECOND_STEP, {"code": wrong})
    assert response.status_code == 401 and "Code incorrect" in response.get_data(as_text=True)
    response = post(client, SECOND_STEP, {"code": totp.current_code(secret)})
    assert response.status_code == 302 and response.headers["Location"] == "/queries"
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        assert "second_factor" not in session  # a fresh session once signed in
    with make_session_factory(engine, write=False)() as session:
        reasons = list(session.scalars(select(AuditEvent.reason).where(
            AuditEvent.entity_id == world.coordinator_a.id, AuditEvent.entity == "user")))
    assert "wrong second-factor code" in reasons and "code accepted" in reasons


def test_the_second_step_expires(app: Flask, world: World, engine: Engine) -> None:
    secret = _enrolled(engine, world.coordinator_a.id)
    client = app.test_client()
    _password_step(client, world.coordinator_a.email)
    token = csrf_token(client, SECOND_STEP)
    with client.session_transaction() as session:
        pending = dict(session["second_factor"])
        pending["at"] = time.time() - second_factor_page_seconds() - 1
        session["second_factor"] = pending
    response = client.post(SECOND_STEP, data={"code": totp.current_code(secret),
                                              "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302


def second_factor_page_seconds() -> int:
    from trialdb.web.second_factor import PENDING_SECONDS

    return PENDING_SECONDS


def test_the_second_step_cannot_be_reached_without_the_password(app: Flask) -> None:
    client = app.test_client()
    assert client.get(SECOND_STEP).status_code == 302
    with client.session_transaction() as session:
        session["second_factor"] = {"user": 1, "at": "forged", "enrol": False}
    assert client.get(SECOND_STEP).status_code == 302


def test_wrong_codes_lock_the_account(app: Flask, world: World, engine: Engine) -> None:
    secret = _enrolled(engine, world.coordinator_b.id)
    client = app.test_client()
    _password_step(client, world.coordinator_b.email)
    current = totp.current_code(secret)
    wrong = next(c for c in ("000000", "111111", "222222") if c != current)
    statuses = [post(client, SECOND_STEP, {"code": wrong}).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert post(client, SECOND_STEP, {"code": totp.current_code(secret)}).status_code == 429
    assert client.get("/").status_code == 302
    assert _user(engine, world.coordinator_b.id).locked_until is not None


@pytest.mark.parametrize("role", [Role.INVESTIGATOR, Role.DATA_MANAGER, Role.ADMIN])
def test_site_policy_requires_enrolment(app: Flask, world: World, engine: Engine,
                                        require_at: Callable[[int], None], role: Role) -> None:
    require_at(world.site_a.id)
    with unit_of_work(make_session_factory(engine)) as session:
        site = session.get(Site, world.site_a.id)
        assert site is not None
        user = factories.user(session, role, [site] if role is Role.INVESTIGATOR else [])
    client = app.test_client()
    assert _password_step(client, user.email).endswith(ENROL)
    assert client.get("/").status_code == 302  # not signed in before enrolling
    page = client.get(ENROL).get_data(as_text=True)
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match and token and "otpauth://totp/" in page
    secret = match.group(1)
    response = client.post(ENROL, data={"code": "12345", "csrf_token": token.group(1)})
    assert response.status_code == 422 and client.get("/").status_code == 302
    page = client.get(ENROL).get_data(as_text=True)  # each visit shows a new key
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match and token and match.group(1) != secret
    secret = match.group(1)
    response = client.post(ENROL, data={"code": totp.current_code(secret),
                                        "csrf_token": token.group(1)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert _user(engine, user.id).totp_secret == secret


def test_policy_does_not_bind_coordinators_or_other_sites(
        app: Flask, world: World, engine: Engine, require_at: Callable[[int], None]) -> None:
    require_at(world.site_a.id)
    with unit_of_work(make_session_factory(engine)) as session:
        site_b = session.get(Site, world.site_b.id)
        assert site_b is not None
        investigator_b = factories.user(session, Role.INVESTIGATOR, [site_b])
    for email in (world.coordinator_a.email, investigator_b.email):
        client = app.test_client()
        assert _password_step(client, email) == "/"


def test_optional_enrolment_when_signed_in(app: Flask, world: World, engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, world.monitor.email)
    page = client.get(ENROL).get_data(as_text=True)
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match and token
    response = client.post(ENROL, data={"code": totp.current_code(match.group(1)),
                                        "csrf_token": token.group(1)})
    assert response.status_code == 302
    assert _user(engine, world.monitor.id).totp_secret == match.group(1)
    # from now on the monitor needs the code
    assert _password_step(app.test_client(), world.monitor.email).endswith(SECOND_STEP)


def test_admin_resets_a_lost_second_factor(engine: Engine, world: World) -> None:
    _enrolled(engine, world.coordinator_a.id)
    with unit_of_work(make_session_factory(engine)) as session:
        admin = session.get(User, world.admin.id)
        coordinator = session.get(User, world.coordinator_a.id)
        assert admin is not None and coordinator is not None
        with pytest.raises(Forbidden):
            second_factor.reset(session, Actor.of(coordinator), world.coordinator_a.id, "lost")
        second_factor.reset(session, Actor.of(admin), world.coordinator_a.id, "phone lost")
    assert _user(engine, world.coordinator_a.id).totp_secret is None


def _code_check(engine: Engine, user_id: int, code: str,
                now: datetime | None = None) -> second_factor.CodeCheck:
    with unit_of_work(make_session_factory(engine)) as session:
        user = session.get(User, user_id)
        assert user is not None
        return second_factor.verify_code(session, user, code, now)


def test_a_code_is_accepted_once(world: World, engine: Engine) -> None:
    secret = _enrolled(engine, world.coordinator_a.id)
    now = utcnow()
    step = pyotp.TOTP(secret).timecode(now)

    def code(offset: int) -> str:
        return totp.current_code(secret, now + timedelta(seconds=30 * offset))

    accepted, reused = second_factor.CodeCheck.ACCEPTED, second_factor.CodeCheck.REUSED
    assert _code_check(engine, world.coordinator_a.id, code(0), now) is accepted
    assert _user(engine, world.coordinator_a.id).totp_last_step == step
    assert _code_check(engine, world.coordinator_a.id, code(0), now) is reused
    # the code before, still inside the drift window, is older than the one used
    if code(-1) != code(0):
        assert _code_check(engine, world.coordinator_a.id, code(-1), now) is reused
    # the next step's code (clock drift) is newer: accepted, then spent as well
    assert _code_check(engine, world.coordinator_a.id, code(1), now) is accepted
    assert _user(engine, world.coordinator_a.id).totp_last_step == step + 1
    if code(0) != code(1):
        assert _code_check(engine, world.coordinator_a.id, code(0), now) is reused
    wrong = next(c for c in ("000000", "111111", "222222") if c not in {code(-1), code(0),
                                                                          code(1)})
    assert _code_check(engine, world.coordinator_a.id, wrong, now) is second_factor.CodeCheck.WRONG
    user = _user(engine, world.coordinator_a.id)
    assert user.failed_logins >= 2  # reuses count towards the lock-out like wrong codes
    with make_session_factory(engine, write=False)() as session:
        reasons = list(session.scalars(select(AuditEvent.reason).where(
            AuditEvent.entity_id == world.coordinator_a.id, AuditEvent.entity == "user")))
    assert "second-factor code already used" in reasons


def test_the_enrolment_code_cannot_sign_in(world: World, engine: Engine) -> None:
    secret = totp.new_secret()
    now = utcnow()
    with unit_of_work(make_session_factory(engine)) as session:
        user = session.get(User, world.coordinator_a.id)
        assert user is not None
        assert second_factor.enrol(session, user, secret, totp.current_code(secret, now), now)
    outcome = _code_check(engine, world.coordinator_a.id, totp.current_code(secret, now), now)
    assert outcome is second_factor.CodeCheck.REUSED


def test_two_requests_racing_with_one_code_let_one_in(world: World, engine: Engine) -> None:
    """The second of two requests with one code read the account before the
    first recorded the step (on PostgreSQL they can overlap; SQLite serialises
    writers, so the stale read is set up by hand): the conditional update lets
    only the first through."""
    secret = _enrolled(engine, world.coordinator_a.id)
    now = utcnow()
    code = totp.current_code(secret, now)
    factory = make_session_factory(engine)
    with factory() as first:
        user = first.get(User, world.coordinator_a.id)
        assert user is not None
        stale_step = user.totp_last_step
        assert second_factor.verify_code(first, user, code, now) is second_factor.CodeCheck.ACCEPTED
        first.commit()
    with factory() as second:
        user = second.get(User, world.coordinator_a.id)
        assert user is not None and user.totp_last_step != stale_step
        set_committed_value(user, "totp_last_step", stale_step)  # as read before the commit
        assert second_factor.verify_code(second, user, code, now) is second_factor.CodeCheck.REUSED
        second.commit()


def test_replaying_a_code_at_sign_in_is_refused(app: Flask, world: World,
                                                engine: Engine) -> None:
    secret = _enrolled(engine, world.coordinator_a.id)
    client = app.test_client()
    _password_step(client, world.coordinator_a.email)
    code = totp.current_code(secret)
    assert post(client, SECOND_STEP, {"code": code}).status_code == 302
    assert client.get("/").status_code == 200
    post(client, "/logout", {}, token_page="/")
    # someone who saw the code (over the shoulder, a recording) tries it at once
    other = app.test_client()
    _password_step(other, world.coordinator_a.email)
    response = post(other, SECOND_STEP, {"code": code})
    assert response.status_code == 401 and "déjà servi" in response.get_data(as_text=True)
    assert other.get("/").status_code == 302


def _signed_in_with_code(app: Flask, engine: Engine, user: User) -> FlaskClient:
    """A client fully signed in as `user`, who gets a second factor for it (an
    earlier test's site policy may require one of a study-wide account)."""
    secret = _enrolled(engine, user.id)
    client = app.test_client()
    assert _password_step(client, user.email).endswith(SECOND_STEP)
    assert post(client, SECOND_STEP, {"code": totp.current_code(secret)}).status_code == 302
    assert client.get("/").status_code == 200
    return client


def test_admin_page_resets_a_second_factor(app: Flask, world: World, engine: Engine) -> None:
    secret = _enrolled(engine, world.coordinator_a.id)
    victim = app.test_client()
    _password_step(victim, world.coordinator_a.email)
    assert post(victim, SECOND_STEP, {"code": totp.current_code(secret)}).status_code == 302
    assert victim.get("/").status_code == 200
    admin = _signed_in_with_code(app, engine, world.admin)  # study-wide: a policy may bind
    edit = admin.get(f"/admin/users/{world.coordinator_a.id}").get_data(as_text=True)
    page_url = f"/admin/users/{world.coordinator_a.id}/second-factor"
    assert page_url in edit
    page = admin.get(page_url)
    assert page.status_code == 200 and 'name="reason"' in page.get_data(as_text=True)
    response = post(admin, page_url, {"reason": "   "})
    assert response.status_code == 422 and "Indiquez un motif" in response.get_data(as_text=True)
    assert _user(engine, world.coordinator_a.id).totp_secret is not None
    response = post(admin, page_url, {"reason": "x" * 1001})
    assert response.status_code == 422
    assert _user(engine, world.coordinator_a.id).totp_secret is not None
    response = post(admin, page_url, {"reason": "phone lost, identity checked by phone call"})
    assert response.status_code == 302
    user = _user(engine, world.coordinator_a.id)
    assert user.totp_secret is None and user.totp_last_step is None
    with make_session_factory(engine, write=False)() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == world.coordinator_a.id,
            AuditEvent.action == "permission").order_by(AuditEvent.id.desc())).first()
    assert event is not None and event.user_id == world.admin.id
    assert event.reason == "phone lost, identity checked by phone call"
    assert event.changes == {"second_factor": [True, False]}
    assert victim.get("/").status_code == 302  # their sessions ended
    assert admin.get("/").status_code == 200
    # nothing left to reset: said so, nothing written
    assert "Aucun second facteur" in admin.get(page_url).get_data(as_text=True)
    assert post(admin, page_url, {"reason": "again"}).status_code == 409


def test_only_admins_reset_second_factors(app: Flask, world: World, engine: Engine) -> None:
    _enrolled(engine, world.coordinator_b.id)
    client_a = app.test_client()
    sign_in(client_a, world.coordinator_a.email)
    page_url = f"/admin/users/{world.coordinator_b.id}/second-factor"
    assert client_a.get(page_url).status_code == 403
    assert post(client_a, page_url, {"reason": "lost"}, token_page="/").status_code == 403
    assert _user(engine, world.coordinator_b.id).totp_secret is not None


def _qr_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules (column, row, quiet zone included) of segno's SVG path."""
    path = re.search(r'<path stroke="#000" d="([^"]+)"', svg)
    assert path
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, first, second in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?",
                                              path.group(1)):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            dark |= {(int(x) + i, int(y)) for i in range(int(first))}
            x += float(first)
    return dark


def test_enrolment_page_shows_the_key_as_an_inline_qr_code(app: Flask, world: World) -> None:
    client = app.test_client()
    sign_in(client, world.monitor.email)
    response = client.get(ENROL)
    page = response.get_data(as_text=True)
    uri = re.search(r'id="totp-uri">([^<]+)<', page)
    figure = re.search(r'<figure id="totp-qr"[^>]*>(<svg.*?</svg>)</figure>', page, re.S)
    assert uri and figure
    svg = figure.group(1)
    assert "<script" not in svg and "style=" not in svg and "href" not in svg  # CSP-clean
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # the picture is the QR code of the otpauth address shown beside it
    expected = segno.make(html.unescape(uri.group(1)), error="m")
    border = 4
    wanted = {(column + border, row + border) for row, line in enumerate(expected.matrix)
              for column, module in enumerate(line) if module & 1}
    assert len(wanted) > 100 and _qr_modules(svg) == wanted
