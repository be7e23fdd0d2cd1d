"""Signing in (with lock-out after repeated failures) and managing staff
accounts: roles, sites, deactivation. Accounts are never deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from trialdb.db import utcnow
from trialdb.errors import Conflict, Forbidden, InvalidInput, NotFound
from trialdb.models import Site, SiteMembership, User
from trialdb.services import audit
from trialdb.services.accounts import password_matches
from trialdb.services.actor import Actor
from trialdb.vocab import Role

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
_ANONYMOUS = Actor(user_id=None, name="anonymous", role=None)


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    locked_until: datetime | None = None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # SQLite gives back naive UTC
    return moment


def sign_in(session: Session, email: str, password: str,
            now: datetime | None = None) -> SignInResult:
    """Check the credentials; count failures, lock after MAX_FAILED_LOGINS.

    Every outcome is audited ("login" or "failed_login"). The answer never
    says whether the account exists.
    """
    now = now or utcnow()
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        audit.record(session, _ANONYMOUS, audit.Entry(action="failed_login", entity="user",
                                                      reason="unknown account"))
        return SignInResult(None)
    actor = Actor.of(user)
    locked = locked_until(user, now)
    if locked is not None:
        audit.record(session, actor, audit.Entry(action="failed_login", entity="user",
                                                 entity_id=user.id, reason="account locked"))
        return SignInResult(None, locked)
    if not user.is_active or not password_matches(user, password):
        reason = "account deactivated" if not user.is_active else "wrong password"
        return SignInResult(None, count_failed_sign_in(session, user, reason, now))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, actor, audit.Entry(action="login", entity="user", entity_id=user.id))
    return SignInResult(user)


def locked_until(user: User, now: datetime | None = None) -> datetime | None:
    """When the account's lock-out ends, or None when it is not locked at `now`
    (default: this moment). Sign-in, the second factor and a password change share it."""
    locked = _aware(user.locked_until)
    return locked if locked is not None and locked > (now or utcnow()) else None


def count_failed_sign_in(session: Session, user: User, reason: str,
                         now: datetime) -> datetime | None:
    """One more consecutive failure for the account (audited as "failed_login"):
    at MAX_FAILED_LOGINS it is locked for LOCK_MINUTES. The lock's end, if locked."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        reason += f"; locked for {LOCK_MINUTES} minutes after {user.failed_logins} failures"
    audit.record(session, Actor.of(user), audit.Entry(
        action="failed_login", entity="user", entity_id=user.id, reason=reason,
        changes={"failed_logins": [user.failed_logins - 1, user.failed_logins]}))
    return locked_until(user, now)


def end_sessions(session: Session, user: User) -> None:
    """Every web session the user signed in before now stops working at its next
    request: their session generation (carried in each session cookie) goes up."""
    session.execute(update(User).where(User.id == user.id)
                    .values(session_epoch=User.session_epoch + 1)
                    .execution_options(synchronize_session=False))
    session.expire(user, ["session_epoch"])


def sign_out(session: Session, user_id: int) -> None:
    """Signing out ends every session of the user, not only this browser's: a
    copy of the cookie taken before is refused from now on (audited)."""
    user = session.get(User, user_id)
    if user is None:
        return
    end_sessions(session, user)
    audit.record(session, Actor.of(user), audit.Entry(action="logout", entity="user",
                                                      entity_id=user.id))


def _require_admin(actor: Actor) -> None:
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators manage accounts.",
                        "Seuls les administrateurs gèrent les comptes.")


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.", "Compte introuvable.")
    return user


def update_access(session: Session, actor: Actor, user_id: int, *, role: Role,
                  site_codes: Sequence[str], all_sites: bool) -> User:
    """Change a user's role and sites (audited as a permission change)."""
    _require_admin(actor)
    user = _user(session, user_id)
    sites = list(session.scalars(select(Site).where(Site.code.in_(list(site_codes)))))
    if len(sites) != len(set(site_codes)):
        raise NotFound("Unknown site.", "Centre inconnu.", field="sites")
    if not sites and not all_sites:
        raise InvalidInput("Give at least one site, or study-wide access.",
                           "Indiquez au moins un centre, ou l'accès à toute l'étude.",
                           field="sites")
    if user.id == actor.user_id and role is not Role.ADMIN:
        raise Conflict("You cannot remove your own administrator role.",
                       "Vous ne pouvez pas retirer votre propre rôle d'administrateur.",
                       field="role")
    old_sites = sorted(m.site.code for m in user.memberships)
    new_sites = sorted(s.code for s in sites)
    changes: dict[str, list[object]] = {}
    if user.role is not role:
        changes["role"] = [user.role, role]
        user.role = role
    if old_sites != new_sites:
        changes["sites"] = [old_sites, new_sites]
        user.memberships = [SiteMembership(site=s) for s in sites]
    if user.all_sites != all_sites:
        changes["all_sites"] = [user.all_sites, all_sites]
        user.all_sites = all_sites
    if changes:
        session.flush()
        end_sessions(session, user)
        audit.record(session, actor, audit.Entry(action="permission", entity="user",
                                                 entity_id=user.id, changes=dict(changes)))
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) an account; never delete it."""
    _require_admin(actor)
    user = _user(session, user_id)
    if user.id == actor.user_id and not active:
        raise Conflict("You cannot deactivate your own account.",
                       "Vous ne pouvez pas désactiver votre propre compte.")
    if user.is_active is not active:
        user.is_active = active
        if active:
            user.failed_logins = 0
            user.locked_until = None
        session.flush()
        end_sessions(session, user)
        audit.record(session, actor, audit.Entry(
            action="permission", entity="user", entity_id=user.id,
            changes={"is_active": [not active, active]},
            reason="account reactivated" if active else "account deactivated"))
    return user


def list_users(session: Session, actor: Actor) -> list[User]:
    _require_admin(actor)
    return list(session.scalars(select(User).order_by(User.is_active.desc(), User.email)))
