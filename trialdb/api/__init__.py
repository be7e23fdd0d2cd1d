"""The REST API: personal tokens, JSON views under /api/v1 and their OpenAPI document."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Mount the API on the application (token-authenticated, so outside CSRF)."""
    from trialdb.api.views import bp

    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
