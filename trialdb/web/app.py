"""The Flask application factory: wiring only."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf import CSRFProtect
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from trialdb.config import Settings, load_settings
from trialdb.db import make_engine, make_session_factory


class TrialdbState:
    """What the application keeps between requests: the engine and its factories."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.read_factory = make_session_factory(engine, write=False)
        self.write_factory = make_session_factory(engine, write=True)


def create_app(settings_or_config: Settings | dict[str, Any] | None = None, *,
               engine: Engine | None = None) -> Flask:
    """Build the Flask application.

    `settings_or_config` is a `Settings` (from `load_settings`) or a mapping
    of Flask configuration keys (e.g. {"TESTING": True}) applied over the
    settings read from the environment. `engine` lets tests share theirs.
    """
    from trialdb.web import (
        admin,
        auth,
        dashboard,
        dictionary,
        errors,
        genotypes,
        participants,
        reports,
        review,
        screening,
        second_factor,
        viral_loads,
    )
    from trialdb.web.base import install_request_hooks

    if isinstance(settings_or_config, Settings):
        settings, overrides = settings_or_config, {}
    else:
        settings, overrides = load_settings(), dict(settings_or_config or {})
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=False,  # the cookie is renewed with "seen" (base.py)
        WTF_CSRF_TIME_LIMIT=None,  # the session's idle timeout bounds the token's life
        IDLE_MINUTES=settings.session_idle_minutes,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.config.update(overrides)
    _trust_proxies(app)
    app.extensions["trialdb"] = TrialdbState(settings, engine or make_engine(settings.database_url))
    CSRFProtect(app)
    install_request_hooks(app)
    errors.register(app)
    for blueprint in (auth.bp, admin.bp, dashboard.bp, participants.bp, screening.bp,
                      viral_loads.bp, genotypes.bp, dictionary.bp, review.bp, second_factor.bp,
                      reports.bp):
        app.register_blueprint(blueprint)
    __import__("trialdb.api").api.register(app)  # REST API (token auth)
    for page in ("exports", "lab_import", "assays", "account"):  # ..., own password
        app.register_blueprint(__import__(f"trialdb.web.{page}", fromlist=["bp"]).bp)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind a reverse proxy, believe its X-Forwarded-For/-Proto/-Host headers
    (so HTTPS is seen as HTTPS: Secure cookies, HSTS). Set TRUSTED_PROXIES in
    the configuration or TRIALDB_TRUSTED_PROXIES in the environment to the
    number of proxies in front of the application; 0 (the default) trusts none."""
    count = int(app.config.get("TRUSTED_PROXIES") or os.environ.get("TRIALDB_TRUSTED_PROXIES") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count)
