"""create_app does wiring only: blueprints, CSRF, settings, error handlers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from tests.web.conftest import make_app
from trialdb.config import Settings
from trialdb.db import make_engine
from trialdb.web import create_app


def test_factory_wires_blueprints_and_settings(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'none.sqlite3'}",
                        instance_path=tmp_path, secret_key="k" * 32, session_idle_minutes=7)
    app = create_app(settings)
    assert {"auth", "admin", "dashboard", "participants", "screening", "viral_loads",
            "genotypes", "dictionary"} <= set(app.blueprints)
    assert app.config["SECRET_KEY"] == "k" * 32
    assert app.config["IDLE_MINUTES"] == 7
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 7 * 60
    assert "csrf" in app.extensions
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    # wiring only: no database file is created by building the app
    assert not (tmp_path / "none.sqlite3").exists()


def test_factory_accepts_a_config_mapping(tmp_path: Path, monkeypatch: object) -> None:
    import os

    os.environ["TRIALDB_INSTANCE_PATH"] = str(tmp_path)
    try:
        app = create_app({"TESTING": True}, engine=make_engine(f"sqlite:///{tmp_path}/x.sqlite3"))
    finally:
        del os.environ["TRIALDB_INSTANCE_PATH"]
    assert app.testing
    assert app.config["SECRET_KEY"]


def test_login_page_is_french_by_default_and_switches_to_english(engine: Engine,
                                                                 tmp_path: Path) -> None:
    app = make_app(engine, tmp_path)
    with app.test_client() as client:
        page = client.get("/login").get_data(as_text=True)
        assert "Connexion" in page and 'lang="fr"' in page
        from tests.web.conftest import csrf_token

        token = csrf_token(client)
        client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": token})
        page = client.get("/login").get_data(as_text=True)
        assert "Sign in" in page and 'lang="en"' in page


def test_security_headers(engine: Engine, tmp_path: Path) -> None:
    app = make_app(engine, tmp_path)
    response = app.test_client().get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
