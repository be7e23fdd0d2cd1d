"""Queries, source verification, e-signatures and locks (integrity issue)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from trialdb.crf.definitions import load_forms
from trialdb.db import make_session_factory, unit_of_work
from trialdb.errors import Conflict, Forbidden, InvalidInput
from trialdb.models import (
    AuditEvent,
    CarTInfusion,
    ClinicalCourse,
    ImmuneMeasurement,
    Participant,
    Site,
)
from trialdb.services import form_entry, records, review
from trialdb.services.actor import Actor
from trialdb.services.form_entry import FieldErrors, FormSave
from trialdb.vocab import (
    CarTProduct,
    Disease,
    DiseaseStatus,
    Lymphodepletion,
    QueryStatus,
    Role,
    SignatureMeaning,
    TargetAntigen,
)

COURSE = {"crs_grade": 1, "icans_grade": 0, "tocilizumab": False, "ivig": False}
INFUSION = {"infused_on": date(2024, 3, 1), "product": CarTProduct.TISAGENLECLEUCEL,
            "target_antigen": TargetAntigen.CD19, "disease": Disease.LBCL,
            "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2, "prior_allo_hsct": False,
            "bridging_therapy": False, "lymphodepletion": Lymphodepletion.FLU_CY}
MEASUREMENT = {"measured_on": date(2024, 3, 20), "lymphocytes_per_ul": 400.0,
               "igg_g_per_l": 6.5, "note": None}


@dataclass
class Team:
    site: Site
    participant: Participant
    coordinator: Actor
    investigator: Actor
    monitor: Actor
    data_manager: Actor
    course: ClinicalCourse


@pytest.fixture()
def team(db: Session) -> Team:
    site = factories.site(db)
    people = {role: Actor.of(factories.user(db, role, [site]))
              for role in (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR, Role.DATA_MANAGER)}
    participant = factories.participant(db, site)
    course = records.create_record(db, people[Role.COORDINATOR], participant, ClinicalCourse,
                                   COURSE, complete=True)
    return Team(site, participant, people[Role.COORDINATOR], people[Role.INVESTIGATOR],
                people[Role.MONITOR], people[Role.DATA_MANAGER], course)


def _last_actions(db: Session, n: int) -> list[str]:
    events = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(n))
    return list(reversed(list(events)))


def test_query_lifecycle(db: Session, team: Team) -> None:
    query = review.raise_query(db, team.monitor, team.course, "crs_grade", "Grade 1 or 2?")
    assert query.status is QueryStatus.OPEN
    with pytest.raises(Forbidden):
        review.raise_query(db, team.coordinator, team.course, "crs_grade", "mine")
    records.update_record(db, team.coordinator, team.course, {"crs_grade": 2},
                          reason="per discharge letter")
    review.answer_query(db, team.coordinator, query, "Corrected to 2 from the letter.")
    assert query.status is QueryStatus.ANSWERED
    with pytest.raises(Forbidden):
        review.close_query(db, team.coordinator, query)
    review.reopen_query(db, team.monitor, query, "Which letter?")
    assert query.status is QueryStatus.OPEN
    review.answer_query(db, team.coordinator, query, "Discharge letter of day 12.")
    review.close_query(db, team.monitor, query, "Thanks")
    assert query.status is QueryStatus.CLOSED and query.closed_at is not None
    assert [m.kind for m in query.messages] == ["raise", "answer", "reopen", "answer", "close"]
    assert _last_actions(db, 1) == ["query_close"]


def test_change_after_verification_clears_it(db: Session, team: Team) -> None:
    state = review.verify(db, team.monitor, team.course)
    assert state.verified_by == team.monitor.name
    with pytest.raises(Forbidden):
        review.verify(db, team.coordinator, team.course)
    records.update_record(db, team.coordinator, team.course, {"ivig": True}, reason="missed")
    assert state.verified_at is None
    assert "unverify" in _last_actions(db, 2)


def test_signature_needs_password_and_is_voided_by_a_change(db: Session, team: Team) -> None:
    args = (db, team.investigator, team.participant, "clinical_course", team.course.id)
    with pytest.raises(InvalidInput):
        review.sign(*args, password="wrong password!", meaning=SignatureMeaning.AUTHOR)
    with pytest.raises(Forbidden):
        review.sign(db, team.coordinator, team.participant, "clinical_course", team.course.id,
                    password=factories.PASSWORD, meaning=SignatureMeaning.AUTHOR)
    form_signature = review.sign(*args, password=factories.PASSWORD,
                                 meaning=SignatureMeaning.REVIEWED_AND_APPROVED)
    casebook = review.sign(db, team.investigator, team.participant, review.CASEBOOK,
                           team.participant.id, password=factories.PASSWORD,
                           meaning=SignatureMeaning.RESPONSIBILITY)
    assert form_signature.content_hash == review.content_hash(
        db, team.participant, "clinical_course", team.course.id)
    assert form_signature.signer_name == team.investigator.name
    records.update_record(db, team.coordinator, team.course, {"crs_grade": 3}, reason="typo")
    db.refresh(form_signature)
    db.refresh(casebook)
    assert form_signature.invalidated_at is not None
    assert casebook.invalidated_at is not None


def test_a_change_voids_what_the_session_already_holds(db: Session, team: Team) -> None:
    """The voiding statements bypass the ORM: the verification and signatures loaded in
    the session show the change at once, and only those over the changed record."""
    form_signature = review.sign(db, team.investigator, team.participant, "clinical_course",
                                 team.course.id, password=factories.PASSWORD,
                                 meaning=SignatureMeaning.REVIEWED_AND_APPROVED)
    other = records.create_record(db, team.coordinator, team.participant, ImmuneMeasurement,
                                  MEASUREMENT)
    other_signature = review.sign(db, team.investigator, team.participant, "immune_measurement",
                                  other.id, password=factories.PASSWORD,
                                  meaning=SignatureMeaning.AUTHOR)
    verification = review.verify(db, team.monitor, team.course)
    records.update_record(db, team.coordinator, team.course, {"crs_grade": 3}, reason="typo")
    assert form_signature.invalidated_at is not None
    assert verification.verified_at is None and verification.verified_by is None
    assert other_signature.invalidated_at is None
    assert _last_actions(db, 3) == ["update", "unverify", "invalidate"]
    db.expire_all()
    assert form_signature.invalidated_at is not None and verification.verified_at is None
    assert other_signature.invalidated_at is None


def test_form_saves_keep_every_rule_and_its_order(db: Session, team: Team) -> None:
    """save_form reads D0, the locks and the form's single record in one statement:
    each rule still holds, refused values first, then the conflict, then the lock."""
    forms = load_forms()
    course_form, immune_form = forms["clinical_course"], forms["immune_measurements"]
    with pytest.raises(Conflict):
        form_entry.save_form(db, team.coordinator, team.participant, course_form,
                             FormSave(values=COURSE))
    review.lock(db, team.data_manager, team.participant, "clinical_course", team.course.id)
    with pytest.raises(Forbidden):
        form_entry.save_form(db, team.coordinator, team.participant, course_form,
                             FormSave(values={**COURSE, "ivig": True}, complete=True,
                                      reason="missed"), record=team.course)
    # the lock holds that record only
    form_entry.save_form(db, team.coordinator, team.participant, immune_form,
                         FormSave(values=MEASUREMENT))
    review.lock(db, team.data_manager, team.participant, review.CASEBOOK, team.participant.id)
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(FieldErrors):
        form_entry.save_form(db, team.coordinator, team.participant, immune_form,
                             FormSave(values={**MEASUREMENT, "measured_on": tomorrow}))
    with pytest.raises(Forbidden):
        form_entry.save_form(db, team.coordinator, team.participant, immune_form,
                             FormSave(values=MEASUREMENT))
    with pytest.raises(Conflict):  # a duplicate is a conflict even when frozen
        form_entry.save_form(db, team.coordinator, team.participant, course_form,
                             FormSave(values=COURSE))


def test_locked_form_and_frozen_participant_refuse_writes(db: Session, team: Team) -> None:
    with pytest.raises(Forbidden):
        review.lock(db, team.coordinator, team.participant, "clinical_course", team.course.id)
    review.lock(db, team.data_manager, team.participant, "clinical_course", team.course.id)
    with pytest.raises(Forbidden) as refused:
        records.update_record(db, team.coordinator, team.course, {"ivig": True}, reason="x")
    assert refused.value.status == 403
    with pytest.raises(InvalidInput):
        review.unlock(db, team.data_manager, team.participant, "clinical_course",
                      team.course.id, reason=" ")
    review.unlock(db, team.data_manager, team.participant, "clinical_course", team.course.id,
                  reason="correction requested by the monitor")
    records.update_record(db, team.coordinator, team.course, {"ivig": True}, reason="x")
    assert _last_actions(db, 2) == ["unlock", "update"]

    review.lock(db, team.data_manager, team.participant, review.CASEBOOK, team.participant.id)
    with pytest.raises(Forbidden):
        records.create_record(db, team.coordinator, team.participant, ClinicalCourse, COURSE)
    with pytest.raises(Forbidden):
        records.delete_record(db, team.coordinator, team.course, "duplicate")


def test_no_lock_while_queries_are_open(db: Session, team: Team) -> None:
    review.raise_query(db, team.monitor, team.course, "crs_grade", "Source?")
    with pytest.raises(InvalidInput):
        review.lock(db, team.data_manager, team.participant, "clinical_course", team.course.id)
    with pytest.raises(InvalidInput):
        review.lock(db, team.data_manager, team.participant, review.CASEBOOK,
                    team.participant.id)


def test_complete_form_needs_a_reason_and_stale_version_conflicts(db: Session,
                                                                  team: Team) -> None:
    with pytest.raises(InvalidInput):
        records.update_record(db, team.coordinator, team.course, {"crs_grade": 2})
    opened_version = team.course.row_version
    records.update_record(db, team.coordinator, team.course, {"crs_grade": 2}, reason="a",
                          expected_version=opened_version)
    with pytest.raises(Conflict):
        records.update_record(db, team.coordinator, team.course, {"crs_grade": 3}, reason="b",
                              expected_version=opened_version)


@pytest.fixture()
def committed_course(engine: Engine) -> Iterator[tuple[int, Actor]]:
    """A course committed for real, so two connections can race on it."""
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        site = factories.site(session)
        actor = Actor.of(factories.user(session, Role.COORDINATOR, [site]))
        participant = factories.participant(session, site)
        course = records.create_record(session, actor, participant, ClinicalCourse, COURSE)
        course_id = course.id
    yield course_id, actor


@pytest.mark.postgresql_only
def test_concurrent_writers_one_wins_one_is_told(committed_course: tuple[int, Actor],
                                                 engine: Engine) -> None:
    """Two coordinators save the same version at the same moment on PostgreSQL."""
    course_id, actor = committed_course
    factory = make_session_factory(engine)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(grade: int) -> None:
        try:
            with unit_of_work(factory) as session:
                course = session.get(ClinicalCourse, course_id)
                assert course is not None
                version = course.row_version
                barrier.wait(timeout=10)  # both have read the same version
                records.update_record(session, actor, course, {"crs_grade": grade},
                                      expected_version=version)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(g,)) for g in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "saved"]


def test_review_lists_the_records_in_the_study_order_of_forms(db: Session, team: Team) -> None:
    """As the participant page does, whatever order the ORM registry gives."""
    records.create_record(db, team.coordinator, team.participant, ImmuneMeasurement, MEASUREMENT)
    records.create_record(db, team.coordinator, team.participant, CarTInfusion, INFUSION)
    listed = [s.entity for s in review.record_states(db, team.participant)]
    order = [spec.model.__tablename__ for spec in load_forms().values()]
    assert listed == [review.CASEBOOK, *sorted(
        ["clinical_course", "immune_measurement", "car_t_infusion"], key=order.index)]
