"""The site dashboard: record status per participant and form, counts, and
the viral-load time points due or overdue (forms/study.yaml visit_schedule)."""

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
    bindparam,
    case,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FormSpec, load_forms
from trialdb.models import CarTInfusion, Participant, Site, ViralLoadResult
from trialdb.resources import forms_dir
from trialdb.services.actor import Actor
from trialdb.vocab import ParticipantStatus, Specimen, Virus

EMPTY, IN_PROGRESS, COMPLETE = "empty", "in_progress", "complete"
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


def visible_sites(session: Session, actor: Actor) -> list[Site]:
    query = select(Site).order_by(Site.code)
    if not actor.all_sites:
        query = query.where(Site.id.in_(actor.site_ids or {-1}))
    return list(session.scalars(query))


@lru_cache(maxsize=4)
def _status_query(form_names: tuple[str, ...]) -> Any:
    """One UNION ALL over the forms' tables, built once: the participant ids are an
    expanding parameter, so every page reuses the same compiled statement."""
    forms = load_forms()
    ids: Any = bindparam("ids", expanding=True)
    return union_all(*[
        select(literal(name).label("form"), forms[name].model.participant_id.label("pid"),
               func.count().label("total"),
               func.sum(case((forms[name].model.is_complete.is_(True), 1), else_=0))
               .label("done"))
        .where(forms[name].model.participant_id.in_(ids),
               forms[name].model.is_deleted.is_(False))
        .group_by(forms[name].model.participant_id)
        for name in form_names
    ])


def _form_statuses(session: Session, forms: list[FormSpec],
                   participant_ids: list[int]) -> dict[str, dict[int, str]]:
    """Status of every form for these participants, in one query."""
    statuses: dict[str, dict[int, str]] = {form.name: {} for form in forms}
    query = _status_query(tuple(form.name for form in forms))
    for name, pid, total, done in session.connection().execute(query, {"ids": participant_ids}):
        statuses[name][pid] = COMPLETE if done == total else IN_PROGRESS
    return statuses


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
                   page: int = 1, page_size: int = 50) -> Dashboard:
    """Counts over the whole site; the status grid one page of participants at a time."""
    today = today or date.today()
    forms = list(load_forms().values())
    counts: dict[str, int] = {
        str(status): int(n) for status, n in session.execute(
            select(Participant.status, func.count()).where(Participant.site_id == site_id)
            .group_by(Participant.status))
    }
    total = sum(counts.values())
    counts["total"] = total
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
    return Dashboard(forms, rows, counts, due_time_points(session, site_id, today), page, pages)


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
