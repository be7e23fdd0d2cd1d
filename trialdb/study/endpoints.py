"""Derived CMV endpoints (Ljungman 2017/2024, STUDY.md "Endpoint definitions").

Pure functions over plain values: no database. Each derived value carries the
ids of the viral-load results it came from (``source_result_ids``), and the
settings (:class:`~trialdb.study.endpoint_settings.EndpointSettings`) say how
the rules bend for sensitivity analyses.

Decisions
---------
Which results
    CMV DNAemia is judged on CMV results of the specimens in
    ``settings.specimens`` (blood: plasma and whole blood). Results of other
    viruses or specimens never count.
Judging one result against the threshold
    ``any_detection``: detected below LLOQ or quantified. ``at_or_above_lloq``:
    quantified (and not below the assay's LLOQ when one is recorded).
    ``at_or_above_value``: quantified with a load in IU/mL at or above
    ``threshold_iu_per_ml``; copies/mL become IU/mL only through the assay's
    own factor (:func:`trialdb.study.viral_load.to_iu_per_ml`). A copies/mL
    result whose assay has no factor **cannot be compared** to an IU/mL
    threshold: it is not counted as an event, not counted as a negative, and
    is listed in ``not_comparable_result_ids`` so it can be reported and the
    factor entered. A below-LLOQ result is below an IU threshold when the
    assay's LLOQ in IU/mL is at or below it, otherwise not comparable either.
One sampling day, several results
    Results are judged per sampling day (plasma and whole blood taken the same
    day are one test): the day *qualifies* when any result qualifies; it is
    *negative* when every result is negative (its state is in
    ``settings.clearance_states`` and it does not qualify); it is *unknown*
    when no result qualifies and one is not comparable; otherwise it is a
    detection below the threshold. Unknown days are not tests: they neither
    confirm, nor censor, nor count as surveillance; inside a recurrence gap
    they break it (they may hide a detection).
Prevalent DNAemia
    A qualifying result from D-``prevalence_window_days`` to D0 inclusive. A
    detection on D0 is prevalent, never an incident event: incident
    reactivation starts at day 1. Results older than the window are history.
First reactivation
    The first qualifying day from day 1. With ``consecutive_detections: 2`` the
    next known test day must qualify too; the event day is the first of the
    two (its onset), and both days' results are its sources.
Clinically significant infection (csCMVi)
    The earlier of proven or probable CMV end-organ disease (``possible`` does
    not count) and the start of pre-emptive antiviral therapy preceded by a
    blood CMV detection (below LLOQ or quantified) within
    ``pre_emptive_lookback_days`` before the start (inclusive). Letermovir
    never counts as pre-emptive therapy.
Clearance
    The first negative test day after the onset. Time to clearance is in days
    from the onset.
Recurrence
    After a clearance, a qualifying day at least ``recurrence_gap_days`` after
    the first negative day, with only negative days between them, at least one
    of them, and no two consecutive tests (from the clearance to the new
    detection) more than ``surveillance_max_interval_days`` apart ("under
    active surveillance"). A detection sooner, or after a gap not covered by
    surveillance, continues the same episode.
Refractory and probable refractory
    Therapy courses are those of ganciclovir, valganciclovir, foscarnet,
    cidofovir or maribavir given pre-emptively or for disease; recorded doses
    are taken as appropriate (the CRF cannot judge a dose). Courses that
    overlap or follow each other within a day form one therapy: a switch of
    drug does not restart the clock. For each assay and specimen, the
    baseline is the last quantified result of that assay and specimen from
    ``refractory_baseline_window_days`` before the start to the start day
    inclusive (pre-treatment load). Results of the same assay, specimen and
    unit sampled from day ``refractory_min_therapy_days`` of therapy to its
    last day are then compared with it: a rise of more than 1 log10 at any of
    them is **refractory**; otherwise, when the first of them neither rose nor
    fell by more than 1 log10 (|change| <= 1), **probable refractory**; a
    first result fallen by more than 1 log10 or no longer quantified is
    **responding**. Without a baseline, or without a result from day 14 on
    therapy, or a therapy shorter than 14 days: **not evaluable**. Results of
    different assays or specimens are never compared.
Peak load
    The highest quantified load of one specimen from D0 to the horizon,
    compared in IU/mL; results that cannot be converted are left out and
    listed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from typing import Final

from trialdb.study.endpoint_settings import (
    STATUS_CENSORED,
    STATUS_REACTIVATION,
    CensorAt,
    CompetingEvent,
    EndpointSettings,
    Threshold,
)
from trialdb.study.timeline import study_day
from trialdb.study.viral_load import log10_load, to_iu_per_ml
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    CmvDiseaseSite,
    DiagnosticCertainty,
    LoadUnit,
    ResultState,
    Specimen,
    StrEnum,
    Virus,
)

#: Antivirals that treat CMV DNAemia (letermovir is prophylaxis only).
TREATMENT_DRUGS: Final = frozenset(
    {Antiviral.GANCICLOVIR, Antiviral.VALGANCICLOVIR, Antiviral.FOSCARNET,
     Antiviral.CIDOFOVIR, Antiviral.MARIBAVIR}
)
TREATMENT_INDICATIONS: Final = frozenset(
    {AntiviralIndication.PRE_EMPTIVE, AntiviralIndication.DISEASE_TREATMENT}
)
#: End-organ disease counts for csCMVi when proven or probable.
COUNTED_CERTAINTIES: Final = frozenset({DiagnosticCertainty.PROVEN, DiagnosticCertainty.PROBABLE})
ONE_LOG10: Final = Decimal(1)


# --- inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """One viral-load result with what is needed to judge it (assay's LLOQ and factor)."""

    id: int
    virus: Virus
    specimen: Specimen
    sampled_on: date
    assay_id: int
    state: ResultState
    value: Decimal | float | None
    unit: LoadUnit
    lloq: Decimal | float | None = None
    copies_per_iu: Decimal | float | None = None

    @property
    def iu_per_ml(self) -> Decimal | None:
        """The quantified load in IU/mL, None when not quantified or not convertible."""
        if self.state is not ResultState.QUANTIFIED or self.value is None:
            return None
        return to_iu_per_ml(self.value, self.unit, self.copies_per_iu)

    @property
    def log10(self) -> Decimal | None:
        """log10 of the quantified load in its own unit."""
        if self.state is not ResultState.QUANTIFIED or self.value is None:
            return None
        return log10_load(self.value)


@dataclass(frozen=True)
class TherapyCourse:
    id: int
    drug: Antiviral
    indication: AntiviralIndication
    started_on: date
    ended_on: date | None = None


@dataclass(frozen=True)
class DiseaseEpisode:
    id: int
    diagnosed_on: date
    organ: CmvDiseaseSite
    certainty: DiagnosticCertainty


# --- judging results ------------------------------------------------------------------


class Judgement(Enum):
    QUALIFIES = "qualifies"
    NEGATIVE = "negative"
    BELOW_THRESHOLD = "below_threshold"  # detected, does not qualify, not negative
    NOT_COMPARABLE = "not_comparable"


def _decimal(value: Decimal | float) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _qualifies(result: LoadResult, settings: EndpointSettings) -> Judgement:
    """Whether the result meets the threshold: QUALIFIES, NOT_COMPARABLE or NEGATIVE
    (the last meaning here only 'does not qualify')."""
    if result.state is ResultState.NOT_DETECTED:
        return Judgement.NEGATIVE
    if settings.threshold is Threshold.ANY_DETECTION:
        return Judgement.QUALIFIES
    if settings.threshold is Threshold.AT_OR_ABOVE_LLOQ:
        if result.state is ResultState.BELOW_LLOQ or result.value is None:
            return Judgement.NEGATIVE
        if result.lloq is not None and _decimal(result.value) < _decimal(result.lloq):
            return Judgement.NEGATIVE
        return Judgement.QUALIFIES
    # at or above a value in IU/mL
    if result.state is ResultState.BELOW_LLOQ or result.value is None:
        if result.lloq is None:
            return Judgement.NOT_COMPARABLE
        lloq_iu = to_iu_per_ml(result.lloq, result.unit, result.copies_per_iu)
        if lloq_iu is None or lloq_iu > settings.threshold_iu_per_ml:
            return Judgement.NOT_COMPARABLE
        return Judgement.NEGATIVE
    load = result.iu_per_ml
    if load is None:
        return Judgement.NOT_COMPARABLE
    return Judgement.QUALIFIES if load >= settings.threshold_iu_per_ml else Judgement.NEGATIVE


def judge_result(result: LoadResult, settings: EndpointSettings) -> Judgement:
    """How one CMV blood result counts under the settings (see the module's decisions)."""
    verdict = _qualifies(result, settings)
    if verdict is not Judgement.NEGATIVE:
        return verdict
    if result.state in settings.clearance_states:
        return Judgement.NEGATIVE
    return Judgement.BELOW_THRESHOLD


def is_cmv_blood(result: LoadResult, settings: EndpointSettings) -> bool:
    return result.virus is Virus.CMV and result.specimen in settings.specimens


@dataclass(frozen=True)
class CmvTestDay:
    """All CMV blood results of one sampling day, judged together."""

    on: date
    judgement: Judgement
    result_ids: tuple[int, ...]
    qualifying_ids: tuple[int, ...]

    @property
    def known(self) -> bool:
        return self.judgement is not Judgement.NOT_COMPARABLE


def cmv_test_days(results: Iterable[LoadResult], settings: EndpointSettings) -> list[CmvTestDay]:
    """The CMV blood test days in date order, each judged (see 'One sampling day')."""
    blood = sorted((r for r in results if is_cmv_blood(r, settings)),
                   key=lambda r: (r.sampled_on, r.id))
    days: list[CmvTestDay] = []
    for on, group in itertools.groupby(blood, key=lambda r: r.sampled_on):
        judged = [(r, judge_result(r, settings)) for r in group]
        verdicts = {j for _, j in judged}
        qualifying = tuple(r.id for r, j in judged if j is Judgement.QUALIFIES)
        if qualifying:
            verdict = Judgement.QUALIFIES
        elif Judgement.NOT_COMPARABLE in verdicts:
            verdict = Judgement.NOT_COMPARABLE
        elif verdicts == {Judgement.NEGATIVE}:
            verdict = Judgement.NEGATIVE
        else:
            verdict = Judgement.BELOW_THRESHOLD
        days.append(CmvTestDay(on, verdict, tuple(r.id for r, _ in judged), qualifying))
    return days


def not_comparable_result_ids(results: Iterable[LoadResult], settings: EndpointSettings) -> tuple[int, ...]:
    """CMV blood results that cannot be judged against the threshold (to report)."""
    return tuple(sorted(r.id for r in results if is_cmv_blood(r, settings)
                        and judge_result(r, settings) is Judgement.NOT_COMPARABLE))


# --- derived values -------------------------------------------------------------------


@dataclass(frozen=True)
class Prevalence:
    """DNAemia at or before D0 (within the window): prevalent, not incident."""

    on: date
    day: int
    source_result_ids: tuple[int, ...]


@dataclass(frozen=True)
class Reactivation:
    """First incident CMV reactivation under the threshold setting."""

    on: date
    day: int
    source_result_ids: tuple[int, ...]
    confirmed_on: date | None = None  # second consecutive detection, when required


@dataclass(frozen=True)
class Clearance:
    on: date
    days_from_onset: int
    source_result_ids: tuple[int, ...]


@dataclass(frozen=True)
class Recurrence:
    on: date
    day: int
    negative_since: date
    source_result_ids: tuple[int, ...]  # the new detection and the negatives of the gap


class CsCmviReason(StrEnum):
    END_ORGAN_DISEASE = "end_organ_disease"
    PRE_EMPTIVE_THERAPY = "pre_emptive_therapy"


@dataclass(frozen=True)
class ClinicallySignificantInfection:
    on: date
    day: int
    reason: CsCmviReason
    source_result_ids: tuple[int, ...] = ()
    source_course_ids: tuple[int, ...] = ()
    source_disease_ids: tuple[int, ...] = ()


class RefractoryStatus(StrEnum):
    REFRACTORY = "refractory"
    PROBABLE_REFRACTORY = "probable_refractory"
    RESPONDING = "responding"
    NOT_EVALUABLE = "not_evaluable"


_SEVERITY: Final = {
    RefractoryStatus.NOT_EVALUABLE: 0,
    RefractoryStatus.RESPONDING: 1,
    RefractoryStatus.PROBABLE_REFRACTORY: 2,
    RefractoryStatus.REFRACTORY: 3,
}


@dataclass(frozen=True)
class RefractoryAssessment:
    """One therapy (contiguous treatment courses) judged for refractoriness."""

    therapy_started_on: date
    therapy_ended_on: date | None
    course_ids: tuple[int, ...]
    status: RefractoryStatus
    classified_on: date | None = None  # sampling date of the result that decided
    therapy_day: int | None = None  # days from the therapy's start to that result
    log10_change: Decimal | None = None  # decided result's log10 minus the baseline's
    baseline_result_id: int | None = None
    assay_id: int | None = None
    specimen: Specimen | None = None
    source_result_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class PeakLoad:
    specimen: Specimen
    on: date
    day: int
    iu_per_ml: Decimal
    log10_iu_per_ml: Decimal
    source_result_ids: tuple[int, ...]
    not_comparable_result_ids: tuple[int, ...] = ()


# --- rules ----------------------------------------------------------------------------


def prevalent_dnaemia(results: Iterable[LoadResult], d0: date,
                      settings: EndpointSettings) -> Prevalence | None:
    """DNAemia from D-window to D0 inclusive, or None. Dated by the latest such day."""
    start = d0 - timedelta(days=settings.prevalence_window_days)
    days = [d for d in cmv_test_days(results, settings)
            if start <= d.on <= d0 and d.judgement is Judgement.QUALIFIES]
    if not days:
        return None
    ids = tuple(sorted(i for d in days for i in d.qualifying_ids))
    return Prevalence(days[-1].on, study_day(d0, days[-1].on), ids)


def first_reactivation(results: Iterable[LoadResult], d0: date,
                       settings: EndpointSettings) -> Reactivation | None:
    """The first incident reactivation from day 1, or None (see 'First reactivation')."""
    known = [d for d in cmv_test_days(results, settings) if d.known and d.on > d0]
    for index, day in enumerate(known):
        if day.judgement is not Judgement.QUALIFIES:
            continue
        if settings.consecutive_detections == 1:
            return Reactivation(day.on, study_day(d0, day.on), day.qualifying_ids)
        following = known[index + 1] if index + 1 < len(known) else None
        if following is not None and following.judgement is Judgement.QUALIFIES:
            ids = tuple(sorted(day.qualifying_ids + following.qualifying_ids))
            return Reactivation(day.on, study_day(d0, day.on), ids, confirmed_on=following.on)
    return None


def last_known_test(results: Iterable[LoadResult], settings: EndpointSettings,
                    until: date | None = None) -> CmvTestDay | None:
    """The last CMV blood test that could be judged (on or before `until`)."""
    known = [d for d in cmv_test_days(results, settings)
             if d.known and (until is None or d.on <= until)]
    return known[-1] if known else None


def time_to_clearance(results: Iterable[LoadResult], onset: date,
                      settings: EndpointSettings) -> Clearance | None:
    """The first negative test day after `onset`, or None while DNAemia persists."""
    for day in cmv_test_days(results, settings):
        if day.on > onset and day.judgement is Judgement.NEGATIVE:
            return Clearance(day.on, (day.on - onset).days, day.result_ids)
    return None


def recurrences(results: Iterable[LoadResult], d0: date,
                settings: EndpointSettings) -> list[Recurrence]:
    """Recurrent infections after the first episode seen from D-window on."""
    start = d0 - timedelta(days=settings.prevalence_window_days)
    days = [d for d in cmv_test_days(results, settings) if d.on >= start]
    found: list[Recurrence] = []
    in_episode = False
    seen_episode = False
    negatives: list[CmvTestDay] = []  # the negative run since the last clearance
    for day in days:
        if day.judgement is Judgement.QUALIFIES:
            if seen_episode and not in_episode and negatives:
                first_negative = negatives[0].on
                checkpoints = [d.on for d in negatives] + [day.on]
                surveilled = all(
                    (later - earlier).days <= settings.surveillance_max_interval_days
                    for earlier, later in itertools.pairwise(checkpoints)
                )
                if (day.on - first_negative).days >= settings.recurrence_gap_days and surveilled:
                    ids = tuple(sorted(day.qualifying_ids
                                       + tuple(i for d in negatives for i in d.result_ids)))
                    found.append(Recurrence(day.on, study_day(d0, day.on), first_negative, ids))
            in_episode = seen_episode = True
            negatives = []
        elif day.judgement is Judgement.NEGATIVE:
            if seen_episode:
                in_episode = False
                negatives.append(day)
        elif seen_episode and not in_episode:
            # A detection below the threshold, or an unknown result, inside the gap:
            # the gap is not "without detection"; it must start again.
            negatives = []
    return found


def clinically_significant_infection(
    results: Iterable[LoadResult],
    courses: Iterable[TherapyCourse],
    episodes: Iterable[DiseaseEpisode],
    d0: date,
    settings: EndpointSettings,
) -> ClinicallySignificantInfection | None:
    """The first csCMVi from D-window on (see 'Clinically significant infection')."""
    start = d0 - timedelta(days=settings.prevalence_window_days)
    candidates: list[ClinicallySignificantInfection] = []
    for episode in episodes:
        if episode.certainty in COUNTED_CERTAINTIES and episode.diagnosed_on >= start:
            candidates.append(ClinicallySignificantInfection(
                episode.diagnosed_on, study_day(d0, episode.diagnosed_on),
                CsCmviReason.END_ORGAN_DISEASE, source_disease_ids=(episode.id,)))
    detections = [r for r in results if is_cmv_blood(r, settings)
                  and r.state is not ResultState.NOT_DETECTED]
    for course in courses:
        if (course.indication is not AntiviralIndication.PRE_EMPTIVE
                or course.drug not in TREATMENT_DRUGS or course.started_on < start):
            continue
        lookback = course.started_on - timedelta(days=settings.pre_emptive_lookback_days)
        ids = tuple(sorted(r.id for r in detections if lookback <= r.sampled_on <= course.started_on))
        if ids:
            candidates.append(ClinicallySignificantInfection(
                course.started_on, study_day(d0, course.started_on),
                CsCmviReason.PRE_EMPTIVE_THERAPY, source_result_ids=ids,
                source_course_ids=(course.id,)))
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.on, c.reason is not CsCmviReason.END_ORGAN_DISEASE))


