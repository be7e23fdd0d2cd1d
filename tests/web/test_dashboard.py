"""The dashboard's record-status grid: queried, locked, signed, verified on top of
empty / in progress / complete, in a constant number of queries per page, and
the open queries counted per site (both databases)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.web.conftest import World, csrf_token, new_participant, sign_in
from trialdb.crf.definitions import load_forms
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import (
    Assay,
    CarTInfusion,
    ClinicalCourse,
    Participant,
    Serology,
    Site,
    ViralLoadResult,
)
from trialdb.services import records, review
from trialdb.services.actor import Actor
from trialdb.services.dashboard import (
    COMPLETE,
    EMPTY,
    IN_PROGRESS,
    LOCKED,
    OVERDUE_LISTED_DAYS,
    PRECEDENCE,
    QUERIED,
    SIGNED,
    VERIFIED,
    FormCounts,
    cell_status,
    due_time_points,
    site_dashboard,
    visit_schedule,
)
from trialdb.vocab import (
    CarTProduct,
    Disease,
    DiseaseStatus,
    LoadUnit,
    Lymphodepletion,
    ParticipantStatus,
    ResultState,
    Role,
    SerologyResult,
    SignatureMeaning,
    Specimen,
    TargetAntigen,
    Virus,
)

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
def statements(rollback_engine: Engine) -> Iterator[list[str]]:
    """The statements sent through `db`'s engine."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(rollback_engine, "before_cursor_execute", count)
    yield seen
    event.remove(rollback_engine, "before_cursor_execute", count)


def test_grid_costs_the_same_queries_for_3_or_30_participants(
        db: Session, team: Team, statements: list[str]) -> None:
    def page_cost(site: Site) -> int:
        db.expire_all()
        statements.clear()
        board = site_dashboard(db, site.id, date(2024, 3, 20), page_size=50)
        assert board.rows and statements  # no statement seen: listening on the wrong engine
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


def test_pages_follow_the_study_number_order(db: Session, team: Team) -> None:
    numbers = sorted(factories.participant(db, team.site).study_number for _ in range(5))
    pages = [site_dashboard(db, team.site.id, date(2024, 3, 20), page=n, page_size=2)
             for n in (1, 2, 3, 9)]
    assert [[row.study_number for row in board.rows] for board in pages] == [
        numbers[0:2], numbers[2:4], numbers[4:], numbers[4:]]
    assert [(board.page, board.pages) for board in pages] == [(1, 3), (2, 3), (3, 3), (3, 3)]


# --- time points due ---------------------------------------------------------------

INFUSION = {"product": CarTProduct.TISAGENLECLEUCEL, "target_antigen": TargetAntigen.CD19,
            "disease": Disease.LBCL, "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2,
            "prior_allo_hsct": False, "bridging_therapy": False,
            "lymphodepletion": Lymphodepletion.FLU_CY}


def _infuse(db: Session, participant: Participant, d0: date, deleted: bool = False) -> None:
    db.add(CarTInfusion(participant_id=participant.id, infused_on=d0, is_complete=True,
                        is_deleted=deleted, deletion_reason="wrong patient" if deleted else None,
                        **INFUSION))


def _sample(db: Session, participant: Participant, assay: Assay, day: date,
            virus: Virus = Virus.CMV, specimen: Specimen = Specimen.PLASMA,
            deleted: bool = False) -> None:
    db.add(ViralLoadResult(participant_id=participant.id, virus=virus, specimen=specimen,
                           sampled_on=day, assay_id=assay.id, unit=LoadUnit.IU_PER_ML,
                           state=ResultState.NOT_DETECTED, is_complete=True,
                           is_deleted=deleted, deletion_reason="duplicate" if deleted else None))


def _expected_due(infusions: dict[str, date], samples: dict[str, list[date]],
                  today: date) -> list[tuple[str, str, date, date, bool]]:
    """The rule, written out plainly: in schedule order, until a window opens after
    today, every window without a CMV blood sample, for infusions recent enough."""
    schedule = visit_schedule()
    horizon = today - timedelta(days=max(p.day + p.after for p in schedule)
                                + OVERDUE_LISTED_DAYS)
    due = []
    for number, d0 in infusions.items():
        if d0 < horizon:
            continue
        for point in schedule:
            start = d0 + timedelta(days=point.day - point.before)
            end = d0 + timedelta(days=point.day + point.after)
            if start > today:
                break
            if not any(start <= day <= end for day in samples.get(number, [])):
                due.append((number, point.name, start, end, end < today))
    return sorted(due, key=lambda d: (not d[4], d[3], d[0]))


