"""The second sign-in step (TOTP), enrolment of a second factor, and the
sign-in throttle by client address. `auth.login` asks `second_step` and
calls `after_password` once the password is right; the session only becomes
signed in here when the code is right too."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from trialdb.models import User
from trialdb.security import second_factor, totp
from trialdb.security.throttle import SignInThrottle
from trialdb.services import staff
from trialdb.web.base import SignedInUser, commit, db
from trialdb.web.i18n import language
from trialdb.web.notice import notify

bp = Blueprint("second_factor", __name__)

PENDING_SECONDS = 300  # the code must follow the password within five minutes
_TEXT = {
    "title": ("Second facteur", "Second factor"),
    "enrol_title": ("Enregistrer un second facteur", "Set up a second factor"),
    "code": ("Code à 6 chiffres de l'application d'authentification",
             "6-digit code from the authenticator app"),
    "verify": ("Valider", "Verify"),
    "wrong_code": ("Code incorrect.", "Wrong code."),
    "reused_code": ("Ce code a déjà servi : attendez le suivant (30 secondes au plus).",
                    "This code was already used: wait for the next one (30 seconds at most)."),
    "expired": ("Délai dépassé : reconnectez-vous.", "Too late: sign in again."),
    "locked": ("Trop d'échecs : compte verrouillé, réessayez plus tard.",
               "Too many failures: account locked, try again later."),
    "throttled": ("Trop de tentatives depuis cette adresse : réessayez dans {seconds} s.",
                  "Too many attempts from this address: try again in {seconds} s."),
    "required": ("La politique du centre exige un second facteur pour votre rôle : "
                 "enregistrez-le pour continuer.",
                 "The site's policy requires a second factor for your role: set it up to "
                 "continue."),
    "instructions": ("Ajoutez ce compte dans une application d'authentification (TOTP) en "
                     "lisant le code QR, ou en saisissant la clé ou l'adresse otpauth, puis "
                     "donnez le code affiché.",
                     "Add this account to an authenticator app (TOTP) by scanning the QR code, "
                     "or by typing the key or the otpauth address, then give the code it "
                     "shows."),
    "key": ("Clé", "Key"),
    "enrolled": ("Second facteur enregistré.", "Second factor set up."),
    "qr_label": ("Code QR de l'adresse otpauth", "QR code of the otpauth address"),
    "state_on": ("Un second facteur (TOTP) est enregistré pour ce compte.",
                 "A second factor (TOTP) is set up for this account."),
    "state_off": ("Aucun second facteur n'est enregistré pour ce compte.",
                  "No second factor is set up for this account."),
    "reset_title": ("Réinitialiser le second facteur", "Reset the second factor"),
    "reset_explained": ("Pour un appareil perdu ou remplacé : le second facteur actuel est "
                        "supprimé, toutes les sessions ouvertes de ce compte prennent fin, et "
                        "la personne en enregistre un nouveau à sa prochaine connexion si la "
                        "politique de son centre l'exige (sinon quand elle le souhaite). "
                        "Vérifiez son identité avant de le faire.",
                        "For a lost or replaced device: the current second factor is removed, "
                        "every open session of this account ends, and the person sets up a "
                        "new one at their next sign-in when their site's policy requires it "
                        "(otherwise when they choose). Check who they are before you do it."),
    "reset_reason": ("Motif (obligatoire, conservé dans la piste d'audit)",
                     "Reason (required, kept in the audit trail)"),
    "reset_button": ("Supprimer le second facteur", "Remove the second factor"),
}


def text(key: str, **values: Any) -> str:
    french, english = _TEXT[key]
    return (french if language() == "fr" else english).format(**values)


@bp.app_context_processor
def _template_text() -> dict[str, Any]:
    """This module's texts for every template (the admin pages show them too)."""
    return {"second_factor_text": text}


class CodeForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
    code = StringField(validators=[InputRequired(), Length(max=32)])


def throttle() -> SignInThrottle:
    """The application's sign-in throttle. Its counts are in the database,
    shared by every worker; call its writes once the request's transaction
    is committed (security.throttle)."""
    found = current_app.extensions.get("trialdb_sign_in_throttle")
    if found is None:
        state = current_app.extensions["trialdb"]
        secret = current_app.config["SECRET_KEY"]
        found = SignInThrottle(state.read_factory, state.write_factory,
                               secret if isinstance(secret, bytes) else str(secret).encode(),
                               limit=current_app.config.get("SIGN_IN_FAILURES_PER_ADDRESS", 20),
                               window=current_app.config.get("SIGN_IN_THROTTLE_SECONDS", 300))
        current_app.extensions["trialdb_sign_in_throttle"] = found
    return found


