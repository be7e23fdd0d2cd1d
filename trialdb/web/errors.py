"""Errors as pages (or JSON) in the user's language, with a 4xx status."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from trialdb.errors import UserError
from trialdb.web.i18n import language, t

_HTTP_KEYS = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method"}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".json") or (
        request.accept_mimetypes.best == "application/json")


def _answer(message: str, status: int) -> tuple[Response | str, int]:
    if _wants_json():
        return jsonify({"error": message}), status
    return render_template("error.html", message=message, status=status), status


def register(app: Flask) -> None:
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
