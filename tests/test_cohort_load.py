"""The bulk write path (services.cohort) and the demo loaded into real databases."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from trialdb import migrate
from trialdb.cli import main
from trialdb.db import make_engine, make_session_factory
from trialdb.demo import content_digest, generate_cohort, load_demo
from trialdb.demo.reference import ASSAYS, REFERENCE_DATE
from trialdb.errors import Conflict, InvalidInput, NotFound
from trialdb.models import (
    AuditEvent,
    CarTInfusion,
    ConsentRecord,
    EligibilityAssessment,
    Participant,
    ResistanceGenotype,
    Site,
    ViralLoadResult,
)
from trialdb.scratch import empty_database
from trialdb.services import audit, cohort
from trialdb.services.actor import Actor
from trialdb.vocab import (
    Antiviral,
    CarTProduct,
    CmvGene,
    Disease,
    DiseaseStatus,
    GenotypeOutcome,
    Lymphodepletion,
    ParticipantStatus,
    ResultState,
    Sex,
    Specimen,
    StudyPart,
    Susceptibility,
    TargetAntigen,
    Virus,
    WithdrawalDataChoice,
)

SYSTEM = Actor.system("test suite")
TODAY = date(2026, 10, 15)
CMV = ASSAYS[0]  # plasma, IU/mL, LLOQ 35


@pytest.fixture()
def fresh(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A new, migrated, empty database for tests that commit."""
    with empty_database(backend, tmp_path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _adult(site_code: str, **changes: Any) -> cohort.ParticipantBundle:
    """A prospective adult, eligible, consented, infused, with a few CMV results."""
    d0 = date(2025, 3, 10)
    bundle = cohort.ParticipantBundle(
        site_code=site_code, part=StudyPart.PROSPECTIVE, sex=Sex.FEMALE, birth_year=1961,
        birth_month=4, screened_on=date(2025, 2, 20),
        eligibility=cohort.EligibilityAnswers(
            assessed_on=date(2025, 2, 20), car_t_for_refractory_disease=True,
            cmv_igg_positive=True, social_security_affiliation=True, under_guardianship=False,
            ame_beneficiary=False),
        consent=cohort.ConsentForm(
            consent_on=date(2025, 2, 21), document_version="v2.0",
            document_date=date(2025, 1, 10), patient_signed_on=date(2025, 2, 21),
            investigator_signed_on=date(2025, 2, 22)),
        infusion={"infused_on": d0, "product": CarTProduct.AXICABTAGENE,
                  "target_antigen": TargetAntigen.CD19, "disease": Disease.LBCL,
                  "disease_status": DiseaseStatus.PROGRESSIVE, "prior_lines": 2,
                  "prior_allo_hsct": False, "bridging_therapy": False,
                  "lymphodepletion": Lymphodepletion.FLU_CY},
        viral_loads=(cohort.LabResult(CMV.name, d0, "Non détecté"),
                     cohort.LabResult(CMV.name, date(2025, 3, 24), "<35"),
                     cohort.LabResult(CMV.name, date(2025, 3, 31), "1 360")),
        follow_up={"last_contact_on": date(2025, 9, 1)},
    )
    return dataclasses.replace(bundle, **changes)


@pytest.fixture()
def world(db: Session) -> Session:
    factories.site(db, "TST")
    cohort.create_assays(db, SYSTEM, [CMV])
    return db


def _site(db: Session) -> Site:
    return db.scalars(select(Site).where(Site.code == "TST")).one()


def test_bulk_load_computes_decisions_numbers_and_states(world: Session) -> None:
    db = world
    registered = factories.participant(db, _site(db))
    seronegative = _adult("TST", eligibility=dataclasses.replace(
        _adult("TST").eligibility, cmv_igg_positive=False), infusion=None, viral_loads=(),
        follow_up=None)
    report = cohort.load_participants(db, SYSTEM, [_adult("tst"), seronegative], today=TODAY)

    # Numbering continues after the participant registered one by one.
    assert registered.study_number == "TST-0001"
    assert report.study_numbers == ["TST-0002", "TST-0003"]
    included, failed = (db.scalars(select(Participant).where(Participant.study_number == n)).one()
                        for n in report.study_numbers)
    assert included.status is ParticipantStatus.COMPLETED  # followed beyond day 90
    assert included.included_on == date(2025, 2, 22)
    assert failed.status is ParticipantStatus.SCREEN_FAILURE
    assessment = db.scalars(select(EligibilityAssessment)
                            .where(EligibilityAssessment.participant_id == failed.id)).one()
    assert assessment.decision == "not_eligible"
    assert set(assessment.failed_criteria) == {"inclusion_cmv_seropositive",
                                               "exclusion_cmv_seronegative"}
    consent = db.scalars(select(ConsentRecord)
                         .where(ConsentRecord.participant_id == included.id)).one()
    assert consent.is_valid and consent.regime.value == "consent"

    loads = db.scalars(select(ViralLoadResult).where(ViralLoadResult.participant_id == included.id)
                       .order_by(ViralLoadResult.sampled_on)).all()
    assert [(r.state, r.value) for r in loads] == [
        (ResultState.NOT_DETECTED, None), (ResultState.BELOW_LLOQ, None),
        (ResultState.QUANTIFIED, 1360.0)]
    assert {(r.virus, r.unit.value) for r in loads} == {(Virus.CMV, "IU/mL")}

    # One audit row per created record, chained with the rows before.
    created = sum(report.records.values()) - report.records["genotype_gene"] \
        - report.records["genotype_mutation"] - report.records["drug_susceptibility"]
    # participants 2, eligibility 2, consent 2, infusion 1, viral loads 3, follow-up 1
    assert report.audit_events == created == 2 + 2 + 2 + 1 + 3 + 1
    trail = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())
                       .limit(report.audit_events)).all()
    assert {e.study_number for e in trail} == set(report.study_numbers)
    load_row = next(e for e in trail if e.entity == "viral_load_result"
                    and e.changes and e.changes["reported_as"] == [None, "1 360"])
    assert load_row.changes is not None and load_row.changes["state"] == [None, "quantified"]
    assert audit.verify_chain(db) is None


