"""The web app when the database is busy or unreachable: a 503 page (or JSON)
with the bilingual message, nothing written, and normal service as soon as
the database is back. The SQLite case holds a real write lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from tests.web.conftest import World, app, csrf_token, sign_in, world  # noqa: F401 - fixtures
from trialdb.config import Settings
from trialdb.db import make_engine, make_session_factory
from trialdb.models import Participant
from trialdb.web import create_app

MESSAGE_FR = "La base de données est occupée ou injoignable"
MESSAGE_EN = "The database is busy or unreachable"
NEW_PARTICIPANT = {"part": "prospective", "sex": "male", "birth_year": "1980",
                   "birth_month": "3", "screened_on": "2024-01-10"}


@pytest.fixture()
def impatient_app(engine: Engine, tmp_path: Path) -> Iterator[Flask]:
    """The app on the same database, waiting only 0.3 s for a lock."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    url = engine.url.render_as_string(hide_password=False)
    impatient = make_engine(url, connect_args={"timeout": 0.3})
    application = create_app(Settings(database_url=url, instance_path=tmp_path,
                                      secret_key="test-secret-key"), engine=impatient)
    application.config.update(TESTING=True)
    yield application
    impatient.dispose()


def _count(engine: Engine, site_id: int) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(Participant).where(
            Participant.site_id == site_id)) or 0


def test_a_held_sqlite_lock_gives_503_then_service_resumes(
        impatient_app: Flask, engine: Engine, world: World) -> None:  # noqa: F811
    client = impatient_app.test_client()
    sign_in(client, world.coordinator_a.email)
    token = csrf_token(client, "/participants/new")
    before = _count(engine, world.site_a.id)
    blocker = sqlite3.connect(engine.url.database or "", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        response = client.post("/participants/new",
                               data={**NEW_PARTICIPANT, "site": world.site_a.code,
                                     "csrf_token": token})
        assert response.status_code == 503
        assert MESSAGE_FR in response.get_data(as_text=True)
        assert response.headers["Retry-After"]
        # reading still works beside a writer (WAL)
        assert client.get("/").status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert _count(engine, world.site_a.id) == before  # nothing half-written
    response = client.post("/participants/new", data={**NEW_PARTICIPANT, "site": world.site_a.code,
                                                      "csrf_token": token})
    assert response.status_code == 302
    assert _count(engine, world.site_a.id) == before + 1


def _broken(application: Flask, message: str) -> None:
    def view() -> str:
        raise OperationalError("SELECT 1", {}, Exception(message))

    application.add_url_rule("/broken", "broken", view)
    application.add_url_rule("/api/broken", "api_broken", view)


def test_unreachable_database_is_a_503_in_the_users_language(app: Flask) -> None:  # noqa: F811
    _broken(app, 'connection to server at "127.0.0.1", port 5432 failed: Connection refused')
    client = app.test_client()
    response = client.get("/broken")
    assert response.status_code == 503 and MESSAGE_FR in response.get_data(as_text=True)
    assert "no-store" in response.headers["Cache-Control"]
    with client.session_transaction() as session:
        session["lang"] = "en"
    assert MESSAGE_EN in client.get("/broken").get_data(as_text=True)
    response = client.get("/api/broken")
    assert response.status_code == 503
    assert response.get_json()["error"].startswith(MESSAGE_EN)


def test_other_database_errors_stay_errors(app: Flask) -> None:  # noqa: F811
    _broken(app, "no such column: nonsense")
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    assert app.test_client().get("/broken").status_code == 500
