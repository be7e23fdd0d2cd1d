"""A fresh, migrated database with sites, coordinators, participants with an
infusion (D0), and a CMV assay: what the fault tests and the load test use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from tests import factories
from trialdb import migrate
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import (
    Assay,
    AuditEvent,
    CarTInfusion,
    Participant,
    Site,
    ViralLoadResult,
)
from trialdb.services import records
from trialdb.vocab import (
    CarTProduct,
    Disease,
    DiseaseStatus,
    LoadUnit,
    Lymphodepletion,
    Role,
    Specimen,
    TargetAntigen,
    Virus,
)

INFUSED_ON = date(2024, 3, 10)
INFUSION = {"infused_on": INFUSED_ON, "product": CarTProduct.TISAGENLECLEUCEL,
            "target_antigen": TargetAntigen.CD19, "disease": Disease.ALL,
            "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2, "prior_allo_hsct": False,
            "bridging_therapy": False, "lymphodepletion": Lymphodepletion.FLU_CY}


@dataclass
class Population:
    site_codes: list[str]
    assay_id: int
    # one (e-mail, site code, study numbers of that site's participants) per coordinator
    coordinators: list[tuple[str, str, list[str]]] = field(default_factory=list)


def populate(engine: Engine, coordinators: int, participants_each: int = 2,
             sites: int = 3) -> Population:
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        site_rows = [factories.site(session, f"RL{n}") for n in range(1, sites + 1)]
        assay = Assay(name="CMV PCR (reliability)", virus=Virus.CMV, specimen=Specimen.PLASMA,
                      unit=LoadUnit.IU_PER_ML, limit_of_detection=30, lloq=62)
        session.add(assay)
        session.flush()
        population = Population([s.code for s in site_rows], assay.id)
        for n in range(coordinators):
            site = site_rows[n % sites]
            user = factories.user(session, Role.COORDINATOR, [site], f"coord{n:03d}@load.invalid")
            numbers = []
            for _ in range(participants_each):
                person = factories.participant(session, site)
                records.create_record(session, factories.SYSTEM, person, CarTInfusion, INFUSION)
                numbers.append(person.study_number)
            population.coordinators.append((user.email, site.code, numbers))
    return population


def grid_rows(save_id: int, assay_id: int, rows: int = 3) -> list[tuple[str, str]]:
    """A viral-load grid of `rows` results whose values name the save: save_id*10 + k."""
    pairs = [("row_count", str(rows)), ("action", "save")]
    for k in range(rows):
        day = INFUSED_ON.toordinal() + 7 + (save_id * rows + k) % 900
        pairs += [(f"rows-{k}-sampled_on", date.fromordinal(day).isoformat()),
                  (f"rows-{k}-virus", "CMV"), (f"rows-{k}-specimen", "plasma"),
                  (f"rows-{k}-assay_id", str(assay_id)),
                  (f"rows-{k}-result", str(100_000 + save_id * 10 + k)),
                  (f"rows-{k}-unit", "IU/mL")]
    return pairs


def stored_saves(engine: Engine, rows: int = 3) -> dict[int, int]:
    """save id -> number of its rows stored (a complete save has `rows`)."""
    with make_session_factory(engine, write=False)() as session:
        values = session.scalars(select(ViralLoadResult.value).where(
            ViralLoadResult.value >= 100_000))
        counts: dict[int, int] = {}
        for value in values:
            save_id = (int(value) - 100_000) // 10
            counts[save_id] = counts.get(save_id, 0) + 1
        return counts


def audit_rows_for(engine: Engine, entity: str) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == entity, AuditEvent.action == "create")) or 0


def row_count(engine: Engine, model: type[ViralLoadResult] | type[Participant]) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def sqlite_integrity(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("PRAGMA integrity_check")).scalar())


__all__ = ["Participant", "Population", "Site", "audit_rows_for", "grid_rows", "populate",
           "row_count", "sqlite_integrity", "stored_saves"]
