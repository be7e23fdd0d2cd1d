"""What every view shares: the request's database session, the signed-in
user, site isolation, the idle timeout and the template helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, joinedload
from werkzeug.wrappers import Response

from trialdb.crf.definitions import code_label
from trialdb.errors import Forbidden, NotFound
from trialdb.models import Participant, SiteMembership, User
from trialdb.services.actor import Actor, require_entry
from trialdb.vocab import ParticipantStatus, Role
from trialdb.web import notice
from trialdb.web.i18n import language, t

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignedInUser(UserMixin):  # type: ignore[misc]  # flask_login ships no types
    """The signed-in member of staff, as Flask-Login sees them."""

    def __init__(self, user: User) -> None:
        self._set(user.id, user.email, user.display_name, user.role, user.session_epoch,
                  Actor.of(user))

    def _set(self, user_id: int, email: str, display_name: str, role: Role, epoch: int,
             acting: Actor) -> None:
        self.id = str(user_id)
        self.email = email
        self.display_name = display_name
        self.role = role
        self.actor = acting
        self.session_epoch = epoch

    @classmethod
    def from_rows(cls, rows: Sequence[Any]) -> SignedInUser:
        """From `_SIGNED_IN` rows: one per site membership (one with no site if none)."""
        first = rows[0]
        signed_in = cls.__new__(cls)
        signed_in._set(first.id, first.email, first.display_name, first.role,
                       first.session_epoch, Actor(
                           user_id=first.id, name=first.display_name, role=first.role,
                           site_ids=frozenset(r.site_id for r in rows if r.site_id is not None),
                           all_sites=first.all_sites))
        return signed_in

    def get_id(self) -> str:
        """What the session cookie carries: the user's id and the generation of
        their sessions, so that raising the generation ends every older session."""
        return f"{self.id}:{self.session_epoch}"

    @property
    def may_enter_data(self) -> bool:
        return self.actor.may_enter_data  # services.actor.ENTRY_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def db() -> Session:
    """The request's session: read-only for safe methods, a writer otherwise."""
    if "db_session" not in g:
        state = current_app.extensions["trialdb"]
        factory = state.read_factory if request.method in SAFE_METHODS else state.write_factory
        g.db_session = factory()
    return cast(Session, g.db_session)


def commit() -> None:
    """End the request's use case: one commit point, in the view."""
    db().commit()


def actor() -> Actor:
    return cast(Actor, current_user.actor)


#: Built once: a statement object memoises its cache key, which costs more to
#: compute than the lookup itself (every participant page and CRF save runs it).
_PARTICIPANT_BY_NUMBER = (select(Participant).options(joinedload(Participant.site))
                          .where(Participant.study_number == bindparam("study_number")))


def participant_or_404(study_number: str) -> Participant:
    """The participant, only when the user may see their site (404 otherwise)."""
    participant = db().scalar(_PARTICIPANT_BY_NUMBER,
                              {"study_number": study_number.strip().upper()})
    if participant is None or not actor().may_see_site(participant.site_id):
        raise NotFound("No such participant.", "Participant introuvable.")
    return participant


def entry_required(view: F) -> F:
    """Data entry (POST) is for coordinators, investigators and data managers."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method not in SAFE_METHODS:
            require_entry(actor())
        return view(*args, **kwargs)

    return cast(F, wrapper)


def entry_page(view: F) -> F:
    """A page whose only purpose is entering or importing data: closed to
    read-only roles whatever the method, so they are not shown a form they may
    not submit. Pages that also show saved records keep `entry_required`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_entry(actor())
        return view(*args, **kwargs)

    return cast(F, wrapper)


def admin_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            raise Forbidden("Only administrators manage accounts.",
                            "Seuls les administrateurs gèrent les comptes.")
        return view(*args, **kwargs)

    return cast(F, wrapper)