def test_due_time_points_follow_the_schedule_rule(db: Session, team: Team) -> None:
    rng = random.Random(11)
    today = date(2025, 6, 1)
    assay = Assay(name="CMV PCR (due test)", virus=Virus.CMV, specimen=Specimen.PLASMA,
                  unit=LoadUnit.IU_PER_ML, lloq=62)
    db.add(assay)
    db.flush()
    infusions: dict[str, date] = {}
    samples: dict[str, list[date]] = {}
    for i in range(40):
        participant = factories.participant(db, team.site)
        participant.status = ParticipantStatus.INCLUDED
        d0 = today - timedelta(days=rng.randint(-10, 250))
        kind = i % 10
        if kind == 8:
            participant.status = ParticipantStatus.WITHDRAWN  # no longer followed
        if kind != 9:
            _infuse(db, participant, d0, deleted=kind == 7)
        if kind not in (7, 8, 9):
            infusions[participant.study_number] = d0
        for _ in range(rng.randint(0, 8)):
            day = d0 + timedelta(days=rng.randint(-6, 110))
            # other viruses, stool and deleted results do not count
            noise = rng.random()
            if noise < 0.1:
                _sample(db, participant, assay, day, virus=Virus.TTV)
            elif noise < 0.2:
                _sample(db, participant, assay, day, specimen=Specimen.STOOL)
            elif noise < 0.3:
                _sample(db, participant, assay, day, deleted=True)
            else:
                specimen = Specimen.WHOLE_BLOOD if noise < 0.4 else Specimen.PLASMA
                _sample(db, participant, assay, day, specimen=specimen)
                samples.setdefault(participant.study_number, []).append(day)
    elsewhere = factories.participant(db, factories.site(db))
    elsewhere.status = ParticipantStatus.INCLUDED
    _infuse(db, elsewhere, today - timedelta(days=20))
    db.flush()
    for day in (today - timedelta(days=30), today, today + timedelta(days=45)):
        got = [(d.study_number, d.time_point, d.window_start, d.window_end, d.overdue)
               for d in due_time_points(db, team.site.id, day)]
        expected = _expected_due(infusions, samples, day)
        assert got == expected
        assert any(overdue for *_rest, overdue in expected)
        assert any(not overdue for *_rest, overdue in expected)
    board = site_dashboard(db, team.site.id, today)
    assert board.counts["overdue"] == sum(d.overdue for d in board.due) > 0


# --- the page's markup ---------------------------------------------------------------


def test_page_rows_in_both_languages(app: Flask, world: World, engine: Engine) -> None:
    """Cells name their form and status in the reader's language, and the due list
    shows 60 time points with their windows, links and badges, the rest counted."""
    today = date.today()
    with unit_of_work(make_session_factory(engine)) as session:
        site = session.get(Site, world.site_a.id)
        assert site is not None
        for _ in range(16):  # 4 time points each: D0, D7, D14 overdue, D21 due
            participant = factories.participant(session, site)
            participant.status = ParticipantStatus.INCLUDED
            records.create_record(session, Actor.system("test"), participant, CarTInfusion,
                                  {**INFUSION, "infused_on": today - timedelta(days=20)},
                                  complete=True)
        numbers = sorted(p.study_number for p in session.scalars(
            select(Participant).where(Participant.site_id == site.id)))
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    infusion = load_forms()["infusion"].title
    d0 = today - timedelta(days=20)
    first = numbers[0]
    window = f"{d0 - timedelta(days=3):%d/%m}–{d0:%d/%m/%y}"

    page = client.get(f"/?site={world.site_a.code}").get_data(as_text=True)
    assert page.count('<td class="cell cell-') == 16 * len(load_forms())
    assert f'title="{infusion.get("fr")} · Complète"' in page
    assert f'title="{infusion.get("en")} · Complete"' not in page
    assert f'<a href="/participants/{first}">{first}</a>' in page
    assert '<td><span class="pill pill-included">Inclus</span></td>' in page
    assert 'stat-value">48</span><span class="stat-label">En retard' in page
    due = page[page.index('class="card side"'):]
    assert len(re.findall(r'<tr class="(?:overdue|due)">', due)) == 60
    assert "+ 4</p>" in due
    assert (f'<tr class="overdue">\n<td><a href="/participants/{first}/viral-loads">{first}</a>'
            f'</td>\n<td>J0</td>\n<td class="nowrap">{window}</td>\n<td><span class="badge '
            f'status-queried">En retard</span></td>\n</tr>') in due

    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": csrf_token(client, "/")})
    page = client.get(f"/?site={world.site_a.code}").get_data(as_text=True)
    assert f'title="{infusion.get("en")} · Complete"' in page
    assert f'title="{infusion.get("fr")} · Complète"' not in page
    assert '<td><span class="pill pill-included">Included</span></td>' in page
    assert 'stat-value">48</span><span class="stat-label">Overdue' in page
    assert (f'<td>D0</td>\n<td class="nowrap">{window}</td>\n<td><span class="badge '
            f'status-queried">Overdue</span></td>') in page
    assert '<td><span class="badge status-in_progress">Due</span></td>' in page
