"""The site dashboard: record status per participant and form, counts, and
the viral-load time points due or overdue (forms/study.yaml visit_schedule).

A grid cell shows one status, the first that holds in this order (the
legend on the page lists them in the same order):

1. ``queried``: an open or answered query on any record of the form;
2. ``locked``: the participant is frozen, or every live record of the form is locked;
3. ``signed``: every live record of the form carries a valid (not invalidated)
   signature, or the participant's whole casebook does;
4. ``verified``: every live record of the form is source-verified;
5. ``complete``: every live record of the form is marked complete;
6. ``in_progress``: the form has live records, not all complete;
7. ``empty``: no live record.

Work to do comes first (a query), then what stops work (a lock), then the
review steps from the last to the first. A frozen participant's empty forms
show as locked (nothing can be added); signatures and verifications only
speak of records that exist, so an empty form stays empty otherwise.
The grid of a page costs a constant number of queries, whatever its size.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FormSpec, load_forms
from trialdb.models import (
    CarTInfusion,
    DataQuery,
    Participant,
    RecordReview,
    Signature,
    Site,
    ViralLoadResult,
)
from trialdb.resources import forms_dir
from trialdb.services.actor import Actor
from trialdb.services.review import CASEBOOK
from trialdb.vocab import ParticipantStatus, QueryStatus, Specimen, Virus

EMPTY, IN_PROGRESS, COMPLETE = "empty", "in_progress", "complete"
QUERIED, LOCKED, SIGNED, VERIFIED = "queried", "locked", "signed", "verified"
#: Cell statuses, the strongest first: a cell shows the first that holds.
PRECEDENCE = (QUERIED, LOCKED, SIGNED, VERIFIED, COMPLETE, IN_PROGRESS, EMPTY)
#: Statuses of participants still followed, whose time points are tracked.
FOLLOWED = (ParticipantStatus.INCLUDED,)
#: How long after a participant's last window closes their missed time points stay listed.
OVERDUE_LISTED_DAYS = 60


@dataclass(frozen=True)
class TimePoint:
    name: str
    day: int
    before: int
    after: int


def _raw_date(column: Any) -> Any:
    """A date column read without SQLAlchemy's per-row SQLite date parsing
    (date.fromisoformat in C is much faster for thousands of rows)."""
    return type_coerce(column, String)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


@lru_cache(maxsize=2)
def visit_schedule(path: Path | None = None) -> tuple[TimePoint, ...]:
    raw = yaml.safe_load((path or forms_dir() / "study.yaml").read_text(encoding="utf-8"))
    points = (TimePoint(str(v["name"]), int(v["day"]), int(v["before"]), int(v["after"]))
              for v in raw["visit_schedule"])
    return tuple(sorted(points, key=lambda point: point.day))


@dataclass(frozen=True)
class DueTimePoint:
    study_number: str
    time_point: str
    window_start: date
    window_end: date
    overdue: bool


@dataclass
class DashboardRow:
    participant_id: int
    study_number: str
    status: ParticipantStatus
    statuses: dict[str, str] = field(default_factory=dict)


@dataclass
class Dashboard:
    forms: list[FormSpec]
    rows: list[DashboardRow]
    counts: dict[str, int]
    due: list[DueTimePoint]
    page: int = 1
    pages: int = 1
    #: Open or answered queries per site id, for the sites asked for.
    open_queries: dict[int, int] = field(default_factory=dict)


def visible_sites(session: Session, actor: Actor) -> list[Site]:
    query = select(Site).order_by(Site.code)
    if not actor.all_sites:
        query = query.where(Site.id.in_(actor.site_ids or {-1}))
    return list(session.scalars(query))


@lru_cache(maxsize=4)
def _status_query(form_names: tuple[str, ...]) -> Any:
    """One UNION ALL over the forms' tables, built once: the participant ids are an
    expanding parameter, so every page reuses the same compiled statement.

    Per form and participant: live records, how many are complete, verified,
    locked, and carry a valid signature (review rows are unique per record,
    so the outer join never multiplies a record).
    """
    forms = load_forms()
    ids: Any = bindparam("ids", expanding=True)

    def per_form(name: str) -> Any:
        model: Any = forms[name].model
        entity = model.__tablename__
        signed = exists().where(Signature.entity == entity, Signature.record_id == model.id,
                                Signature.invalidated_at.is_(None))
        return (
            select(literal(name).label("form"), model.participant_id.label("pid"),
                   func.count().label("total"),
                   func.sum(case((model.is_complete.is_(True), 1), else_=0)).label("done"),
                   func.sum(case((RecordReview.verified_at.is_not(None), 1), else_=0))
                   .label("verified"),
                   func.sum(case((RecordReview.locked_at.is_not(None), 1), else_=0))
                   .label("locked"),
                   func.sum(case((signed, 1), else_=0)).label("signed"))
            .select_from(model)
            .outerjoin(RecordReview, and_(RecordReview.entity == entity,
                                          RecordReview.record_id == model.id))
            .where(model.participant_id.in_(ids), model.is_deleted.is_(False))
            .group_by(model.participant_id)
        )

    return union_all(*[per_form(name) for name in form_names])


@lru_cache(maxsize=1)
def _governance_query() -> Any:
    """Open queries per form table and participant, frozen participants and
    signed casebooks, for a page of participants, in one statement."""
    ids: Any = bindparam("ids", expanding=True)
    return union_all(
        select(literal("query").label("kind"), DataQuery.entity.label("entity"),
               DataQuery.participant_id.label("pid"), func.count().label("n"))
        .where(DataQuery.participant_id.in_(ids), DataQuery.status != QueryStatus.CLOSED)
        .group_by(DataQuery.entity, DataQuery.participant_id),
        select(literal("frozen"), literal(CASEBOOK), RecordReview.participant_id, func.count())
        .where(RecordReview.participant_id.in_(ids), RecordReview.entity == CASEBOOK,
               RecordReview.locked_at.is_not(None))
        .group_by(RecordReview.participant_id),
        select(literal("signed"), literal(CASEBOOK), Signature.participant_id, func.count())
        .where(Signature.participant_id.in_(ids), Signature.entity == CASEBOOK,
               Signature.invalidated_at.is_(None))
        .group_by(Signature.participant_id),
    )


@dataclass(frozen=True)
class FormCounts:
    """One form of one participant: live records and their review state."""

    total: int = 0
    done: int = 0
    verified: int = 0
    locked: int = 0
    signed: int = 0


def cell_status(counts: FormCounts, *, open_queries: int = 0, frozen: bool = False,
                casebook_signed: bool = False) -> str:
    """The status a grid cell shows (precedence in the module's docstring)."""
    total = counts.total
    if open_queries:
        return QUERIED
    if frozen or (total and counts.locked == total):
        return LOCKED
    if not total:
        return EMPTY
    if casebook_signed or counts.signed == total:
        return SIGNED
    if counts.verified == total:
        return VERIFIED
    return COMPLETE if counts.done == total else IN_PROGRESS


def _form_statuses(session: Session, forms: list[FormSpec],
                   participant_ids: list[int]) -> dict[str, dict[int, str]]:
    """Status of every form for these participants, in two queries."""
    connection = session.connection()
    counts: dict[tuple[str, int], FormCounts] = {}
    query = _status_query(tuple(form.name for form in forms))
    for name, pid, total, done, verified, locked, signed in connection.execute(
            query, {"ids": participant_ids}):
        counts[(name, pid)] = FormCounts(int(total), int(done or 0), int(verified or 0),
                                         int(locked or 0), int(signed or 0))
    queries: dict[tuple[str, int], int] = {}
    frozen: set[int] = set()
    casebook_signed: set[int] = set()
    for kind, entity, pid, n in connection.execute(_governance_query(),
                                                   {"ids": participant_ids}):
        if kind == "query":
            queries[(entity, pid)] = int(n)
        elif kind == "frozen":
            frozen.add(pid)
        else:
            casebook_signed.add(pid)
    nothing = FormCounts()
    statuses: dict[str, dict[int, str]] = {}
    for form in forms:
        entity = form.model.__tablename__
        statuses[form.name] = {
            pid: cell_status(counts.get((form.name, pid), nothing),
                             open_queries=queries.get((entity, pid), 0), frozen=pid in frozen,
                             casebook_signed=pid in casebook_signed)
            for pid in participant_ids}
    return statuses


def open_queries_by_site(session: Session, site_ids: list[int]) -> dict[int, int]:
    """Open or answered queries per site (sites without any are left out)."""
    if not site_ids:
        return {}
    return {int(site): int(n) for site, n in session.execute(
        select(Participant.site_id, func.count(DataQuery.id))
        .join(Participant, Participant.id == DataQuery.participant_id)
        .where(Participant.site_id.in_(site_ids), DataQuery.status != QueryStatus.CLOSED)
        .group_by(Participant.site_id))}


def due_time_points(session: Session, site_id: int, today: date,
                    schedule: tuple[TimePoint, ...] | None = None) -> list[DueTimePoint]:
    """CMV time points whose window is open (due) or closed without a blood sample."""
    schedule = schedule or visit_schedule()
    # Participants whose last window closed long ago are not listed: their missed
    # samples are protocol deviations by then, not work for today.
    horizon = today - timedelta(days=max(p.day + p.after for p in schedule)
                                + OVERDUE_LISTED_DAYS)
    infused = session.connection().execute(
        select(Participant.id, Participant.study_number, CarTInfusion.infused_on)
        .join(CarTInfusion, CarTInfusion.participant_id == Participant.id)
        .where(Participant.site_id == site_id, Participant.status.in_(FOLLOWED),
               CarTInfusion.is_deleted.is_(False), CarTInfusion.infused_on >= horizon)
    ).all()
    if not infused:
        return []
    earliest = min(d0 for _pid, _number, d0 in infused) + timedelta(
        days=min(p.day - p.before for p in schedule))
    samples: dict[int, list[date]] = defaultdict(list)
    # Core rows: thousands of (id, date) pairs need no ORM bookkeeping.
    for pid, sampled_on in session.connection().execute(
        select(ViralLoadResult.participant_id, _raw_date(ViralLoadResult.sampled_on))
        .join(Participant, Participant.id == ViralLoadResult.participant_id)
        .where(Participant.site_id == site_id, ViralLoadResult.virus == Virus.CMV,
               ViralLoadResult.specimen.in_([Specimen.PLASMA, Specimen.WHOLE_BLOOD]),
               ViralLoadResult.sampled_on >= earliest, ViralLoadResult.is_deleted.is_(False))
    ):
        samples[pid].append(_as_date(sampled_on))
    for days in samples.values():
        days.sort()
    due = []
    for pid, number, d0 in infused:
        days = samples.get(pid, [])
        for point in schedule:
            start = d0 + timedelta(days=point.day - point.before)
            if start > today:
                break
            end = d0 + timedelta(days=point.day + point.after)
            first = bisect_left(days, start)
            if first < len(days) and days[first] <= end:
                continue  # a sample in the window
            due.append(DueTimePoint(number, point.name, start, end, overdue=end < today))
    due.sort(key=lambda d: (not d.overdue, d.window_end, d.study_number))
    return due


def site_dashboard(session: Session, site_id: int, today: date | None = None, *,
                   page: int = 1, page_size: int = 50,
                   query_sites: list[int] | None = None) -> Dashboard:
    """Counts over the whole site; the status grid one page of participants at a time.

    `query_sites`: the sites whose open queries are counted too (the site
    picker shows them); the site itself always is.
    """
    today = today or date.today()
    forms = list(load_forms().values())
    counts: dict[str, int] = {
        str(status): int(n) for status, n in session.execute(
            select(Participant.status, func.count()).where(Participant.site_id == site_id)
            .group_by(Participant.status))
    }
    total = sum(counts.values())
    counts["total"] = total
    open_queries = open_queries_by_site(session, sorted({site_id, *(query_sites or [])}))
    counts["open_queries"] = open_queries.get(site_id, 0)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    participants = session.execute(
        select(Participant.id, Participant.study_number, Participant.status)
        .where(Participant.site_id == site_id).order_by(Participant.study_number)
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    ids = [pid for pid, _number, _status in participants]
    per_form = _form_statuses(session, forms, ids) if ids else {}
    rows = []
    for pid, number, status in participants:
        row = DashboardRow(pid, number, status)
        for form in forms:
            row.statuses[form.name] = per_form[form.name].get(pid, EMPTY)
        rows.append(row)
    return Dashboard(forms, rows, counts, due_time_points(session, site_id, today), page, pages,
                     open_queries)


def participant_form_statuses(session: Session, participant_id: int) -> dict[str, tuple[str, int]]:
    """Status and record count of every form for one participant."""
    result: dict[str, tuple[str, int]] = {}
    for form in load_forms().values():
        model: Any = form.model
        total, done = session.execute(
            select(func.count(), func.sum(case((model.is_complete.is_(True), 1), else_=0)))
            .where(model.participant_id == participant_id, model.is_deleted.is_(False))
        ).one()
        status = EMPTY if not total else (COMPLETE if done == total else IN_PROGRESS)
        result[form.name] = (status, int(total))
    return result