#: The signed-in user and their sites in one statement, without ORM objects:
#: it runs on every request.
_SIGNED_IN = (
    select(User.id, User.email, User.display_name, User.role, User.all_sites,
           User.session_epoch, SiteMembership.site_id)
    .outerjoin(SiteMembership, SiteMembership.user_id == User.id)
    .where(User.id == bindparam("user_id"), User.is_active.is_(True),
           User.session_epoch == bindparam("epoch"))
)


def _load_user(session_id: str) -> SignedInUser | None:
    """The signed-in user, re-read on every request (a deactivation takes effect at
    once) in one short read: a POST's write transaction only starts in the view.
    The session's generation must be the user's current one: sign-out, an access
    change or a second-factor reset raise it and so end every older session."""
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or len(user_id) > 10 or not epoch.isdigit() or len(epoch) > 10:
        return None
    state = current_app.extensions["trialdb"]
    parameters = {"user_id": int(user_id), "epoch": int(epoch)}
    if state.engine.dialect.name != "sqlite":
        # PostgreSQL: the request's own connection (one per request), without the
        # ORM's execution layer: nothing is pending at the start of a request.
        rows = db().connection().execute(_SIGNED_IN, parameters).all()
    else:
        with state.engine.connect() as connection:  # SQLite: keep the write lock out of this read
            rows = connection.execute(_SIGNED_IN, parameters).all()
    return SignedInUser.from_rows(rows) if rows else None


#: Seconds between two rewrites of the session's last-activity time.
_SEEN_STEP = 30


def _idle_timeout() -> Response | None:
    """Sign out a session left idle longer than the setting."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    now = time.time()
    seen = session.get("seen")
    limit = current_app.config["IDLE_MINUTES"] * 60
    if isinstance(seen, int | float) and now - seen > limit:
        logout_user()
        lang = language()
        session.clear()
        session["lang"] = lang
        notice.notify("signed_out_idle")
        return redirect(url_for("auth.login", next=request.full_path))
    if not isinstance(seen, int | float) or now - seen >= _SEEN_STEP:
        # Rewritten at most once a step, so most pages leave the signed cookie as it
        # is (SESSION_REFRESH_EACH_REQUEST is off): a session may end up to one step
        # before the idle limit, never after it.
        session["seen"] = now
        session.permanent = True
    return None


def _close_session(exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        # A connection that died under the request (database restarted, network
        # cut) has no transaction left to roll back; SQLAlchemy has invalidated
        # it and the pool replaces it. The answer was already given.
        with contextlib.suppress(DBAPIError):
            if exc is None and request.method in SAFE_METHODS:
                # a reader's transaction (read-only: nothing to keep) ends with a
                # COMMIT, which keeps the driver's prepared statements (make_session_factory)
                db_session.commit()
            db_session.close()  # rolls back whatever was not committed


def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        # Every page but the static files may show study data: never cached. Decided
        # without the database (the user may not be loaded, the database may be down).
        response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
    return response


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS
    (directly or through a trusted proxy), or always with SESSION_COOKIE_SECURE."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _template_globals() -> dict[str, Any]:
    def code(enum_class: Any, value: Any) -> str:
        if value is None:
            return "—"
        return code_label(enum_class, str(getattr(value, "value", value)), language())

    def status_label(status: str) -> str:
        return code_label(ParticipantStatus, status, language())

    return {"t": t, "lang": language(), "code": code, "flash_message": notice.pending_text,
            "Role": Role, "status_label": status_label}


def install_request_hooks(app: Flask) -> None:
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.user_loader(_load_user)
    login.session_protection = "basic"

    @login.unauthorized_handler  # type: ignore[untyped-decorator]
    def unauthorized() -> Response:
        if request.path.startswith("/api/") or request.is_json:
            from flask import jsonify

            response = jsonify({"error": t("please_sign_in")})
            response.status_code = 401
            return response
        return redirect(url_for("auth.login", next=request.full_path))

    app.session_interface = _SessionCookies()
    app.before_request(_idle_timeout)
    app.teardown_request(_close_session)
    app.after_request(_security_headers)
    notice.install(app)
    app.context_processor(_template_globals)
