"""Server-side end of sessions: each session cookie carries the user's session
generation (app_user.session_epoch); sign-out, a change of role, sites or
activation and a second-factor reset raise it, so a copy of a cookie taken
before is refused afterwards, not only the browser's own cookie."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.web.conftest import World, post, sign_in
from trialdb import migrate
from trialdb.db import make_engine, make_session_factory, unit_of_work, utcnow
from trialdb.models import AuditEvent, Site, User
from trialdb.scratch import empty_database
from trialdb.security import second_factor, totp
from trialdb.services import accounts, staff
from trialdb.services.actor import Actor
from trialdb.vocab import Role

from .conftest import SiteAObjects


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _copy_of_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def _epoch(engine: Engine, user_id: int) -> int:
    with make_session_factory(engine, write=False)() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.session_epoch


def test_a_cookie_copied_before_sign_out_is_refused_after(app: Flask, world: World,
                                                          engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    thief = _copy_of_cookie(app, client)
    assert _signed_in(thief)  # the copy works while the session lives: the test can fail
    before = _epoch(engine, world.coordinator_a.id)
    response = post(client, "/logout", {}, token_page="/")
    assert response.status_code == 302
    assert _epoch(engine, world.coordinator_a.id) == before + 1
    assert not _signed_in(thief)
    assert thief.get("/queries").status_code == 302
    # signing in again gives a working session of the new generation
    sign_in(client, world.coordinator_a.email)
    assert _signed_in(client) and not _signed_in(thief)
    with make_session_factory(engine, write=False)() as session:
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == world.coordinator_a.id)).all()
    assert "logout" in actions


def test_signing_out_ends_the_other_browsers_sessions_too(app: Flask, world: World) -> None:
    office, ward = app.test_client(), app.test_client()
    sign_in(office, world.monitor.email)
    sign_in(ward, world.monitor.email)
    assert _signed_in(office) and _signed_in(ward)
    post(office, "/logout", {}, token_page="/")
    assert not _signed_in(ward)


def test_a_cookie_of_the_earlier_form_is_refused(app: Flask, world: World) -> None:
    """A cookie holding the bare user id (before session generations) signs nobody in."""
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    with client.session_transaction() as session:
        user_id, _, epoch = str(session["_user_id"]).partition(":")
        assert user_id == str(world.coordinator_a.id) and epoch.isdigit()
        session["_user_id"] = user_id
    assert not _signed_in(client)
    for forged in (f"{user_id}:", f"{user_id}:x", f"{user_id}:{int(epoch) + 1}",
                   f"{user_id}:{epoch}:0"):
        with client.session_transaction() as session:
            session["_user_id"] = forged
        assert not _signed_in(client), forged


def _deactivate(session: Session, admin: Actor, user: User, world: World) -> None:
    staff.set_active(session, admin, user.id, False)


def _new_role(session: Session, admin: Actor, user: User, world: World) -> None:
    staff.update_access(session, admin, user.id, role=Role.INVESTIGATOR,
                        site_codes=[world.site_a.code], all_sites=False)


def _new_sites(session: Session, admin: Actor, user: User, world: World) -> None:
    staff.update_access(session, admin, user.id, role=Role.COORDINATOR,
                        site_codes=[world.site_a.code, world.site_b.code], all_sites=False)


def _second_factor_reset(session: Session, admin: Actor, user: User, world: World) -> None:
    secret = totp.new_secret()
    assert second_factor.enrol(session, user, secret, totp.current_code(secret))
    second_factor.reset(session, admin, user.id, "phone lost")


@pytest.mark.parametrize("change", [_deactivate, _new_role, _new_sites, _second_factor_reset],
                         ids=["deactivation", "role", "sites", "second-factor reset"])
def test_account_changes_end_the_users_sessions(
        app: Flask, world: World, engine: Engine,
        change: Callable[[Session, Actor, User, World], None]) -> None:
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    thief = _copy_of_cookie(app, client)
    assert _signed_in(client) and _signed_in(thief)
    with unit_of_work(make_session_factory(engine)) as session:
        admin, user = session.get(User, world.admin.id), session.get(User, world.coordinator_a.id)
        assert admin is not None and user is not None
        change(session, Actor.of(admin), user, world)
    assert not _signed_in(client) and not _signed_in(thief)


def test_a_change_that_changes_nothing_keeps_the_session(app: Flask, world: World,
                                                         engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    with unit_of_work(make_session_factory(engine)) as session:
        admin = session.get(User, world.admin.id)
        assert admin is not None
        staff.update_access(session, Actor.of(admin), world.coordinator_a.id,
                            role=Role.COORDINATOR, site_codes=[world.site_a.code],
                            all_sites=False)
        second_factor.reset(session, Actor.of(admin), world.coordinator_a.id, "none to remove")
    assert _signed_in(client)


def test_an_admin_changing_their_own_sites_stays_signed_in_here_only(
        app: Flask, world: World, engine: Engine) -> None:
    secret = totp.new_secret()  # study-wide: an earlier test's site policy may require it
    with unit_of_work(make_session_factory(engine)) as session:
        admin = session.get(User, world.admin.id)
        assert admin is not None
        assert second_factor.enrol(session, admin, secret,
                                   totp.current_code(secret, utcnow() - timedelta(seconds=60)),
                                   utcnow() - timedelta(seconds=60))
    here, elsewhere = app.test_client(), app.test_client()
    for client, offset in ((here, -30), (elsewhere, 0)):  # one code each: no replay
        sign_in(client, world.admin.email)
        code = totp.current_code(secret, utcnow() + timedelta(seconds=offset))
        assert post(client, "/login/second-factor", {"code": code}).status_code == 302
    response = post(here, f"/admin/users/{world.admin.id}",
                    {"role": "admin", "sites": [world.site_a.code], "all_sites": "y"})
    assert response.status_code == 302
    with make_session_factory(engine, write=False)() as session:
        admin = session.get(User, world.admin.id)
        assert admin is not None and [m.site_id for m in admin.memberships] == [world.site_a.id]
    assert _signed_in(here) and here.get("/admin/users").status_code == 200
    assert not _signed_in(elsewhere)


def test_site_objects_are_out_of_reach_of_a_revoked_cookie(
        app: Flask, world: World, site_a_objects: SiteAObjects) -> None:
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    page = f"/participants/{site_a_objects.study_number}"
    thief = _copy_of_cookie(app, client)
    assert thief.get(page).status_code == 200
    post(client, "/logout", {}, token_page="/")
    response = thief.get(page)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_migration_keeps_accounts_whole_both_ways(backend: str, tmp_path: Path) -> None:
    """0006 adds the two columns in place and drops them in place: on SQLite a
    table copy would cascade the drop of app_user to its site memberships."""
    with empty_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, "0005")
            with unit_of_work(make_session_factory(engine)) as session:
                site = accounts.create_site(session, Actor.system("test"), code="MIG",
                                            name="Centre MIG")
                session.flush()
                session.execute(text(
                    "INSERT INTO app_user (email, display_name, role, password_hash, is_active,"
                    " all_sites, failed_logins, created_at, updated_at) VALUES ('m@example.org',"
                    " 'M', 'coordinator', 'x', true, false, 0, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"))
                user_id = session.scalar(text("SELECT id FROM app_user"))
                session.execute(text("INSERT INTO site_membership (user_id, site_id) "
                                     "VALUES (:u, :s)"), {"u": user_id, "s": site.id})
            migrate.upgrade(engine)
            with make_session_factory(engine, write=False)() as session:
                user = session.get(User, user_id)
                assert user is not None and user.session_epoch == 0
                assert user.totp_last_step is None and len(user.memberships) == 1
            migrate.downgrade(engine, "0005")
            with engine.connect() as connection:
                assert connection.scalar(text("SELECT count(*) FROM site_membership")) == 1
                columns = connection.execute(text("SELECT * FROM app_user")).keys()
                assert "session_epoch" not in columns and "totp_last_step" not in columns
            migrate.upgrade(engine)
            migrate.check(engine)
            with make_session_factory(engine, write=False)() as session:
                assert session.scalar(select(Site.code).where(Site.id == site.id)) == "MIG"
        finally:
            engine.dispose()
