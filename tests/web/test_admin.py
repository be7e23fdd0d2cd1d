"""Admin pages: create accounts, set roles and sites, deactivate (never delete),
every change audited as a permission change."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.web.conftest import PASSWORD, World, post, sign_in
from trialdb.db import make_session_factory
from trialdb.models import AuditEvent, User


def _admin(app: Flask, world: World) -> FlaskClient:
    client = app.test_client()
    sign_in(client, world.admin.email)
    return client


def _user(engine: Engine, email: str) -> User | None:
    with make_session_factory(engine, write=False)() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            _ = [m.site.code for m in user.memberships]
        return user


def test_create_edit_and_deactivate_an_account(app: Flask, world: World, engine: Engine) -> None:
    client = _admin(app, world)
    email = f"new.{world.site_a.code.lower()}@example.org"
    response = post(client, "/admin/users/new", {
        "email": email, "display_name": "New coordinator", "password": "short",
        "role": "coordinator", "sites": [world.site_a.code]})
    assert response.status_code == 422
    assert "au moins 12 caractères" in response.get_data(as_text=True)
    response = post(client, "/admin/users/new", {
        "email": email, "display_name": "New coordinator", "password": PASSWORD,
        "role": "coordinator", "sites": [world.site_a.code]})
    assert response.status_code == 302
    created = _user(engine, email)
    assert created is not None and created.role.value == "coordinator"
    url = f"/admin/users/{created.id}"
    response = post(client, url, {"role": "investigator",
                                  "sites": [world.site_a.code, world.site_b.code]})
    assert response.status_code == 302
    changed = _user(engine, email)
    assert changed is not None and changed.role.value == "investigator"
    assert sorted(m.site.code for m in changed.memberships) == sorted(
        [world.site_a.code, world.site_b.code])
    response = post(client, f"{url}/active", {"active": "0"}, token_page="/admin/users")
    assert response.status_code == 302
    deactivated = _user(engine, email)
    assert deactivated is not None and deactivated.is_active is False
    with make_session_factory(engine, write=False)() as session:
        actions = session.scalars(select(AuditEvent.reason).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == created.id,
            AuditEvent.action == "permission").order_by(AuditEvent.id)).all()
    assert actions == ["account created", None, "account deactivated"]
    page = client.get("/admin/users").get_data(as_text=True)
    assert email in page and "Désactivé" in page


def test_admin_cannot_lock_themselves_out(app: Flask, world: World) -> None:
    client = _admin(app, world)
    response = post(client, f"/admin/users/{world.admin.id}/active", {"active": "0"},
                    token_page="/admin/users")
    assert response.status_code == 409
    response = post(client, f"/admin/users/{world.admin.id}", {"role": "monitor",
                                                               "all_sites": "y"})
    assert response.status_code == 409


def test_coordinator_cannot_use_admin_pages(client_a: FlaskClient, world: World) -> None:
    assert client_a.get("/admin/users").status_code == 403
    response = post(client_a, f"/admin/users/{world.coordinator_a.id}/active", {"active": "1"},
                    token_page="/")
    assert response.status_code == 403


def test_unknown_account_is_404(app: Flask, world: World) -> None:
    client = _admin(app, world)
    assert client.get("/admin/users/987654321").status_code == 404
    assert client.get("/admin/users/98765432109876543210").status_code == 404
    page = client.get("/admin/users").get_data(as_text=True)
    assert re.search(r"Comptes utilisateurs", page)
