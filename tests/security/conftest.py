"""Security tests share the web tests' app, world and sign-in helpers, plus
one participant of site A with an object of every kind attached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from tests.web.conftest import World, app, new_participant, world  # noqa: F401 - fixtures
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import CarTInfusion, DataQuery, Participant, User, ViralLoadResult
from trialdb.services import records, review, viral_loads
from trialdb.services.actor import Actor
from trialdb.vocab import CarTProduct, Disease, DiseaseStatus, Lymphodepletion, TargetAntigen

INFUSION = {"infused_on": date(2024, 3, 10), "product": CarTProduct.TISAGENLECLEUCEL,
            "target_antigen": TargetAntigen.CD19, "disease": Disease.ALL,
            "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2, "prior_allo_hsct": False,
            "bridging_therapy": False, "lymphodepletion": Lymphodepletion.FLU_CY}


@dataclass
class SiteAObjects:
    """A participant of site A, their infusion, a viral-load result and a query."""

    participant: Participant
    infusion_id: int
    result_id: int
    query_id: int

    @property
    def study_number(self) -> str:
        return self.participant.study_number


@pytest.fixture()
def site_a_objects(engine: Engine, world: World) -> SiteAObjects:  # noqa: F811 - fixture
    participant = new_participant(engine, world.site_a)
    with unit_of_work(make_session_factory(engine)) as session:
        person = session.get(Participant, participant.id)
        monitor = session.get(User, world.monitor.id)
        assert person is not None and monitor is not None
        system = Actor.system("security tests")
        infusion = records.create_record(session, system, person, CarTInfusion, INFUSION)
        [result] = viral_loads.save_rows(session, system, person, [viral_loads.LoadRow(
            sampled_on="2024-03-17", virus="CMV", specimen="plasma",
            assay_id=str(world.cmv_assay.id), result="5951", unit="IU/mL")],
            today=date(2024, 4, 1))
        query = review.raise_query(session, Actor.of(monitor), infusion, "prior_lines",
                                   "Please check the number of prior lines.")
        assert isinstance(result, ViralLoadResult) and isinstance(query, DataQuery)
        return SiteAObjects(participant, infusion.id, result.id, query.id)


def fill_rule(rule: str, objects: SiteAObjects) -> str:
    """A concrete URL for a route pattern, aimed at the objects of site A."""
    values = {
        "study_number": objects.study_number, "form_name": "infusion", "record_id":
        str(objects.infusion_id), "entity": "car_t_infusion", "action": "verify",
        "query_id": str(objects.query_id), "user_id": "1", "filename": "app.css",
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        return values.get(name, "1")

    return re.sub(r"<([^>]+)>", value, rule)