def peak_load(results: Iterable[LoadResult], d0: date, specimen: Specimen,
              settings: EndpointSettings) -> PeakLoad | None:
    """Highest CMV load of `specimen` from D0 to the horizon, in IU/mL (see 'Peak load')."""
    end = d0 + timedelta(days=settings.horizon_days)
    window = [r for r in results if r.virus is Virus.CMV and r.specimen is specimen
              and d0 <= r.sampled_on <= end and r.state is ResultState.QUANTIFIED]
    convertible = [(r, r.iu_per_ml) for r in window]
    comparable = [(r, load) for r, load in convertible if load is not None]
    left_out = tuple(sorted(r.id for r, load in convertible if load is None))
    if not comparable:
        return None
    best, load = max(comparable, key=lambda item: (item[1], -item[0].sampled_on.toordinal()))
    return PeakLoad(specimen, best.sampled_on, study_day(d0, best.sampled_on), load,
                    log10_load(load), (best.id,), left_out)


def _therapies(courses: Iterable[TherapyCourse]) -> list[list[TherapyCourse]]:
    """Treatment courses merged when they overlap or follow within one day."""
    treatment = sorted((c for c in courses if c.drug in TREATMENT_DRUGS
                        and c.indication in TREATMENT_INDICATIONS),
                       key=lambda c: (c.started_on, c.id))
    merged: list[list[TherapyCourse]] = []
    current_end: date | None = None
    for course in treatment:
        if merged and (current_end is None or course.started_on <= current_end + timedelta(days=1)):
            merged[-1].append(course)
            if current_end is not None:
                current_end = None if course.ended_on is None else max(current_end, course.ended_on)
            continue
        merged.append([course])
        current_end = course.ended_on
    return merged