def client_address() -> str:
    return request.remote_addr or "unknown"


def throttled_answer() -> tuple[str, int, dict[str, str]] | None:
    """A 429 page, with Retry-After, when this address failed too often recently, else None."""
    wait = throttle().retry_after(client_address())
    if not wait:
        return None
    from trialdb.web.auth import LoginForm

    page = render_template("login.html", form=LoginForm(), error=text("throttled", seconds=wait))
    return page, 429, {"Retry-After": str(wait)}


def _start_pending(user: User, *, enrol: bool) -> None:
    lang = language()
    target = request.args.get("next")
    session.clear()  # nothing from before the password survives
    session["lang"] = lang
    session["second_factor"] = {"user": user.id, "at": time.time(), "enrol": enrol,
                                "next": target}


def second_step(user: User) -> str | None:
    """Once the password is right, the step that must follow ("verify" or
    "enrol"), or None to sign in now. Read before the sign-in's commit, so
    that nothing holds a transaction open after it (the throttle writes then)."""
    if user.totp_secret is not None:
        return "verify"
    return "enrol" if second_factor.is_required(db(), user) else None


def after_password(user: User, step: str) -> Response:
    """Called once the right password is committed: on to `second_step`'s step."""
    _start_pending(user, enrol=step == "enrol")
    return redirect(url_for(f"second_factor.{step}"))


def _pending_user(enrol: bool) -> User | None:
    pending = session.get("second_factor")
    if not isinstance(pending, dict) or bool(pending.get("enrol")) is not enrol:
        return None
    started = pending.get("at")
    if not isinstance(started, int | float) or time.time() - started > PENDING_SECONDS:
        return None
    user = db().get(User, int(pending.get("user", 0)))
    return user if user is not None and user.is_active else None


def _finish(user: User) -> Response:
    from trialdb.web.auth import _safe_next

    pending = session.get("second_factor") or {}
    lang = language()
    session.clear()  # a new session once fully signed in
    session["lang"] = lang
    login_user(SignedInUser(user))
    session.permanent = True
    throttle().succeeded(client_address(), user.email)
    return redirect(_safe_next(pending.get("next")))


def _expired() -> Response:
    lang = language()
    session.clear()
    session["lang"] = lang
    notify("signed_out_idle")
    return redirect(url_for("auth.login"))


@bp.route("/login/second-factor", methods=["GET", "POST"])
def verify() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    user = _pending_user(enrol=False)
    if user is None or user.totp_secret is None:
        return _expired()
    form = CodeForm()
    error, status = None, 200
    if request.method == "POST":
        blocked = throttled_answer()
        if blocked is not None:
            return blocked
        outcome = second_factor.CodeCheck.WRONG
        if form.validate_on_submit():
            outcome = second_factor.verify_code(db(), user, form.code.data or "")
        commit()  # the check is counted and audited; the throttle writes after it
        if outcome is second_factor.CodeCheck.ACCEPTED:
            return _finish(user)
        throttle().failed(client_address(), user.email)
        if staff.locked_until(user) is not None:
            error, status = text("locked"), 429
        else:
            reused = outcome is second_factor.CodeCheck.REUSED
            error, status = text("reused_code" if reused else "wrong_code"), 401
    page = render_template("second_factor.html", form=form, error=error, text=text,
                           secret=None, uri=None)
    return page, status


@bp.route("/account/second-factor", methods=["GET", "POST"])
def enrol() -> Response | str | tuple[str, int]:
    """Set up (or replace) a second factor: required after the password when
    the site's policy says so, or chosen by a signed-in user."""
    signed_in = bool(current_user.is_authenticated)
    user = db().get(User, int(current_user.id)) if signed_in else _pending_user(enrol=True)
    if user is None:
        return _expired() if not signed_in else redirect(url_for("auth.login"))
    secret = session.get("totp_enrol_secret")
    if not isinstance(secret, str) or request.method == "GET":
        secret = totp.new_secret()
        session["totp_enrol_secret"] = secret
    form = CodeForm()
    error, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit() and second_factor.enrol(db(), user, secret,
                                                             form.code.data or ""):
            commit()
            session.pop("totp_enrol_secret", None)
            if not signed_in:
                return _finish(user)
            notify("saved")
            return redirect(url_for("dashboard.index"))
        commit()  # the failure is counted and audited
        error, status = text("wrong_code"), 422
    uri = totp.provisioning_uri(secret, user.email)
    page = render_template("second_factor.html", form=form, error=error, text=text,
                           secret=secret, uri=uri, required=not signed_in,
                           qr=Markup(totp.qr_svg(uri, text("qr_label"))))
    return page, status
