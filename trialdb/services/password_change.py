"""A signed-in member of staff changes their own password.

The new password follows the policy an administrator's account creation
applies (`accounts.check_password_policy`). A wrong current password counts
as a failed sign-in towards the account's lock-out (`staff.count_failed_sign_in`),
so a session left open cannot be used to guess the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from trialdb.db import utcnow
from trialdb.errors import InvalidInput, NotFound
from trialdb.models import User
from trialdb.services import audit, staff
from trialdb.services.accounts import check_password_policy, hash_password, password_matches
from trialdb.services.actor import Actor


@dataclass(frozen=True)
class PasswordChange:
    """What became of a change whose new password was acceptable: `user` once
    changed; otherwise the current password was wrong or the account is locked
    (`locked_until` says until when)."""

    user: User | None
    locked_until: datetime | None = None


def change_own_password(session: Session, actor: Actor, *, current: str, new: str,
                        repeated: str, now: datetime | None = None) -> PasswordChange:
    """Check the new password first (InvalidInput, nothing written), then the
    current one: a wrong one is counted and audited like a failed sign-in, and
    the caller commits that too. On success the new argon2id hash is stored and
    every session of the user ends (the caller signs this one in again)."""
    now = now or utcnow()
    if new != repeated:
        raise InvalidInput("The two new passwords differ.",
                           "Les deux nouveaux mots de passe diffèrent.", field="repeated")
    try:
        check_password_policy(new)
    except InvalidInput as error:
        raise InvalidInput(error.messages["en"], error.messages["fr"], field="new") from error
    if new == current:  # compares what was typed: never tries `new` against the hash
        raise InvalidInput("The new password must differ from the current one.",
                           "Le nouveau mot de passe doit être différent de l'actuel.",
                           field="new")
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.is_active:
        raise NotFound("No such account.", "Compte introuvable.")
    locked = staff.locked_until(user, now)
    if locked is not None:
        audit.record(session, actor, audit.Entry(
            action="failed_login", entity="user", entity_id=user.id,
            reason="account locked (password change)"))
        return PasswordChange(None, locked)
    if not password_matches(user, current):
        return PasswordChange(None, staff.count_failed_sign_in(
            session, user, "wrong current password (password change)", now))
    user.password_hash = hash_password(new)
    user.failed_logins = 0
    session.flush()
    staff.end_sessions(session, user)
    audit.record(session, actor, audit.Entry(  # the event only: no password, no hash
        action="permission", entity="user", entity_id=user.id,
        reason="password changed by its holder; other sessions ended"))
    return PasswordChange(user)
