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
A page costs five statements whatever its size: the site's counts, the open
queries per site, the page's participants, their review state (one statement
over every form's table) and the time points due.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

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


@lru_cache(maxsize=2)
def visit_schedule(path: Path | None = None) -> tuple[TimePoint, ...]:
    raw = yaml.safe_load((path or forms_dir() / "study.yaml").read_text(encoding="utf-8"))
    points = (TimePoint(str(v["name"]), int(v["day"]), int(v["before"]), int(v["after"]))
              for v in raw["visit_schedule"])
    return tuple(sorted(points, key=lambda point: point.day))


class DueTimePoint(NamedTuple):
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


_ALL_SITES = select(Site).order_by(Site.code)
_SITES_AMONG = _ALL_SITES.where(Site.id.in_(bindparam("site_ids", expanding=True)))


def visible_sites(session: Session, actor: Actor) -> list[Site]:
    if actor.all_sites:
        return list(session.scalars(_ALL_SITES))
    return list(session.scalars(_SITES_AMONG, {"site_ids": sorted(actor.site_ids) or [-1]}))


def _constant(value: str | int) -> Any:
    """A constant written into the SQL text rather than bound: the statements keep
    a handful of parameters, and the planner sees the values. Only code-defined
    names and numbers come here."""
    if isinstance(value, int):
        return literal_column(str(int(value)), Integer())
    if not re.fullmatch(r"\w+", value):
        raise ValueError(f"not a plain name: {value!r}")
    return literal_column(f"'{value}'", String())


class _DaysBetween(FunctionElement[int]):
    """Whole days from the first date to the second (day numbers count from D0)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(_DaysBetween)
def _days_between(element: _DaysBetween, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({end} - {start})"  # PostgreSQL: date - date is a number of days


@compiles(_DaysBetween, "sqlite")
def _days_between_sqlite(element: _DaysBetween, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def _listed(column: Any, dialect: str) -> Any:
    """`column` is one of the page's participant ids, bound as one parameter
    (``ids``) whatever the page's size: an array on PostgreSQL, a JSON list on
    SQLite (no arrays there). The statement text stays fixed, compiled once,
    instead of one placeholder per id in each of its sixteen lists."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    return column.in_(select(literal_column("value", Integer))
                      .select_from(func.json_each(bindparam("ids", type_=String))))


def _ids_parameter(session: Session, ids: list[int]) -> list[int] | str:
    return ids if session.get_bind().dialect.name == "postgresql" else json.dumps(ids)


#: Row kinds of the grid statement.
_FORM, _QUERY, _FROZEN, _SIGNED = "form", "query", "frozen", "signed"


