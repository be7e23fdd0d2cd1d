"""Errors as pages (or JSON) in the user's language, with a 4xx status."""

from __future__ import annotations

from flask import Flask, Response, g, jsonify, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from trialdb.db import is_unavailable
from trialdb.errors import Unavailable, UserError
from trialdb.web.i18n import language, t

_HTTP_KEYS = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method"}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".json") or (
        request.accept_mimetypes.best == "application/json")


def _answer(message: str, status: int) -> tuple[Response | str, int]:
    if _wants_json():
        return jsonify({"error": message}), status
    return render_template("error.html", message=message, status=status), status


def _unavailable(error: Unavailable) -> tuple[Response | str, int, dict[str, str]]:
    """503 when the database is busy or unreachable: the request's session is
    rolled back (nothing was saved) and the page needs no database, not even
    for the signed-in user, so it can be shown while the database is away."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        try:
            db_session.rollback()
        except DBAPIError:
            pass  # the connection is gone: SQLAlchemy has invalidated it already
        finally:
            db_session.close()
    message = error.message(language())
    headers = {"Retry-After": "5", "Cache-Control": "no-store"}
    if _wants_json():
        return jsonify({"error": message}), 503, headers
    # Plain text formatting, not a template: the template context processors
    # would load the signed-in user, from the database that is away.
    page = _UNAVAILABLE_PAGE.format(lang=escape(language()), message=escape(message),
                                    css=escape(url_for("static", filename="app.css")))
    return page, 503, headers


_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>503</title>
<link rel="stylesheet" href="{css}"></head>
<body><main><section class="card narrow"><h1>503</h1>
<p class="lead" id="error-message">{message}</p></section></main></body></html>
"""


def register(app: Flask) -> None:
    @app.errorhandler(Unavailable)
    def unavailable(error: Unavailable) -> tuple[Response | str, int, dict[str, str]]:
        return _unavailable(error)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError) -> tuple[Response | str, int, dict[str, str]]:
        if not is_unavailable(error):
            raise error  # a fault of ours, not of the database being away: a 500
        return _unavailable(Unavailable())

    @app.errorhandler(UserError)
    def user_error(error: UserError) -> tuple[Response | str, int]:
        return _answer(error.message(language()), error.status)

    @app.errorhandler(IntegrityError)
    def integrity_error(_error: IntegrityError) -> tuple[Response | str, int]:
        return _answer(t("integrity"), 422)

    @app.errorhandler(StaleDataError)
    def stale(_error: StaleDataError) -> tuple[Response | str, int]:
        return _answer(t("integrity"), 409)

    @app.errorhandler(DataError)
    def data_error(_error: DataError) -> tuple[Response | str, int]:
        # e.g. a value the column type refuses before reaching the database
        return _answer(t("integrity"), 422)

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> tuple[Response | str, int]:
        return _answer(t("csrf"), 400)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response | str, int]:
        status = error.code or 400
        key = _HTTP_KEYS.get(status)
        return _answer(t(key) if key else (error.description or t("bad_request")), status)