def test_an_invalid_bundle_refuses_the_whole_batch(world: Session) -> None:
    db = world
    before = db.scalar(select(func.count()).select_from(Participant))
    trail = db.scalar(select(func.count()).select_from(AuditEvent))
    wrong_assay = _adult("TST", viral_loads=(cohort.LabResult("no such assay", date(2025, 3, 10),
                                                              "ND"),))
    with pytest.raises(NotFound) as raised:
        cohort.load_participants(db, SYSTEM, [_adult("TST"), wrong_assay], today=TODAY)
    assert "Participant 2 of the batch" in raised.value.message("en")
    assert "Participant 2 du lot" in raised.value.message("fr")

    unparseable = _adult("TST", viral_loads=(cohort.LabResult(CMV.name, date(2025, 3, 10),
                                                              "3,5 log"),))
    below_lloq_value = _adult("TST", viral_loads=(cohort.LabResult(CMV.name, date(2025, 3, 10),
                                                                   "20"),))
    not_included_with_loads = _adult("TST", eligibility=dataclasses.replace(
        _adult("TST").eligibility, ame_beneficiary=True))
    future = _adult("TST", follow_up={"last_contact_on": date(2027, 1, 1)})
    unknown_field = _adult("TST", follow_up={"patient_name": "x"})
    for bad in (unparseable, below_lloq_value, not_included_with_loads, future, unknown_field):
        with pytest.raises(InvalidInput):
            cohort.load_participants(db, SYSTEM, [bad], today=TODAY)
    with pytest.raises(NotFound):
        cohort.load_participants(db, SYSTEM, [_adult("NOPE")], today=TODAY)
    coordinator_elsewhere = Actor(user_id=1, name="c", role=None, site_ids=frozenset({999}))
    with pytest.raises(NotFound):
        cohort.load_participants(db, coordinator_elsewhere, [_adult("TST")], today=TODAY)
    assert db.scalar(select(func.count()).select_from(Participant)) == before
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == trail


