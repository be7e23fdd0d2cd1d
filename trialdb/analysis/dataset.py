"""The time-to-event dataset and the long data for time-varying covariates.

Pure functions over :class:`~trialdb.analysis.loading.ParticipantData`: the
database is read once by :func:`~trialdb.analysis.loading.load_cohort`.

The analysis set
    One row per participant whose status puts them in the analysis
    (included, completed, died, lost to follow-up, withdrawn with data kept)
    and who has an infusion (D0). Participants who withdrew with their data
    excluded are left out without a trace but their count. Participants with
    prevalent DNAemia (at or before D0) are never in the analysis set:
    with ``prevalent_cases: report_apart`` they are listed in
    :attr:`TimeToEventDataset.prevalent` with their endpoints; with
    ``exclude`` they are only counted among the exclusions.
Outcome columns
    ``time`` (days from D0, at most the horizon) and ``status`` (0 censored,
    1 CMV reactivation, 2 death without reactivation, 3 later allogeneic
    transplant, 4 new line of therapy; 3 and 4 only when selected in the
    settings) from :func:`trialdb.study.endpoints.time_to_event`, whose
    docstring gives the rules for ties, day 0 and censoring.
    ``source_result_ids`` names the viral-load results behind the event (or
    behind the censoring at the last test); every secondary endpoint column
    has its ``*_source_result_ids`` (ids separated by spaces).
Baseline covariates
    Measured in the baseline window, D-7 to D0 (``BASELINE_WINDOW_DAYS``),
    the value closest to D0: lymphopenia (< 500 lymphocytes/µL),
    hypogammaglobulinaemia (IgG < 4 g/L), TTV log10 (copies/mL; not detected
    counts 0, below LLOQ half the LLOQ, missing LLOQ: missing). Age in
    completed years at D0 from the birth year and month; paediatric below 18.
    ``disease_all`` is 1 for ALL, 0 for a B-cell lymphoma, missing otherwise.
    Corticosteroids and letermovir happen after D0, so as baseline
    covariates they are bounded by the participant's own follow-up:
    ``corticosteroids_any`` and ``corticosteroid_dose_pred_eq_mg``
    (prednisone-equivalent cumulative dose) count days from D-7 to the day
    before the event or censoring; ``letermovir_prophylaxis`` is a
    prophylactic letermovir course started by day 7 and before the event.
    These carry the usual immortal-time caveat; the time-varying model
    (:func:`long_data`) is the correct way to relate exposure to hazard.
Long data
    Counting-process rows (start, stop] per participant of the analysis set,
    split where a covariate changes: ``ttv_log10_lagged`` is the last TTV
    result sampled at least ``ttv_lag_days`` before the interval starts
    (missing before the first), ``corticosteroids`` is 1 when a course
    covers the interval's start day. The status applies at the last stop.
    Participants with time 0 have no interval and are left out.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

import pandas as pd

from trialdb.analysis.loading import ParticipantData, SteroidCourse
from trialdb.study.endpoint_settings import (
    STATUS_LABELS,
    EndpointSettings,
    PrevalentCases,
)
from trialdb.study.endpoints import (
    CmvEndpoints,
    LoadResult,
    TimeToEvent,
    derive_endpoints,
    is_cmv_blood,
    time_to_event,
)
from trialdb.study.timeline import age_at, study_day
from trialdb.study.viral_load import log10_load
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    Corticosteroid,
    Disease,
    ResultState,
    Specimen,
    Virus,
)

BASELINE_WINDOW_DAYS: Final = 7
LYMPHOPENIA_PER_UL: Final = 500.0
HYPOGAMMAGLOBULINAEMIA_G_PER_L: Final = 4.0
LETERMOVIR_BASELINE_DAY: Final = 7
ADULT_AGE: Final = 18
#: Prednisone-equivalent mg per mg of each corticosteroid (usual anti-inflammatory
#: equivalences: prednisone 5 = prednisolone 5 = methylprednisolone 4 =
#: dexamethasone 0.75 = hydrocortisone 20).
PREDNISONE_EQUIVALENT: Final = {
    Corticosteroid.PREDNISONE: 1.0,
    Corticosteroid.PREDNISOLONE: 1.0,
    Corticosteroid.METHYLPREDNISOLONE: 5.0 / 4.0,
    Corticosteroid.DEXAMETHASONE: 5.0 / 0.75,
    Corticosteroid.HYDROCORTISONE: 5.0 / 20.0,
}
LYMPHOMAS: Final = frozenset({Disease.LBCL, Disease.FL, Disease.MCL, Disease.OTHER_B_LYMPHOMA})

#: Numeric covariates usable in the regression models.
MODEL_COVARIATES: Final = (
    "paediatric", "disease_all", "prior_allo_hsct", "crs_grade", "icans_grade", "tocilizumab",
    "corticosteroids_any", "corticosteroid_dose_pred_eq_mg", "letermovir_prophylaxis",
    "bridging", "prior_lines", "lymphopenia", "hypogammaglobulinaemia", "ttv_log10_baseline",
)

NAN: Final = math.nan


@dataclass(frozen=True)
class Exclusion:
    participant_id: int
    study_number: str | None  # None when the participant asked for their data to be left out
    reason: str


@dataclass
class TimeToEventDataset:
    """The analysis set (`data`), prevalent cases reported apart, and who was left out."""

    data: pd.DataFrame
    prevalent: pd.DataFrame
    exclusions: list[Exclusion]
    settings: EndpointSettings
    endpoints: dict[int, CmvEndpoints] = field(repr=False, default_factory=dict)
    withdrawn_data_excluded: int = 0  # counted only: their data are never read

    @property
    def settings_hash(self) -> str:
        return self.settings.settings_hash

    def exclusion_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.withdrawn_data_excluded:
            counts["withdrawn_data_excluded"] = self.withdrawn_data_excluded
        for item in self.exclusions:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts


# --- covariates -------------------------------------------------------------------------


def _nearest_before(d0: date, items: Iterable[tuple[date, Any]]) -> Any:
    """The value measured closest to D0 in the baseline window (D-7..D0), or None."""
    window = [(on, value) for on, value in items
              if d0 - timedelta(days=BASELINE_WINDOW_DAYS) <= on <= d0 and value is not None]
    if not window:
        return None
    return max(window, key=lambda item: item[0])[1]


@functools.lru_cache(maxsize=1 << 16)
def _log10_float(value: Any) -> float:
    """`log10_load(value)` as a float, remembered: the exact Decimal logarithm is
    costly and the same loads recur across a cohort (equal values, equal result)."""
    return float(log10_load(value))


def ttv_log10(result: LoadResult) -> float:
    """log10 TTV load (copies/mL): not detected 0, below LLOQ half the LLOQ, NaN if unknown."""
    if result.state is ResultState.NOT_DETECTED:
        return 0.0
    if result.state is ResultState.BELOW_LLOQ:
        return NAN if result.lloq is None else math.log10(float(result.lloq) / 2)
    # what LoadResult.log10 gives, as a float
    if result.state is not ResultState.QUANTIFIED or result.value is None:
        return NAN
    return _log10_float(result.value)


def _ttv_results(data: ParticipantData, settings: EndpointSettings) -> list[LoadResult]:
    return sorted((r for r in data.results if r.virus is Virus.TTV and r.specimen in settings.specimens),
                  key=lambda r: (r.sampled_on, r.id))


def _steroid_days(course: SteroidCourse, first: date, last: date) -> int:
    """Days of `course` within [first, last] (an ongoing course runs to `last`)."""
    start = max(course.started_on, first)
    end = min(course.ended_on or last, last)
    return max(0, (end - start).days + 1)


def _flag(value: bool | None) -> float:
    return NAN if value is None else float(value)


def baseline_covariates(data: ParticipantData, outcome: TimeToEvent,
                        settings: EndpointSettings) -> dict[str, Any]:
    """The covariate columns of one participant's row (see the module's decisions)."""
    infusion = data.infusion
    assert infusion is not None
    d0 = infusion.d0
    age = age_at(data.birth_year, data.birth_month, d0)
    disease_group = ("ALL" if infusion.disease is Disease.ALL
                     else "lymphoma" if infusion.disease in LYMPHOMAS else "other")
    # corticosteroids from D-7 to the day before the event or censoring
    first = d0 - timedelta(days=BASELINE_WINDOW_DAYS)
    last = d0 + timedelta(days=outcome.time - 1)
    steroid_days = [(c, _steroid_days(c, first, last)) for c in data.steroids]
    dose = sum(days * c.daily_dose_mg * PREDNISONE_EQUIVALENT[c.drug] for c, days in steroid_days)
    letermovir = any(
        c.drug is Antiviral.LETERMOVIR and c.indication is AntiviralIndication.PROPHYLAXIS
        and study_day(d0, c.started_on) <= min(LETERMOVIR_BASELINE_DAY, outcome.time)
        for c in data.courses
    )
    lymphocytes = _nearest_before(d0, ((m.measured_on, m.lymphocytes_per_ul) for m in data.immune))
    igg = _nearest_before(d0, ((m.measured_on, m.igg_g_per_l) for m in data.immune))
    ttv = _nearest_before(d0, ((r.sampled_on, r) for r in _ttv_results(data, settings)))
    clinical = data.clinical
    return {
        "age_at_d0": age,
        "age_group": "adult" if age >= ADULT_AGE else "paediatric",
        "paediatric": float(age < ADULT_AGE),
        "disease": str(infusion.disease),
        "disease_group": disease_group,
        "disease_all": {"ALL": 1.0, "lymphoma": 0.0}.get(disease_group, NAN),
        "prior_allo_hsct": float(infusion.prior_allo_hsct),
        "product": str(infusion.product),
        "target_antigen": str(infusion.target_antigen),
        "crs_grade": NAN if clinical is None else float(clinical.crs_grade),
        "icans_grade": NAN if clinical is None else float(clinical.icans_grade),
        "tocilizumab": NAN if clinical is None else float(clinical.tocilizumab),
        "corticosteroids_any": float(any(days > 0 for _, days in steroid_days)),
        "corticosteroid_dose_pred_eq_mg": float(dose),
        "letermovir_prophylaxis": float(letermovir),
        "bridging": float(infusion.bridging_therapy),
        "lymphodepletion": str(infusion.lymphodepletion),
        "prior_lines": float(infusion.prior_lines),
        "lymphopenia": _flag(None if lymphocytes is None else lymphocytes < LYMPHOPENIA_PER_UL),
        "hypogammaglobulinaemia": _flag(None if igg is None else igg < HYPOGAMMAGLOBULINAEMIA_G_PER_L),
        "ttv_log10_baseline": NAN if ttv is None else ttv_log10(ttv),
    }


# --- the dataset --------------------------------------------------------------------------


def _ids(ids: Sequence[int]) -> str:
    return " ".join(str(i) for i in ids)


def _endpoint_columns(ends: CmvEndpoints) -> dict[str, Any]:
    peaks = {p.specimen: p for p in ends.peaks}
    worst = ends.worst_refractory_status
    reactivation, cscmvi, clearance = ends.reactivation, ends.clinically_significant, ends.clearance
    decisive = [a for a in ends.refractory if a.status is worst]
    row: dict[str, Any] = {
        "reactivation_day": NAN if reactivation is None else float(reactivation.day),
        "reactivation_source_result_ids": _ids(() if reactivation is None
                                               else reactivation.source_result_ids),
        "cscmvi_day": NAN if cscmvi is None else float(cscmvi.day),
        "cscmvi_reason": None if cscmvi is None else str(cscmvi.reason),
        "cscmvi_source_result_ids": "" if cscmvi is None else _ids(cscmvi.source_result_ids),
        "recurrences": len(ends.recurrences),
        "recurrence_source_result_ids": _ids([i for r in ends.recurrences for i in r.source_result_ids]),
        "refractory_status": None if worst is None else str(worst),
        "refractory_source_result_ids": _ids([i for a in decisive[:1] for i in a.source_result_ids]),
        "clearance_days": NAN if clearance is None else float(clearance.days_from_onset),
        "clearance_source_result_ids": "" if clearance is None else _ids(clearance.source_result_ids),
        "not_comparable_result_ids": _ids(ends.not_comparable_result_ids),
    }
    for specimen in (Specimen.PLASMA, Specimen.WHOLE_BLOOD):
        peak = peaks.get(specimen)
        row[f"peak_log10_iu_per_ml_{specimen.value}"] = (
            NAN if peak is None else float(peak.log10_iu_per_ml))
        row[f"peak_source_result_ids_{specimen.value}"] = "" if peak is None else _ids(peak.source_result_ids)
    return row


def build_time_to_event(cohort: Sequence[ParticipantData], settings: EndpointSettings,
                        *, withdrawn_data_excluded: int = 0) -> TimeToEventDataset:
    """The time-to-event dataset of the cohort under `settings` (see the module's decisions)."""
    rows: list[dict[str, Any]] = []
    prevalent_rows: list[dict[str, Any]] = []
    exclusions: list[Exclusion] = []
    endpoints: dict[int, CmvEndpoints] = {}
    for data in cohort:
        if data.data_excluded:
            exclusions.append(Exclusion(data.participant_id, None, "withdrawn_data_excluded"))
            continue
        if data.infusion is None:
            exclusions.append(Exclusion(data.participant_id, data.study_number, "no_infusion"))
            continue
        d0 = data.infusion.d0
        # Every endpoint rule reads only CMV blood results: filter once, not in each rule.
        cmv_blood = [r for r in data.results if is_cmv_blood(r, settings)]
        ends = derive_endpoints(d0, cmv_blood, data.courses, data.disease_episodes, settings,
                                follow_up_ends_on=data.withdrawn_on)
        endpoints[data.participant_id] = ends
        outcome = time_to_event(d0, ends.reactivation, ends.last_test, data.follow_up, settings)
        row: dict[str, Any] = {
            "participant_id": data.participant_id,
            "study_number": data.study_number,
            "site_code": data.site_code,
            "participant_status": str(data.status),
            "time": outcome.time,
            "status": outcome.status,
            "status_label": STATUS_LABELS[outcome.status],
            "censoring_basis": outcome.censoring_basis,
            "source_result_ids": _ids(outcome.source_result_ids),
            **_endpoint_columns(ends),
            **baseline_covariates(data, outcome, settings),
        }
        if ends.prevalence is not None:
            exclusions.append(Exclusion(data.participant_id, data.study_number, "prevalent_dnaemia"))
            if settings.prevalent_cases is PrevalentCases.REPORT_APART:
                row["prevalent_day"] = ends.prevalence.day
                row["prevalent_source_result_ids"] = _ids(ends.prevalence.source_result_ids)
                prevalent_rows.append(row)
            continue
        rows.append(row)
    return TimeToEventDataset(
        data=_frame(rows, settings, "analysis_set"),
        prevalent=_frame(prevalent_rows, settings, "prevalent_cases"),
        exclusions=exclusions,
        settings=settings,
        endpoints=endpoints,
        withdrawn_data_excluded=withdrawn_data_excluded,
    )


def _frame(rows: list[dict[str, Any]], settings: EndpointSettings, role: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["participant_id", "time", "status"])
    frame["settings_hash"] = settings.settings_hash
    frame = frame.astype({"time": "int64", "status": "int64"}) if len(frame) else frame
    frame.attrs.update({
        "settings_hash": settings.settings_hash,
        "settings": settings.as_json_dict(),
        "status_codes": {str(code): label for code, label in STATUS_LABELS.items()},
        "role": role,
    })
    return frame


# --- long data ----------------------------------------------------------------------------


def _steroid_on(courses: Sequence[SteroidCourse], on: date) -> float:
    return float(any(c.started_on <= on and (c.ended_on is None or on <= c.ended_on) for c in courses))


def participant_intervals(data: ParticipantData, time: int, status: int,
                          settings: EndpointSettings) -> list[dict[str, Any]]:
    """Counting-process rows of one participant followed for `time` days."""
    if time <= 0 or data.infusion is None:
        return []
    d0 = data.infusion.d0
    lag = settings.ttv_lag_days
    ttv = [(study_day(d0, r.sampled_on) + lag, ttv_log10(r)) for r in _ttv_results(data, settings)]
    cuts = {0, time}
    cuts.update(day for day, _ in ttv if 0 < day < time)
    for course in data.steroids:
        cuts.add(study_day(d0, course.started_on))
        if course.ended_on is not None:
            cuts.add(study_day(d0, course.ended_on) + 1)
    points = sorted(c for c in cuts if 0 <= c <= time)
    known_from = [day for day, _ in ttv]  # nondecreasing: results are in date order
    out = []
    for start, stop in itertools.pairwise(points):
        known = bisect.bisect_right(known_from, start)  # results known by `start`
        out.append({
            "participant_id": data.participant_id,
            "start": start,
            "stop": stop,
            "status": status if stop == time else 0,
            "ttv_log10_lagged": ttv[known - 1][1] if known else NAN,
            "corticosteroids": _steroid_on(data.steroids, d0 + timedelta(days=start)),
        })
    return out


def long_data(cohort: Sequence[ParticipantData], dataset: TimeToEventDataset) -> pd.DataFrame:
    """Counting-process data of the analysis set (see 'Long data')."""
    by_id = {d.participant_id: d for d in cohort}
    rows: list[dict[str, Any]] = []
    for pid, time, status in dataset.data[["participant_id", "time", "status"]].itertuples(index=False):
        rows.extend(participant_intervals(by_id[int(pid)], int(time), int(status), dataset.settings))
    frame = pd.DataFrame(rows, columns=["participant_id", "start", "stop", "status",
                                        "ttv_log10_lagged", "corticosteroids"])
    frame["settings_hash"] = dataset.settings_hash
    frame.attrs.update({"settings_hash": dataset.settings_hash, "role": "long_data",
                        "ttv_lag_days": dataset.settings.ttv_lag_days})
    return frame