def _therapy_end(group: Sequence[TherapyCourse]) -> date | None:
    ends = [c.ended_on for c in group]
    return None if any(e is None for e in ends) else max(e for e in ends if e is not None)


def _assess_series(baseline: LoadResult, series: Sequence[LoadResult],
                   ) -> tuple[RefractoryStatus, LoadResult | None, Decimal | None]:
    base_log = baseline.log10
    assert base_log is not None
    first_status: RefractoryStatus | None = None
    first: tuple[LoadResult, Decimal | None] | None = None
    for result in series:
        change = None if result.log10 is None else result.log10 - base_log
        if change is not None and change > ONE_LOG10:
            return RefractoryStatus.REFRACTORY, result, change
        if first_status is None:
            persistent = change is not None and change >= -ONE_LOG10
            first_status = (RefractoryStatus.PROBABLE_REFRACTORY if persistent
                            else RefractoryStatus.RESPONDING)
            first = (result, change)
    if first_status is None or first is None:
        return RefractoryStatus.NOT_EVALUABLE, None, None
    return first_status, first[0], first[1]


def refractory_assessments(results: Iterable[LoadResult], courses: Iterable[TherapyCourse],
                           settings: EndpointSettings) -> list[RefractoryAssessment]:
    """One assessment per therapy (see 'Refractory and probable refractory')."""
    blood = sorted((r for r in results if is_cmv_blood(r, settings)),
                   key=lambda r: (r.sampled_on, r.id))
    out: list[RefractoryAssessment] = []
    min_days = settings.refractory_min_therapy_days
    for group in _therapies(courses):
        started_on = group[0].started_on
        ended_on = _therapy_end(group)
        course_ids = tuple(c.id for c in group)
        not_evaluable = RefractoryAssessment(started_on, ended_on, course_ids,
                                             RefractoryStatus.NOT_EVALUABLE)
        if ended_on is not None and (ended_on - started_on).days < min_days:
            out.append(not_evaluable)
            continue
        window_start = started_on - timedelta(days=settings.refractory_baseline_window_days)
        evaluated_from = started_on + timedelta(days=min_days)
        best: RefractoryAssessment = not_evaluable
        for (assay_id, specimen, _unit), series_iter in itertools.groupby(
            sorted(blood, key=lambda r: (r.assay_id, r.specimen.value, r.unit.value, r.sampled_on, r.id)),
            key=lambda r: (r.assay_id, r.specimen, r.unit),
        ):
            series = list(series_iter)
            baselines = [r for r in series if window_start <= r.sampled_on <= started_on
                         and r.state is ResultState.QUANTIFIED and r.value is not None]
            if not baselines:
                continue
            baseline = baselines[-1]
            evaluated = [r for r in series if r.sampled_on >= evaluated_from
                         and (ended_on is None or r.sampled_on <= ended_on)]
            status, decided, change = _assess_series(baseline, evaluated)
            if decided is None:
                continue
            candidate = RefractoryAssessment(
                started_on, ended_on, course_ids, status, decided.sampled_on,
                (decided.sampled_on - started_on).days, change, baseline.id, assay_id, specimen,
                (baseline.id, decided.id),
            )
            if _SEVERITY[candidate.status] > _SEVERITY[best.status]:
                best = candidate
        out.append(best)
    return out


