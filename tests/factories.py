"""Test data made through the services, so every row is audited as in life."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy.orm import Session

from trialdb.models import Participant, Site, User
from trialdb.services import accounts, participants
from trialdb.services.actor import Actor
from trialdb.vocab import Role, Sex, StudyPart

SYSTEM = Actor.system("test suite")
PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def unique_code(prefix: str) -> str:
    """A code no other test of this run uses: the counter lives here, in a module
    imported once, whereas conftest modules may be imported twice (as plugins
    and by name), each copy with its own counter."""
    return f"{prefix}{next(_counter):03d}"


def site(db: Session, code: str | None = None) -> Site:
    code = code or f"S{next(_counter):03d}"
    return accounts.create_site(db, SYSTEM, code=code, name=f"Centre {code}", city="Paris")


def user(db: Session, role: Role = Role.COORDINATOR, sites: list[Site] | None = None,
         email: str | None = None) -> User:
    n = next(_counter)
    return accounts.create_user(
        db, SYSTEM, email=email or f"user{n}@example.org", display_name=f"User {n}",
        role=role, password=PASSWORD, site_codes=[s.code for s in sites or []],
    )


def participant(db: Session, at: Site, *, part: StudyPart = StudyPart.PROSPECTIVE,
                birth: tuple[int, int] = (1970, 5), sex: Sex = Sex.FEMALE,
                screened_on: date = date(2024, 3, 1)) -> Participant:
    return participants.register_participant(
        db, SYSTEM, site_id=at.id, part=part, sex=sex, birth_year=birth[0],
        birth_month=birth[1], screened_on=screened_on, today=date(2026, 11, 21),
    )