def test_minor_consent_needs_both_parents_and_withdrawal_is_recorded(world: Session) -> None:
    db = world
    child = dict(birth_year=2015, birth_month=6, part=StudyPart.PROSPECTIVE)
    one_parent = _adult("TST", **child, consent=cohort.ConsentForm(
        consent_on=date(2025, 2, 21), document_version="v2.0", document_date=date(2025, 1, 10),
        parent_1_signed_on=date(2025, 2, 21)), infusion=None, viral_loads=(), follow_up=None)
    both = _adult("TST", **child, consent=cohort.ConsentForm(
        consent_on=date(2025, 2, 21), document_version="v2.0", document_date=date(2025, 1, 10),
        parent_1_signed_on=date(2025, 2, 21), parent_2_signed_on=date(2025, 2, 21),
        investigator_signed_on=date(2025, 2, 21), withdrawn_on=date(2025, 5, 2),
        withdrawal_data_choice=WithdrawalDataChoice.KEEP))
    report = cohort.load_participants(db, SYSTEM, [one_parent, both], today=TODAY)
    waiting, withdrawn = (db.scalars(select(Participant).where(Participant.study_number == n))
                          .one() for n in report.study_numbers)
    assert waiting.status is ParticipantStatus.SCREENING  # signatures still awaited
    assert withdrawn.status is ParticipantStatus.WITHDRAWN
    assert withdrawn.included_on == date(2025, 2, 21)


def test_genotype_details_are_written_and_audited(world: Session) -> None:
    db = world
    genotype = cohort.GenotypeReport(
        sampled_on=date(2025, 4, 7), specimen=Specimen.PLASMA,
        genes={CmvGene.UL97: GenotypeOutcome.SEQUENCED,
               CmvGene.UL54: GenotypeOutcome.SEQUENCED},
        mutations=((CmvGene.UL54, "G841A"),),
        susceptibilities={Antiviral.GANCICLOVIR: Susceptibility.RESISTANT,
                          Antiviral.FOSCARNET: Susceptibility.SUSCEPTIBLE})
    report = cohort.load_participants(db, SYSTEM, [_adult("TST", genotypes=(genotype,))],
                                      today=TODAY)
    assert report.records["genotype_gene"] == 2 and report.records["drug_susceptibility"] == 2
    stored = db.scalars(select(ResistanceGenotype)).one()
    assert [(m.gene.value, m.amino_acid_change) for m in stored.mutations] == [("UL54", "G841A")]
    row = db.scalars(select(AuditEvent).where(AuditEvent.entity == "resistance_genotype")).one()
    assert row.changes is not None and row.changes["mutations"] == [None, ["UL54 G841A"]]
    with pytest.raises(InvalidInput):
        cohort.load_participants(db, SYSTEM, [_adult("TST", genotypes=(dataclasses.replace(
            genotype, mutations=((CmvGene.UL56, "C325Y"),)),))], today=TODAY)
    assert audit.verify_chain(db) is None


def test_canonical_json_matches_the_audit_trails_own_serialisation() -> None:
    changes: dict[str, Any] = {
        "sampled_on": [None, date(2025, 3, 1)], "virus": [None, Virus.CMV], "value": [None, 35.5],
        "flags": [None, [True, None, 3]], "genes": [None, {"UL97": "sequenced", "é": "ü"}],
        "product": [None, CarTProduct.OBECABTAGENE]}
    expected = audit._canonical(audit.jsonable(changes))  # the path record_many takes
    assert audit.canonical_json(changes) == expected


