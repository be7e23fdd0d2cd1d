"""The site dashboard: record status per participant and form, counts, and
the viral-load time points due or overdue (forms/study.yaml visit_schedule)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FormSpec, load_forms
from trialdb.models import CarTInfusion, Participant, Site, ViralLoadResult
from trialdb.resources import forms_dir
from trialdb.services.actor import Actor
from trialdb.vocab import ParticipantStatus, Specimen, Virus

EMPTY, IN_PROGRESS, COMPLETE = "empty", "in_progress", "complete"
#: Statuses of participants still followed, whose time points are tracked.
FOLLOWED = (ParticipantStatus.INCLUDED,)


@dataclass(frozen=True)
class TimePoint:
    name: str
    day: int
    before: int
    after: int


@lru_cache(maxsize=2)
def visit_schedule(path: Path | None = None) -> tuple[TimePoint, ...]:
    raw = yaml.safe_load((path or forms_dir() / "study.yaml").read_text(encoding="utf-8"))
    return tuple(TimePoint(str(v["name"]), int(v["day"]), int(v["before"]), int(v["after"]))
                 for v in raw["visit_schedule"])


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


def visible_sites(session: Session, actor: Actor) -> list[Site]:
    query = select(Site).order_by(Site.code)
    if not actor.all_sites:
        query = query.where(Site.id.in_(actor.site_ids or {-1}))
    return list(session.scalars(query))


def _form_statuses(session: Session, form: FormSpec, site_id: int) -> dict[int, str]:
    model = form.model
    rows = session.execute(
        select(model.participant_id, func.count(),
               func.sum(case((model.is_complete.is_(True), 1), else_=0)))
        .join(Participant, Participant.id == model.participant_id)
        .where(Participant.site_id == site_id, model.is_deleted.is_(False))
        .group_by(model.participant_id)
    ).all()
    return {pid: COMPLETE if done == total else IN_PROGRESS for pid, total, done in rows}


def due_time_points(session: Session, site_id: int, today: date,
                    schedule: tuple[TimePoint, ...] | None = None) -> list[DueTimePoint]:
    """CMV time points whose window is open (due) or closed without a blood sample."""
    schedule = schedule or visit_schedule()
    infused = session.execute(
        select(Participant.id, Participant.study_number, CarTInfusion.infused_on)
        .join(CarTInfusion, CarTInfusion.participant_id == Participant.id)
        .where(Participant.site_id == site_id, Participant.status.in_(FOLLOWED),
               CarTInfusion.is_deleted.is_(False))
    ).all()
    if not infused:
        return []
    samples: dict[int, list[date]] = defaultdict(list)
    for pid, sampled_on in session.execute(
        select(ViralLoadResult.participant_id, ViralLoadResult.sampled_on)
        .join(Participant, Participant.id == ViralLoadResult.participant_id)
        .where(Participant.site_id == site_id, ViralLoadResult.virus == Virus.CMV,
               ViralLoadResult.specimen.in_([Specimen.PLASMA, Specimen.WHOLE_BLOOD]),
               ViralLoadResult.is_deleted.is_(False))
    ):
        samples[pid].append(sampled_on)
    due = []
    for pid, number, d0 in infused:
        for point in schedule:
            start = d0 + timedelta(days=point.day - point.before)
            end = d0 + timedelta(days=point.day + point.after)
            if start > today:
                continue
            if any(start <= s <= end for s in samples[pid]):
                continue
            due.append(DueTimePoint(number, point.name, start, end, overdue=end < today))
    due.sort(key=lambda d: (not d.overdue, d.window_end, d.study_number))
    return due


def site_dashboard(session: Session, site_id: int, today: date | None = None) -> Dashboard:
    today = today or date.today()
    forms = list(load_forms().values())
    participants = session.execute(
        select(Participant.id, Participant.study_number, Participant.status)
        .where(Participant.site_id == site_id).order_by(Participant.study_number)
    ).all()
    per_form = {form.name: _form_statuses(session, form, site_id) for form in forms}
    rows = []
    counts: dict[str, int] = defaultdict(int)
    for pid, number, status in participants:
        row = DashboardRow(pid, number, status)
        for form in forms:
            row.statuses[form.name] = per_form[form.name].get(pid, EMPTY)
        rows.append(row)
        counts[str(status)] += 1
    counts["total"] = len(rows)
    return Dashboard(forms, rows, dict(counts), due_time_points(session, site_id, today))


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