# --- the time-to-event outcome --------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpFacts:
    """What the study knows of the end of follow-up (dates, all optional)."""

    last_contact_on: date | None = None
    died_on: date | None = None
    later_allo_hsct_on: date | None = None
    new_line_on: date | None = None
    withdrawn_on: date | None = None  # consent withdrawn, data kept: follow-up ends here


@dataclass(frozen=True)
class TimeToEvent:
    """One participant's outcome: `time` in days from D0 and `status` code."""

    time: int
    status: int
    event_on: date | None
    censoring_basis: str | None  # what the censoring time came from
    source_result_ids: tuple[int, ...] = field(default=())


def time_to_event(
    d0: date,
    reactivation: Reactivation | None,
    last_test: CmvTestDay | None,
    follow_up: FollowUpFacts,
    settings: EndpointSettings,
) -> TimeToEvent:
    """The primary endpoint's time and status.

    Status 1 is the first reactivation, competing events take their codes
    (``CompetingEvent.status``: death 2, later allo-HSCT 3, new line 4) when
    selected in the settings; on the same day a reactivation wins (its sample
    proves it happened), then death, then transplant, then new line. Events
    after the horizon, or after a withdrawal of consent, do not count.
    Without an event the participant is censored at the last known CMV test or
    at the last contact (the later of the last contact and the last test, the
    last test when no contact date is recorded), never after a withdrawal, and
    administratively at the horizon. Someone with no test after D0 is
    censored at day 0 (in the risk set at time 0 only).
    """
    horizon = settings.horizon_days
    limit = horizon
    if follow_up.withdrawn_on is not None:
        limit = min(limit, study_day(d0, follow_up.withdrawn_on))
    events: list[tuple[int, int, int, date, tuple[int, ...]]] = []
    if reactivation is not None:
        events.append((reactivation.day, 0, STATUS_REACTIVATION, reactivation.on,
                       reactivation.source_result_ids))
    dates = {
        CompetingEvent.DEATH: follow_up.died_on,
        CompetingEvent.LATER_ALLO_HSCT: follow_up.later_allo_hsct_on,
        CompetingEvent.NEW_LINE: follow_up.new_line_on,
    }
    for rank, event in enumerate(CompetingEvent, start=1):
        on = dates[event]
        if on is not None and event in settings.competing_events:
            events.append((study_day(d0, on), rank, event.status, on, ()))
    counted = [e for e in events if 0 <= e[0] <= limit]
    if counted:
        day, _rank, status, on, ids = min(counted, key=lambda e: (e[0], e[1]))
        return TimeToEvent(day, status, on, None, ids)
    test_day = None if last_test is None else max(0, study_day(d0, last_test.on))
    test_ids = () if last_test is None else last_test.result_ids
    if settings.censor_at is CensorAt.LAST_CMV_TEST or follow_up.last_contact_on is None:
        time, basis, ids = (test_day or 0), "last_cmv_test", test_ids
    else:
        contact_day = max(0, study_day(d0, follow_up.last_contact_on))
        if test_day is not None and test_day > contact_day:
            time, basis, ids = test_day, "last_cmv_test", test_ids
        else:
            time, basis, ids = contact_day, "last_contact", ()
    if time >= limit:
        basis = "horizon" if limit == horizon else "withdrawal"
        time = max(limit, 0)
    return TimeToEvent(time, STATUS_CENSORED, None, basis, ids)


