"""Screening: registering participants under a pseudonymous study number."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdb.errors import InvalidInput, NotFound
from trialdb.models import Participant, Site
from trialdb.services import audit
from trialdb.services.actor import Actor
from trialdb.study.timeline import validate_birth_month
from trialdb.vocab import Sex, StudyPart

MAX_PER_SITE = 9999


def next_study_number(session: Session, site: Site) -> str:
    """`<site code>-<4 digits>`, one more than the site's highest so far.

    The site row is locked first (PostgreSQL) so two coordinators of one site
    cannot be handed the same number; SQLite writers are already serialised.
    """
    session.execute(select(Site.id).where(Site.id == site.id).with_for_update())
    prefix = f"{site.code}-"
    highest = session.scalar(
        select(func.max(Participant.study_number)).where(Participant.site_id == site.id)
    )
    number = int(highest.removeprefix(prefix)) + 1 if highest else 1
    if number > MAX_PER_SITE:
        raise InvalidInput(f"Site {site.code} has used all its study numbers.",
                           f"Le centre {site.code} a épuisé ses numéros d'inclusion.")
    return f"{prefix}{number:04d}"


def register_participant(session: Session, actor: Actor, *, site_id: int, part: StudyPart,
                         sex: Sex, birth_year: int, birth_month: int, screened_on: date,
                         today: date | None = None) -> Participant:
    site = session.get(Site, site_id)
    if site is None or not actor.may_see_site(site_id):
        raise NotFound("No such site.", "Centre introuvable.", field="site")
    today = today or date.today()
    validate_birth_month(birth_year, birth_month, today)
    if screened_on > today:
        raise InvalidInput("The screening date is in the future.",
                           "La date de pré-inclusion est dans le futur.", field="screened_on")
    if (screened_on.year, screened_on.month) < (birth_year, birth_month):
        raise InvalidInput("The screening date is before birth.",
                           "La date de pré-inclusion précède la naissance.", field="screened_on")
    participant = Participant(
        site=site, study_number=next_study_number(session, site), part=part, sex=sex,
        birth_year=birth_year, birth_month=birth_month, screened_on=screened_on,
    )
    session.add(participant)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="create", entity="participant", entity_id=participant.id,
        study_number=participant.study_number, site_code=site.code,
        changes={"part": [None, part], "sex": [None, sex], "birth_year": [None, birth_year],
                 "birth_month": [None, birth_month], "screened_on": [None, screened_on]},
    ))
    return participant