def test_demo_loads_small_cohort_with_intact_audit_chain(fresh: Engine) -> None:
    summary = load_demo(fresh, participants=40, seed=5, progress=False)
    assert "demo-coordinator-psl" in summary and "participants: 40" in summary
    factory = make_session_factory(fresh, write=False)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 40
        assert audit.verify_chain(session) is None
        infusions = {i.participant_id: i.infused_on for i in session.scalars(select(CarTInfusion))}
        included = session.scalars(select(Participant).where(
            Participant.status != ParticipantStatus.SCREEN_FAILURE,
            Participant.status != ParticipantStatus.SCREENING)).all()
        assert included
        for person in included:
            d0 = infusions[person.id]
            cmv_days = {(r.sampled_on - d0).days for r in session.scalars(
                select(ViralLoadResult).where(ViralLoadResult.participant_id == person.id,
                                              ViralLoadResult.virus == Virus.CMV))}
            assert cmv_days & {0, -1, -2}, person.study_number
        for failure in session.scalars(select(EligibilityAssessment).where(
                EligibilityAssessment.decision == "not_eligible")):
            assert failure.failed_criteria
        numbers = session.scalars(select(Participant.study_number)).all()
        assert all(re.fullmatch(r"[A-Z]{2,6}-\d{4}", n) for n in numbers)
        latest = session.scalar(select(func.max(ViralLoadResult.sampled_on)))
        assert latest is not None and latest <= REFERENCE_DATE
    columns = {c["name"] for c in inspect(fresh).get_columns("participant")}
    assert not columns & {"name", "initials", "birth_date", "birth_day", "hospital_number"}
    # The CLI agrees that the chain is intact.
    result = CliRunner().invoke(main, ["audit", "verify"],
                                env={"TRIALDB_DATABASE_URL": fresh.url.render_as_string(
                                    hide_password=False)})
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_same_seed_same_content(backend: str, tmp_path: Path) -> None:
    digests = []
    for seed in (9, 9, 10):
        with empty_database(backend, tmp_path) as url:
            engine = make_engine(url)
            migrate.upgrade(engine)
            load_demo(engine, participants=30, seed=seed)
            digests.append(content_digest(engine))
            engine.dispose()
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_second_demo_into_the_same_database_is_refused(fresh: Engine) -> None:
    load_demo(fresh, participants=5, seed=1)
    with pytest.raises(Conflict):
        load_demo(fresh, participants=5, seed=1)


def test_generation_alone_needs_no_database() -> None:
    generated = generate_cohort(25, seed=3)
    assert len(generated.bundles) == 25
    assert sum(generated.facts[key] for key in generated.facts
               if key == "included" or key.startswith("screen failure")) == 25


def test_bulk_chain_text_equals_the_verifiers_for_awkward_values(db: Session) -> None:
    odd = 'quote " backslash \\ tab \t newline \n é ü 中 \u2028 \x01'
    entries = [
        audit.Entry(action="create", entity=odd, entity_id=7, study_number="TST-0001",
                    site_code="TST", changes={"a": [None, odd], "n": [1, 2.5], "d": [None, True]},
                    reason=odd),
        audit.Entry(action="update"),
        audit.Entry(action="create", changes_json=audit.canonical_json(
            {"when": [None, date(2025, 1, 2)], "virus": [None, Virus.CMV]})),
    ]
    odd_actor = Actor(user_id=12, name=odd, role=None)
    assert audit.record_many(db, odd_actor, entries) == 3
    event = audit.record(db, SYSTEM, audit.Entry(action="sign", reason=odd))
    assert audit.content_hash(event) == event.row_hash
    db.expire_all()
    assert audit.verify_chain(db) is None
    stored = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(4)).all()
    assert stored[1].changes == {"when": [None, "2025-01-02"], "virus": [None, "CMV"]}
    assert stored[3].changes == {"a": [None, odd], "n": [1, 2.5], "d": [None, True]}