# --- everything for one participant ----------------------------------------------------------


@dataclass(frozen=True)
class CmvEndpoints:
    """Every derived CMV endpoint of one participant."""

    prevalence: Prevalence | None
    reactivation: Reactivation | None
    clearance: Clearance | None
    recurrences: tuple[Recurrence, ...]
    clinically_significant: ClinicallySignificantInfection | None
    refractory: tuple[RefractoryAssessment, ...]
    peaks: tuple[PeakLoad, ...]
    last_test: CmvTestDay | None
    not_comparable_result_ids: tuple[int, ...]

    @property
    def worst_refractory_status(self) -> RefractoryStatus | None:
        if not self.refractory:
            return None
        return max((a.status for a in self.refractory), key=_SEVERITY.__getitem__)


def derive_endpoints(
    d0: date,
    results: Sequence[LoadResult],
    courses: Sequence[TherapyCourse],
    episodes: Sequence[DiseaseEpisode],
    settings: EndpointSettings,
    *,
    follow_up_ends_on: date | None = None,
) -> CmvEndpoints:
    """All endpoints of one participant. Results after `follow_up_ends_on` (e.g. a
    withdrawal of consent) are ignored."""
    if follow_up_ends_on is not None:
        results = [r for r in results if r.sampled_on <= follow_up_ends_on]
    reactivation = first_reactivation(results, d0, settings)
    return CmvEndpoints(
        prevalence=prevalent_dnaemia(results, d0, settings),
        reactivation=reactivation,
        clearance=None if reactivation is None else time_to_clearance(results, reactivation.on, settings),
        recurrences=tuple(recurrences(results, d0, settings)),
        clinically_significant=clinically_significant_infection(results, courses, episodes, d0, settings),
        refractory=tuple(refractory_assessments(results, courses, settings)),
        peaks=tuple(p for s in settings.specimens
                    if (p := peak_load(results, d0, s, settings)) is not None),
        last_test=last_known_test(results, settings),
        not_comparable_result_ids=not_comparable_result_ids(results, settings),
    )
