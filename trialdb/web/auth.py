"""Signing in and out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import InputRequired, Length

from trialdb.services import staff
from trialdb.web import second_factor
from trialdb.web.base import SignedInUser, commit, db
from trialdb.web.i18n import LANGUAGES, language, t

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
    email = EmailField(validators=[InputRequired(), Length(max=254)])
    password = PasswordField(validators=[InputRequired(), Length(max=1024)])


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host) may follow the sign-in."""
    if not target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    status = 200
    if request.method == "POST" and (blocked := second_factor.throttled_answer()) is not None:
        return blocked
    if form.validate_on_submit():
        result = staff.sign_in(db(), form.email.data or "", form.password.data or "")
        step = None if result.user is None else second_factor.second_step(result.user)
        commit()  # the attempt is audited whatever its outcome; the throttle writes after
        if result.user is None:
            second_factor.throttle().failed(second_factor.client_address(), form.email.data or "")
        elif step is not None:
            return second_factor.after_password(result.user, step)
        if result.user is not None:
            second_factor.throttle().succeeded(second_factor.client_address(), result.user.email)
            lang = language()
            session.clear()  # a new session at sign-in: no fixation
            session["lang"] = lang
            login_user(SignedInUser(result.user))
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        if result.locked_until is not None:
            error = t("locked", until=result.locked_until.strftime("%H:%M"))
            status = 429
        else:
            error = t("bad_credentials")
            status = 401
    elif request.method == "POST":
        error = t("bad_credentials")
        status = 400
    page = render_template("login.html", form=form, error=error)
    return (page, status) if status != 200 else page


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    lang = language()
    if current_user.is_authenticated:
        staff.sign_out(db(), int(current_user.id))  # every copy of the cookie dies too
        commit()
    logout_user()
    session.clear()
    session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def switch_language() -> Response:
    wanted = request.form.get("lang", "")
    session["lang"] = wanted if wanted in LANGUAGES else ("en" if language() == "fr" else "fr")
    return redirect(_safe_next(request.form.get("next")))