@lru_cache(maxsize=8)
def _grid_query(form_names: tuple[str, ...], dialect: str) -> Any:
    """The review state of a page of participants in one statement, built once.

    Rows (kind, name, pid, n, done, verified, locked, signed):
    - ``form``: a form (name) with n live records, how many are complete,
      verified, locked, and carry a valid signature (review rows are unique
      per record and signatures are taken once per record, so the outer
      joins never multiply a record);
    - ``query``: n open or answered queries on a form table (name);
    - ``frozen`` / ``signed``: the participant's casebook is locked / signed.

    Reviews and signatures are looked up through their participant (indexed),
    so the work follows the page, not the size of the review tables: they
    carry their record's participant (services.review takes it from the record
    or from a page that checked the record is the participant's).
    """
    forms = load_forms()
    records = union_all(*[
        select(_constant(name).label("form"), _constant(model.__tablename__).label("entity"),
               model.id.label("id"), model.participant_id.label("pid"),
               model.is_complete.label("complete"))
        .where(_listed(model.participant_id, dialect), model.is_deleted.is_(False))
        for name in form_names for model in [forms[name].model]
    ]).subquery("live_record")
    reviews = (select(RecordReview.participant_id, RecordReview.entity, RecordReview.record_id,
                      RecordReview.verified_at, RecordReview.locked_at)
               .where(_listed(RecordReview.participant_id, dialect)).cte("page_review"))
    signatures = (select(Signature.participant_id, Signature.entity, Signature.record_id)
                  .where(_listed(Signature.participant_id, dialect),
                         Signature.invalidated_at.is_(None))
                  .distinct().cte("page_signature"))
    one, zero, casebook = _constant(1), _constant(0), _constant(CASEBOOK)
    return union_all(
        select(_constant(_FORM).label("kind"), records.c.form.label("name"),
               records.c.pid.label("pid"), func.count().label("n"),
               func.count(case((records.c.complete.is_(True), one))).label("done"),
               func.count(reviews.c.verified_at).label("verified"),
               func.count(reviews.c.locked_at).label("locked"),
               func.count(signatures.c.record_id).label("signed"))
        .select_from(
            records
            .outerjoin(reviews, and_(reviews.c.entity == records.c.entity,
                                     reviews.c.record_id == records.c.id))
            .outerjoin(signatures, and_(signatures.c.entity == records.c.entity,
                                        signatures.c.record_id == records.c.id)))
        .group_by(records.c.form, records.c.pid),
        select(_constant(_QUERY), DataQuery.entity, DataQuery.participant_id, func.count(),
               zero, zero, zero, zero)
        .where(_listed(DataQuery.participant_id, dialect),
               DataQuery.status != _constant(QueryStatus.CLOSED.value))
        .group_by(DataQuery.entity, DataQuery.participant_id),
        select(_constant(_FROZEN), casebook, reviews.c.participant_id, func.count(),
               zero, zero, zero, zero)
        .where(reviews.c.entity == casebook, reviews.c.locked_at.is_not(None))
        .group_by(reviews.c.participant_id),
        select(_constant(_SIGNED), casebook, signatures.c.participant_id, func.count(),
               zero, zero, zero, zero)
        .where(signatures.c.entity == casebook)
        .group_by(signatures.c.participant_id),
    )


class FormCounts(NamedTuple):
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
                   participant_ids: list[int]) -> dict[int, dict[str, str]]:
    """Status of every form for these participants, by participant, in one statement."""
    counts: dict[int, dict[str, FormCounts]] = defaultdict(dict)
    queries: dict[int, dict[str, int]] = defaultdict(dict)
    frozen: set[int] = set()
    casebook_signed: set[int] = set()
    statement = _grid_query(tuple(form.name for form in forms),
                            session.get_bind().dialect.name)
    for kind, name, pid, n, done, verified, locked, signed in session.connection().execute(
            statement, {"ids": _ids_parameter(session, participant_ids)}).all():
        if kind == _FORM:
            counts[pid][name] = FormCounts(n, done, verified, locked, signed)
        elif kind == _QUERY:
            queries[pid][name] = n
        elif kind == _FROZEN:
            frozen.add(pid)
        else:
            casebook_signed.add(pid)
    nothing = FormCounts()
    names = [(form.name, form.model.__tablename__) for form in forms]
    blank = dict.fromkeys([name for name, _entity in names], EMPTY)
    statuses: dict[int, dict[str, str]] = {}
    for pid in participant_ids:
        is_frozen, is_signed = pid in frozen, pid in casebook_signed
        mine, open_queries = counts.get(pid, {}), queries.get(pid)
        row = statuses[pid] = dict(blank)
        if open_queries or is_frozen:  # even forms without records may change
            for name, entity in names:
                row[name] = cell_status(mine.get(name, nothing),
                                        open_queries=(open_queries or {}).get(entity, 0),
                                        frozen=is_frozen, casebook_signed=is_signed)
        else:  # forms without records stay empty
            for name, form_counts in mine.items():
                row[name] = cell_status(form_counts, casebook_signed=is_signed)
    return statuses


_OPEN_QUERIES_BY_SITE = (
    select(Participant.site_id, func.count(DataQuery.id))
    .join(Participant, Participant.id == DataQuery.participant_id)
    .where(Participant.site_id.in_(bindparam("site_ids", expanding=True)),
           DataQuery.status != _constant(QueryStatus.CLOSED.value))
    .group_by(Participant.site_id)
)
#: Participants of a site per status (the page's counts).
_STATUS_COUNTS = (
    select(Participant.status, func.count()).where(Participant.site_id == bindparam("site_id"))
    .group_by(Participant.status)
)
#: One page of a site's participants, in study-number order.
_PAGE = (
    select(Participant.id, Participant.study_number, Participant.status)
    .where(Participant.site_id == bindparam("site_id")).order_by(Participant.study_number)
    .limit(bindparam("limit")).offset(bindparam("offset"))
)


