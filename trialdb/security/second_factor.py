"""The TOTP second factor as use cases: who must use it, checking a code
(failures count towards the account lock-out), enrolling and resetting.
Like every service these take the session and never commit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update
from sqlalchemy.orm import Session

from trialdb.db import utcnow
from trialdb.errors import Forbidden, InvalidInput, NotFound
from trialdb.models import Site, SiteMembership, User
from trialdb.security import totp
from trialdb.services import audit, staff
from trialdb.services.actor import Actor
from trialdb.services.staff import end_sessions, locked_until
from trialdb.vocab import Role

SECOND_FACTOR_ROLES = frozenset({Role.INVESTIGATOR, Role.DATA_MANAGER, Role.ADMIN})


def is_required(session: Session, user: User) -> bool:
    """Investigators, data managers and admins must use a second factor when a
    site they work for (any site, for study-wide accounts) requires it."""
    if user.role not in SECOND_FACTOR_ROLES:
        return False
    if user.all_sites:
        query = select(exists().where(Site.requires_second_factor.is_(True)))
    else:
        query = select(exists().where(
            SiteMembership.user_id == user.id, SiteMembership.site_id == Site.id,
            Site.requires_second_factor.is_(True)))
    return bool(session.scalar(query))


class CodeCheck(StrEnum):
    """What became of a second-factor code."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    REUSED = "reused"  # right, but its time step was already used: a replay
    LOCKED = "locked"


def check_code(session: Session, user: User, code: str, now: datetime | None = None) -> bool:
    """True when the code of an enrolled user is accepted (see `verify_code`)."""
    return verify_code(session, user, code, now) is CodeCheck.ACCEPTED


def verify_code(session: Session, user: User, code: str,
                now: datetime | None = None) -> CodeCheck:
    """Check the code of an enrolled user. A code is accepted once: its time
    step must be later than the last one accepted. A wrong or reused code
    counts as a failed sign-in (audited, lock-out after MAX_FAILED_LOGINS)."""
    now = now or utcnow()
    if user.totp_secret is None:
        raise InvalidInput("No second factor is enrolled.", "Aucun second facteur n'est enregistré.")
    actor = Actor.of(user)
    if locked_until(user, now) is not None:
        audit.record(session, actor, audit.Entry(action="failed_login", entity="user",
                                                 entity_id=user.id, reason="account locked"))
        return CodeCheck.LOCKED
    step = totp.matching_step(user.totp_secret, code, at=now, after=user.totp_last_step)
    if step is not None and _claim_step(session, user, step):
        user.failed_logins = 0
        audit.record(session, actor, audit.Entry(action="second_factor", entity="user",
                                                 entity_id=user.id, reason="code accepted"))
        return CodeCheck.ACCEPTED
    if totp.matching_step(user.totp_secret, code, at=now) is not None:
        staff.count_failed_sign_in(session, user, "second-factor code already used", now)
        outcome = CodeCheck.REUSED
    else:
        staff.count_failed_sign_in(session, user, "wrong second-factor code", now)
        outcome = CodeCheck.WRONG
    return CodeCheck.LOCKED if locked_until(user, now) is not None else outcome


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Record `step` as the user's last accepted one, unless an equal or later
    step was recorded meanwhile (two requests racing with the same code): one
    conditional UPDATE, so only one of them wins, on SQLite and PostgreSQL."""
    result = cast(CursorResult[Any], session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None),
                                                   User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)))
    session.expire(user, ["totp_last_step"])
    return result.rowcount == 1


def enrol(session: Session, user: User, secret: str, code: str,
          now: datetime | None = None) -> bool:
    """Keep `secret` as the user's second factor once they have shown a code from it."""
    now = now or utcnow()
    if locked_until(user, now) is not None:
        return False
    step = totp.matching_step(secret, code, at=now)
    if step is None:
        staff.count_failed_sign_in(session, user,
                                  "wrong code while enrolling a second factor", now)
        return False
    had = user.totp_secret is not None
    user.totp_secret = secret
    user.totp_last_step = step  # the code shown at enrolment cannot sign in as well
    user.failed_logins = 0
    audit.record(session, Actor.of(user), audit.Entry(
        action="permission", entity="user", entity_id=user.id,
        changes={"second_factor": [had, True]},
        reason="second factor replaced" if had else "second factor enrolled"))
    return True


def reset(session: Session, actor: Actor, user_id: int, reason: str) -> User:
    """An administrator (or the operator at the command line) removes a lost
    second factor; the user enrols again at the next sign-in, and every session
    they had open ends (whoever holds the lost device may hold one too)."""
    if actor.role is not None and actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators manage accounts.",
                        "Seuls les administrateurs gèrent les comptes.")
    if not reason.strip():
        raise InvalidInput("Give a reason.", "Indiquez un motif.", field="reason")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.", "Compte introuvable.")
    if user.totp_secret is not None:
        user.totp_secret = None
        user.totp_last_step = None
        end_sessions(session, user)
        audit.record(session, actor, audit.Entry(
            action="permission", entity="user", entity_id=user.id,
            changes={"second_factor": [True, False]}, reason=reason.strip()))
    return user


def reset_by_email(session: Session, actor: Actor, email: str, reason: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound("No such account.", "Compte introuvable.", field="email")
    return reset(session, actor, user.id, reason)
