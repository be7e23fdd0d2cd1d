"""Web tests: the app on the test database (SQLite and PostgreSQL), real
sign-in with CSRF tokens, data committed through the services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from tests import factories
from trialdb.config import Settings
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import Assay, Participant, Site, User
from trialdb.vocab import LoadUnit, Role, Specimen, Virus
from trialdb.web import create_app

PASSWORD = factories.PASSWORD
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    """Two sites, a coordinator of each, an admin, a monitor and CMV/TTV assays."""

    site_a: Site
    site_b: Site
    coordinator_a: User
    coordinator_b: User
    admin: User
    monitor: User
    cmv_assay: Assay
    ttv_assay: Assay


def _unique(prefix: str) -> str:
    return factories.unique_code(prefix)


def build_world(engine: Engine) -> World:
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        site_a = factories.site(session, _unique("WA"))
        site_b = factories.site(session, _unique("WB"))
        tag = _unique("w")
        coordinator_a = factories.user(session, Role.COORDINATOR, [site_a], f"coord-a-{tag}@example.org")
        coordinator_b = factories.user(session, Role.COORDINATOR, [site_b], f"coord-b-{tag}@example.org")
        admin = factories.user(session, Role.ADMIN, [], f"admin-{tag}@example.org")
        monitor = factories.user(session, Role.MONITOR, [site_a], f"monitor-{tag}@example.org")
        cmv = Assay(name=f"CMV PCR {tag}", virus=Virus.CMV, specimen=Specimen.PLASMA,
                    unit=LoadUnit.IU_PER_ML, limit_of_detection=30, lloq=62)
        ttv = Assay(name=f"TTV PCR {tag}", virus=Virus.TTV, specimen=Specimen.PLASMA,
                    unit=LoadUnit.COPIES_PER_ML, lloq=100)
        session.add_all([cmv, ttv])
        session.flush()
        for obj in (site_a, site_b, coordinator_a, coordinator_b, admin, monitor, cmv, ttv):
            session.refresh(obj)
        return World(site_a, site_b, coordinator_a, coordinator_b, admin, monitor, cmv, ttv)


def make_app(engine: Engine, tmp_path: Path, idle_minutes: int = 30) -> Flask:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        instance_path=tmp_path, secret_key="test-secret-key",
                        session_idle_minutes=idle_minutes)
    app = create_app(settings, engine=engine)
    app.config.update(TESTING=True)
    return app


@pytest.fixture()
def app(engine: Engine, tmp_path: Path) -> Flask:
    return make_app(engine, tmp_path)


@pytest.fixture()
def world(engine: Engine) -> World:
    return build_world(engine)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


@pytest.fixture()
def client_a(app: Flask, world: World) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        sign_in(client, world.coordinator_a.email)
        yield client


def post(client: FlaskClient, path: str, data: dict[str, object], token_page: str | None = None,
         **kwargs: object):  # type: ignore[no-untyped-def]
    """POST a form with a fresh CSRF token read from `token_page` (default: `path`)."""
    token = csrf_token(client, token_page or path)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def new_participant(engine: Engine, site: Site, **kwargs: object) -> Participant:
    with unit_of_work(make_session_factory(engine)) as session:
        participant = factories.participant(session, session.get(Site, site.id), **kwargs)
        session.flush()
        session.refresh(participant)
        return participant
