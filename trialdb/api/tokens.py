"""Personal API tokens: created once, stored as a SHA-256, revocable.

A token acts as its owner with the owner's current role and sites; it
stops working when revoked, expired, or when the owner is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdb.db import utcnow
from trialdb.errors import Forbidden, InvalidInput, NotFound
from trialdb.models import ApiToken, User
from trialdb.services import audit
from trialdb.services.actor import Actor

TOKEN_PREFIX = "tdb_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, actor: Actor, owner: User, label: str,
                 valid_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `owner`: returns the row and the token, shown this once only."""
    if actor.user_id is not None and actor.user_id != owner.id and not actor.all_sites:
        raise Forbidden("You may only create tokens for yourself.",
                        "Vous ne pouvez créer de jeton que pour vous-même.")
    label = label.strip()
    if not 1 <= len(label) <= 100:
        raise InvalidInput("Give the token a label of 1 to 100 characters.",
                           "Donnez au jeton un libellé de 1 à 100 caractères.", field="label")
    if valid_days is not None and not 1 <= valid_days <= 3660:
        raise InvalidInput("A token is valid for 1 to 3660 days.",
                           "Un jeton est valable de 1 à 3660 jours.", field="valid_days")
    if not owner.is_active:
        raise InvalidInput("This account is deactivated.", "Ce compte est désactivé.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=owner.id, label=label, token_sha256=token_hash(token), prefix=token[:12],
                   created_at=utcnow(),
                   expires_at=None if valid_days is None else utcnow() + timedelta(days=valid_days))
    session.add(row)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="permission", entity="api_token", entity_id=row.id,
        changes={"owner": [None, owner.email], "label": [None, label], "prefix": [None, row.prefix]},
        reason="API token created"))
    return row, token


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or (actor.user_id is not None and row.user_id != actor.user_id and not actor.all_sites):
        raise NotFound("No such token.", "Jeton introuvable.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor, audit.Entry(
            action="permission", entity="api_token", entity_id=row.id,
            changes={"revoked": [False, True]}, reason="API token revoked"))
    return row


def tokens_of(session: Session, owner: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)
                                .order_by(ApiToken.id)))


def as_utc(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def authenticate(session: Session, token: str) -> tuple[ApiToken, User] | None:
    """The token's row and active owner, or None for an unknown, revoked or expired token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and as_utc(row.expires_at) <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row, user
