"""The dashboard's record-status grid: queried, locked, signed, verified on top of
empty / in progress / complete, in a constant number of queries per page, and
the open queries counted per site (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.web.conftest import World, new_participant, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import ClinicalCourse, Participant, Serology, Site
from trialdb.services import records, review
from trialdb.services.actor import Actor
from trialdb.services.dashboard import (
    COMPLETE,
    EMPTY,
    IN_PROGRESS,
    LOCKED,
    PRECEDENCE,
    QUERIED,
    SIGNED,
    VERIFIED,
    FormCounts,
    cell_status,
    site_dashboard,
)
from trialdb.vocab import Role, SerologyResult, SignatureMeaning, Virus

COURSE = {"crs_grade": 1, "icans_grade": 0, "tocilizumab": False, "ivig": False}


def _serology(day: int) -> dict[str, Any]:
    return {"virus": Virus.CMV, "sampled_on": date(2024, 2, day),
            "result": SerologyResult.POSITIVE}


@dataclass
class Team:
    site: Site
    coordinator: Actor
    investigator: Actor
    monitor: Actor
    data_manager: Actor


@pytest.fixture()
def team(db: Session) -> Team:
    site = factories.site(db)
    people = {role: Actor.of(factories.user(db, role, [site]))
              for role in (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR, Role.DATA_MANAGER)}
    return Team(site, people[Role.COORDINATOR], people[Role.INVESTIGATOR],
                people[Role.MONITOR], people[Role.DATA_MANAGER])


def _course(db: Session, team: Team, participant: Participant,
            complete: bool = True) -> ClinicalCourse:
    return records.create_record(db, team.coordinator, participant, ClinicalCourse, COURSE,
                                 complete=complete)


def _grid(db: Session, site: Site) -> dict[str, dict[str, str]]:
    board = site_dashboard(db, site.id, date(2024, 3, 20))
    return {row.study_number: row.statuses for row in board.rows}


def test_each_status_shows_in_the_grid(db: Session, team: Team) -> None:
    p = {name: factories.participant(db, team.site) for name in
         ("empty", "progress", "complete", "verified", "signed", "locked", "frozen", "queried",
          "casebook", "half")}
    _course(db, team, p["progress"], complete=False)
    _course(db, team, p["complete"])
    review.verify(db, team.monitor, _course(db, team, p["verified"]))
    signed = _course(db, team, p["signed"])
    review.verify(db, team.monitor, signed)
    review.sign(db, team.investigator, p["signed"], "clinical_course", signed.id,
                password=factories.PASSWORD, meaning=SignatureMeaning.REVIEWED_AND_APPROVED)
    locked = _course(db, team, p["locked"])
    review.sign(db, team.investigator, p["locked"], "clinical_course", locked.id,
                password=factories.PASSWORD, meaning=SignatureMeaning.REVIEWED_AND_APPROVED)
    review.lock(db, team.data_manager, p["locked"], "clinical_course", locked.id)
    _course(db, team, p["frozen"])
    review.lock(db, team.data_manager, p["frozen"], review.CASEBOOK, p["frozen"].id)
    queried = _course(db, team, p["queried"])
    review.verify(db, team.monitor, queried)
    review.raise_query(db, team.monitor, queried, "crs_grade", "Grade 1 or 2?")
    _course(db, team, p["casebook"])
    review.sign(db, team.investigator, p["casebook"], review.CASEBOOK, p["casebook"].id,
                password=factories.PASSWORD, meaning=SignatureMeaning.RESPONSIBILITY)
    # repeating form: two records, only one verified -> not verified
    first = records.create_record(db, team.coordinator, p["half"], Serology, _serology(1),
                                  complete=True)
    records.create_record(db, team.coordinator, p["half"], Serology, _serology(2), complete=True)
    review.verify(db, team.monitor, first)

    grid = _grid(db, team.site)
    course = {name: grid[p[name].study_number]["clinical_course"] for name in p}
    assert course == {
        "empty": EMPTY, "progress": IN_PROGRESS, "complete": COMPLETE, "verified": VERIFIED,
        "signed": SIGNED, "locked": LOCKED, "frozen": LOCKED, "queried": QUERIED,
        "casebook": SIGNED, "half": EMPTY,
    }
    assert grid[p["half"].study_number]["serology"] == COMPLETE
    # a frozen casebook locks even its empty forms; a casebook signature does not
    # make an empty form signed
    assert grid[p["frozen"].study_number]["serology"] == LOCKED
    assert grid[p["casebook"].study_number]["serology"] == EMPTY
    assert grid[p["empty"].study_number]["serology"] == EMPTY


def test_a_change_after_signature_and_closing_the_query_move_the_cell(db: Session,
                                                                       team: Team) -> None:
    participant = factories.participant(db, team.site)
    course = _course(db, team, participant)
    review.verify(db, team.monitor, course)
    review.sign(db, team.investigator, participant, "clinical_course", course.id,
                password=factories.PASSWORD, meaning=SignatureMeaning.REVIEWED_AND_APPROVED)
    sn = participant.study_number
    assert _grid(db, team.site)[sn]["clinical_course"] == SIGNED
    query = review.raise_query(db, team.monitor, course, "ivig", "IVIG given?")
    assert _grid(db, team.site)[sn]["clinical_course"] == QUERIED
    records.update_record(db, team.coordinator, course, {"ivig": True}, reason="IVIG on day 3")
    review.answer_query(db, team.coordinator, query, "Yes, day 3.")
    assert _grid(db, team.site)[sn]["clinical_course"] == QUERIED  # answered is still open
    review.close_query(db, team.monitor, query, "Thanks")
    # the change voided the verification and the signature
    assert _grid(db, team.site)[sn]["clinical_course"] == COMPLETE
    records.delete_record(db, team.coordinator, course, "entered on the wrong participant")
    assert _grid(db, team.site)[sn]["clinical_course"] == EMPTY


def test_cell_status_precedence() -> None:
    everything = FormCounts(total=2, done=2, verified=2, locked=2, signed=2)
    assert cell_status(everything, open_queries=1, frozen=True) == QUERIED
    assert cell_status(everything, frozen=True) == LOCKED
    assert cell_status(FormCounts(2, 2, 2, 1, 2)) == SIGNED
    assert cell_status(FormCounts(2, 2, 2, 1, 1)) == VERIFIED
    assert cell_status(FormCounts(2, 2, 2, 1, 1), casebook_signed=True) == SIGNED
    assert cell_status(FormCounts(2, 2, 1, 0, 0)) == COMPLETE
    assert cell_status(FormCounts(2, 1, 2, 0, 0)) == VERIFIED
    assert cell_status(FormCounts(2, 1, 0, 0, 0)) == IN_PROGRESS
    assert cell_status(FormCounts()) == EMPTY
    assert PRECEDENCE == (QUERIED, LOCKED, SIGNED, VERIFIED, COMPLETE, IN_PROGRESS, EMPTY)


@pytest.fixture()
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_grid_costs_the_same_queries_for_3_or_30_participants(
        db: Session, team: Team, statements: list[str]) -> None:
    def page_cost(site: Site) -> int:
        db.expire_all()
        statements.clear()
        board = site_dashboard(db, site.id, date(2024, 3, 20), page_size=50)
        assert board.rows
        return len(statements)

    small, large = factories.site(db), factories.site(db)
    monitor = Actor.of(factories.user(db, Role.MONITOR, [small, large]))
    system = Actor.system("test")
    for site, n in ((small, 3), (large, 30)):
        for i in range(n):
            participant = factories.participant(db, site)
            course = records.create_record(db, system, participant, ClinicalCourse, COURSE,
                                           complete=True)
            if i % 3 == 0:
                review.verify(db, monitor, course)
            if i % 3 == 1:
                review.raise_query(db, monitor, course, "ivig", "?")
    assert page_cost(small) == page_cost(large)


def test_open_queries_counted_per_site(db: Session, team: Team) -> None:
    other = factories.site(db)
    monitor = Actor.of(factories.user(db, Role.MONITOR, [team.site, other]))
    here = [_course(db, team, factories.participant(db, team.site)) for _ in range(2)]
    for record in here:
        review.raise_query(db, monitor, record, "crs_grade", "?")
    closed = review.raise_query(db, monitor, here[0], "ivig", "?")
    review.close_query(db, monitor, closed, "")
    there = records.create_record(db, Actor.system("test"), factories.participant(db, other),
                                  ClinicalCourse, COURSE, complete=True)
    review.raise_query(db, monitor, there, "crs_grade", "?")
    board = site_dashboard(db, team.site.id, date(2024, 3, 20), query_sites=[other.id])
    assert board.counts["open_queries"] == 2
    assert board.open_queries == {team.site.id: 2, other.id: 1}


# --- the page -------------------------------------------------------------------


def test_dashboard_page_shows_the_statuses_and_the_open_queries(
        app: Flask, world: World, engine: Engine) -> None:
    participant = new_participant(engine, world.site_a)
    with unit_of_work(make_session_factory(engine)) as session:
        fresh = session.get(Participant, participant.id)
        assert fresh is not None
        course = records.create_record(session, Actor.system("test"), fresh, ClinicalCourse,
                                       COURSE, complete=True)
        monitor = session.get(type(world.monitor), world.monitor.id)
        assert monitor is not None
        review.raise_query(session, Actor.of(monitor), course, "crs_grade", "Grade?")
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    page = client.get(f"/?site={world.site_a.code}").get_data(as_text=True)
    assert 'class="cell cell-queried"' in page
    assert 'id="open-queries"><span class="stat-value">1<' in page
    for label in ("Question ouverte", "Verrouillée", "Signée", "Vérifiée", "Complète",
                  "En cours", "Vide"):
        assert f">{label}</span>" in page
    # the legend lists the statuses strongest first
    legend = page[page.index('class="legend"'):]
    positions = [legend.index(f">{label}</span>") for label in
                 ("Question ouverte", "Verrouillée", "Signée", "Vérifiée", "Complète")]
    assert positions == sorted(positions)