def open_queries_by_site(session: Session, site_ids: list[int]) -> dict[int, int]:
    """Open or answered queries per site (sites without any are left out)."""
    if not site_ids:
        return {}
    return {int(site): int(n) for site, n in session.connection().execute(
        _OPEN_QUERIES_BY_SITE, {"site_ids": site_ids})}


@lru_cache(maxsize=4)
def _due_query(schedule: tuple[TimePoint, ...]) -> Any:
    """Infusions of a site's followed participants since a date (parameters:
    site_id, since), each with one 0/1 column per time point of `schedule`:
    whether a CMV blood sample falls in its window. Built once."""
    d0 = CarTInfusion.infused_on
    load = ViralLoadResult
    samples = (
        select(CarTInfusion.id.label("infusion"), Participant.study_number.label("number"),
               d0.label("d0"), _DaysBetween(d0, load.sampled_on).label("day"))
        .join(CarTInfusion, CarTInfusion.participant_id == Participant.id)
        .outerjoin(load, and_(
            load.participant_id == Participant.id, load.virus == _constant(Virus.CMV.value),
            load.specimen.in_([_constant(Specimen.PLASMA.value),
                               _constant(Specimen.WHOLE_BLOOD.value)]),
            load.is_deleted.is_(False)))
        .where(Participant.site_id == bindparam("site_id"),
               Participant.status.in_([_constant(status.value) for status in FOLLOWED]),
               CarTInfusion.is_deleted.is_(False), d0 >= bindparam("since", type_=Date))
        # materialized: SQLite would otherwise work out each row's day once per time point
        .cte("sample_day").prefix_with("MATERIALIZED")
    )
    day = samples.c.day
    return (
        select(samples.c.number, samples.c.d0, *[
            func.max(case((day.between(_constant(point.day - point.before),
                                       _constant(point.day + point.after)), _constant(1)),
                          else_=_constant(0)))
            for point in schedule])
        .group_by(samples.c.infusion, samples.c.number, samples.c.d0)
    )


def due_time_points(session: Session, site_id: int, today: date,
                    schedule: tuple[TimePoint, ...] | None = None) -> list[DueTimePoint]:
    """CMV time points whose window is open (due) or closed without a blood sample."""
    schedule = schedule or visit_schedule()
    # Participants whose last window closed long ago are not listed: their missed
    # samples are protocol deviations by then, not work for today.
    horizon = today - timedelta(days=max(p.day + p.after for p in schedule)
                                + OVERDUE_LISTED_DAYS)
    windows = [(point.name, timedelta(days=point.day - point.before),
                timedelta(days=point.day + point.after)) for point in schedule]
    due = []
    for number, d0, *sampled in session.connection().execute(
            _due_query(schedule), {"site_id": site_id, "since": horizon}).all():
        for (name, first, last), in_window in zip(windows, sampled, strict=True):
            start = d0 + first
            if start > today:
                break
            if not in_window:
                end = d0 + last
                due.append(DueTimePoint(number, name, start, end, end < today))
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
    connection = session.connection()
    counts: dict[str, int] = {
        str(status): int(n)
        for status, n in connection.execute(_STATUS_COUNTS, {"site_id": site_id})
    }
    total = sum(counts.values())
    counts["total"] = total
    open_queries = open_queries_by_site(session, sorted({site_id, *(query_sites or [])}))
    counts["open_queries"] = open_queries.get(site_id, 0)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    participants = connection.execute(
        _PAGE, {"site_id": site_id, "limit": page_size, "offset": (page - 1) * page_size}).all()
    per_participant = _form_statuses(
        session, forms, [pid for pid, _number, _status in participants]) if participants else {}
    rows = [DashboardRow(pid, number, status, per_participant[pid])
            for pid, number, status in participants]
    due = due_time_points(session, site_id, today)
    counts["overdue"] = sum(1 for point in due if point.overdue)
    return Dashboard(forms, rows, counts, due, page, pages, open_queries)


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
