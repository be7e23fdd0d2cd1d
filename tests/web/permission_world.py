"""The world the permission matrix runs in: one fresh database per backend,
two sites, one account per role, a participant with records at each site,
a query, an assay, an export and API tokens (tests/web/test_permissions.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from tests import factories
from trialdb.api import tokens
from trialdb.db import make_session_factory, unit_of_work
from trialdb.exports import bundle
from trialdb.models import (
    Assay,
    CarTInfusion,
    ClinicalCourse,
    GenotypeGene,
    Participant,
    ResistanceGenotype,
    Site,
    User,
)
from trialdb.services import records, review
from trialdb.services.actor import Actor
from trialdb.vocab import (
    CarTProduct,
    CmvGene,
    Disease,
    DiseaseStatus,
    GenotypeOutcome,
    LoadUnit,
    Lymphodepletion,
    ParticipantStatus,
    Role,
    Specimen,
    TargetAntigen,
    Virus,
)

SYSTEM = Actor.system("permission matrix")
COURSE = {"crs_grade": 1, "icans_grade": 0, "tocilizumab": False, "ivig": False}
INFUSION = {"infused_on": date(2024, 3, 10), "product": CarTProduct.TISAGENLECLEUCEL,
            "target_antigen": TargetAntigen.CD19, "disease": Disease.ALL,
            "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2,
            "prior_allo_hsct": False, "bridging_therapy": False,
            "lymphodepletion": Lymphodepletion.FLU_CY}


@dataclass
class SiteObjects:
    """What the URLs of one site's participant are filled with."""

    sn: str
    course_id: int
    genotype_id: int
    query_id: int

    def fill(self) -> dict[str, object]:
        return {"sn": self.sn, "course_id": self.course_id, "genotype_id": self.genotype_id,
                "query_id": self.query_id, "entity": "clinical_course", "form": "clinical_course"}


@dataclass
class PermissionWorld:
    users: dict[Role, User]
    site_a: Site
    site_b: Site
    own: SiteObjects
    other: SiteObjects
    tokens: dict[Role, str]
    #: A second account per role, for the probes that sign in and out (signing
    #: out ends every session of the account).
    twins: dict[Role, User] = field(default_factory=dict)
    shared: dict[str, object] = field(default_factory=dict)


def _participant(session: object, site: Site, raiser: Actor) -> SiteObjects:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    participant: Participant = factories.participant(session, site)
    participant.status, participant.included_on = ParticipantStatus.INCLUDED, date(2024, 3, 5)
    records.create_record(session, SYSTEM, participant, CarTInfusion, INFUSION, complete=True)
    course = records.create_record(session, SYSTEM, participant, ClinicalCourse, COURSE,
                                   complete=True)
    genotype = records.create_record(session, SYSTEM, participant, ResistanceGenotype, {
        "sampled_on": date(2024, 4, 2), "specimen": Specimen.PLASMA})
    genotype.genes.append(GenotypeGene(gene=CmvGene.UL97, outcome=GenotypeOutcome.SEQUENCED))
    query = review.raise_query(session, raiser, course, "crs_grade", "Grade 1 or 2?")
    session.flush()
    return SiteObjects(participant.study_number, course.id, genotype.id, query.id)


def build_permission_world(engine: Engine, export_dir: Path) -> PermissionWorld:
    with unit_of_work(make_session_factory(engine)) as session:
        site_a, site_b = factories.site(session, "PMA"), factories.site(session, "PMB")
        users = {
            Role.COORDINATOR: factories.user(session, Role.COORDINATOR, [site_a]),
            Role.INVESTIGATOR: factories.user(session, Role.INVESTIGATOR, [site_a]),
            Role.MONITOR: factories.user(session, Role.MONITOR, [site_a]),
            # study-wide by default (services.accounts.STUDY_WIDE_ROLES)
            Role.DATA_MANAGER: factories.user(session, Role.DATA_MANAGER, []),
            Role.STATISTICIAN: factories.user(session, Role.STATISTICIAN, []),
            Role.ADMIN: factories.user(session, Role.ADMIN, []),
        }
        twins = {role: factories.user(session, role, [site_a] if role in (
            Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR) else []) for role in users}
        target = factories.user(session, Role.COORDINATOR, [site_b])
        raiser = Actor.of(users[Role.DATA_MANAGER])
        own = _participant(session, site_a, raiser)
        other = _participant(session, site_b, raiser)
        assay = Assay(name="Matrix CMV PCR", virus=Virus.CMV, specimen=Specimen.PLASMA,
                      unit=LoadUnit.IU_PER_ML, limit_of_detection=30, lloq=62)
        session.add(assay)
        session.flush()
        export = bundle.run_export(session, Actor.of(users[Role.STATISTICIAN]), export_dir,
                                   ["csv"])
        api = {role: tokens.create_token(session, Actor.of(user), user, "matrix")[1]
               for role, user in users.items()}
        for obj in (site_a, site_b, *users.values(), *twins.values()):
            session.refresh(obj)
        return PermissionWorld(users, site_a, site_b, own, other, api, twins, {
            "user_id": target.id, "assay_id": assay.id, "export_id": export.bundle_id})
