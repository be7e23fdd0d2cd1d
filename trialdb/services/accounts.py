"""Staff accounts: creation, passwords (argon2id), site memberships."""

from __future__ import annotations

import os
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdb.errors import Conflict, InvalidInput, NotFound
from trialdb.models import Site, SiteMembership, User
from trialdb.security.passwords import is_common
from trialdb.services import audit
from trialdb.services.actor import Actor
from trialdb.vocab import Role


@cache
def _hasher() -> PasswordHasher:
    """argon2id at the library's recommended cost. The test suite sets
    TRIALDB_PASSWORD_HASHING=fast for argon2's cheapest profile: hashing cost
    is not what it tests, and thousands of hashes would dominate its run time."""
    if os.environ.get("TRIALDB_PASSWORD_HASHING") == "fast":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()

MIN_PASSWORD_LENGTH = 12
STUDY_WIDE_ROLES = frozenset({Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN})


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères.",
            field="password",
        )
    if is_common(password):
        raise InvalidInput(
            "This password is too common or too easy to guess: choose another one "
            "(a phrase of several unrelated words works well).",
            "Ce mot de passe est trop courant ou trop facile à deviner : choisissez-en un autre "
            "(une phrase de plusieurs mots sans rapport convient bien).",
            field="password",
        )


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    display_name: str,
    role: Role,
    password: str,
    site_codes: list[str] | None = None,
    all_sites: bool | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput("This is not an e-mail address.",
                           "Ce n'est pas une adresse électronique.", field="email")
    check_password_policy(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"An account already exists for {email}.",
                       f"Un compte existe déjà pour {email}.", field="email")
    sites = [_site(session, code) for code in site_codes or []]
    study_wide = role in STUDY_WIDE_ROLES if all_sites is None else all_sites
    if not sites and not study_wide:
        raise InvalidInput("A site is required for this role.",
                           "Un centre est requis pour ce rôle.", field="site")
    user = User(email=email, display_name=display_name.strip() or email, role=role,
                password_hash=hash_password(password), all_sites=study_wide)
    user.memberships = [SiteMembership(site=site) for site in sites]
    session.add(user)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="permission", entity="user", entity_id=user.id,
        changes={"email": [None, email], "role": [None, role.value],
                 "sites": [None, [s.code for s in sites]], "all_sites": [None, study_wide]},
        reason="account created",
    ))
    return user


def _site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code.strip().upper()))
    if site is None:
        raise NotFound(f"There is no site {code}.", f"Le centre {code} n'existe pas.",
                       field="site")
    return site


def create_site(session: Session, actor: Actor, *, code: str, name: str,
                city: str | None = None) -> Site:
    code = code.strip().upper()
    if not (2 <= len(code) <= 6 and code.isalnum()):
        raise InvalidInput("A site code has 2 to 6 letters or digits.",
                           "Un code de centre comporte 2 à 6 lettres ou chiffres.", field="code")
    if session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(f"Site {code} already exists.", f"Le centre {code} existe déjà.",
                       field="code")
    site = Site(code=code, name=name, city=city)
    session.add(site)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="create", entity="site", entity_id=site.id, site_code=code,
        changes={"code": [None, code], "name": [None, name]},
    ))
    return site
