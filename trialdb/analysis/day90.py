"""The primary analysis: cumulative incidence of CMV reactivation at day 90.

Used by ``trialdb analyze`` and meant for reports, exports and the API: one
call, :func:`run_day90_analysis`, reads the cohort, builds the datasets and
runs the estimators of :mod:`trialdb.stats` (nothing is estimated here):

* Aalen–Johansen cumulative incidence of status 1 with death (and any other
  selected competing event) competing, cmprsk's variance, log-log 95% CI, at
  days 30, 60 and the horizon, with the numbers at risk;
* Gray's test by age group (paediatric vs adult) and by disease (ALL vs
  lymphoma; other diseases left out of that comparison);
* cause-specific Cox and Fine–Gray models on :data:`DEFAULT_COVARIATES`
  (complete cases; a covariate without variation in the data is dropped and
  named), and a time-varying cause-specific Cox model on lagged log10 TTV and
  corticosteroid exposure (intervals with no TTV result yet are left out).
  Fewer than 10 events per covariate gives a warning, carried in the result.

A model that cannot be fitted (no event, no covariate varying) is reported
with its reason instead of failing the whole analysis.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from trialdb.analysis.dataset import TimeToEventDataset, build_time_to_event, long_data
from trialdb.analysis.loading import (
    ENDPOINT_VIRUSES,
    ParticipantData,
    count_withdrawn_data_excluded,
    load_cohort,
)
from trialdb.stats import (
    cause_specific_cox,
    cumulative_incidence,
    fine_gray,
    grays_test,
    time_varying_cause_specific_cox,
)
from trialdb.study.endpoint_settings import (
    STATUS_LABELS,
    STATUS_REACTIVATION,
    EndpointSettings,
    load_endpoint_settings,
)

DEFAULT_COVARIATES: Final = (
    "paediatric", "disease_all", "prior_allo_hsct", "corticosteroids_any", "letermovir_prophylaxis",
)
TIME_VARYING_COVARIATES: Final = ("ttv_log10_lagged", "corticosteroids")
REPORT_DAYS: Final = (30, 60)


def _number(value: Any) -> float | None:
    """A float for JSON: NaN and infinities become None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class ModelResult:
    name: str
    covariates: list[str]
    dropped: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    n: int = 0
    n_events: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        rows = []
        if self.table is not None:
            for name, row in self.table.iterrows():
                values = {col: _number(row[col]) for col in ("coef", "se", "hr", "lower", "upper", "p")}
                rows.append({"covariate": str(name), **values})
        return {"model": self.name, "covariates": self.covariates, "dropped": self.dropped,
                "n": self.n, "n_events": self.n_events, "coefficients": rows,
                "warnings": self.warnings, "error": self.error}


@dataclass
class GroupComparison:
    variable: str
    groups: dict[str, int]  # label -> number of participants
    statistic: float | None = None
    p_value: float | None = None
    df: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"variable": self.variable, "groups": self.groups, "statistic": _number(self.statistic),
                "p_value": _number(self.p_value), "df": self.df, "error": self.error}


@dataclass
class Day90Analysis:
    settings_hash: str
    horizon_days: int
    n: int
    n_prevalent: int
    exclusions: dict[str, int]
    events: dict[str, int]
    incidence: pd.DataFrame | None  # at REPORT_DAYS and the horizon
    d90: dict[str, float | None]
    group_tests: list[GroupComparison]
    models: list[ModelResult]

    def to_dict(self) -> dict[str, Any]:
        table = []
        if self.incidence is not None:
            for time, row in self.incidence.iterrows():
                table.append({"day": _number(time), "at_risk": int(row["at_risk"]),
                              **{c: _number(row[c]) for c in ("estimate", "lower", "upper", "std_err")}})
        return {
            "settings_hash": self.settings_hash,
            "horizon_days": self.horizon_days,
            "n": self.n,
            "n_prevalent_reported_apart": self.n_prevalent,
            "exclusions": self.exclusions,
            "events": self.events,
            "d90_cumulative_incidence": {**self.d90, "n": self.n,
                                         "events": self.events.get(STATUS_LABELS[STATUS_REACTIVATION], 0),
                                         "settings_hash": self.settings_hash},
            "cumulative_incidence": table,
            "grays_test": {g.variable: g.to_dict() for g in self.group_tests},
            "models": {m.name: m.to_dict() for m in self.models},
        }

    def render_text(self) -> str:
        return render_text(self)


def _fit(name: str, fitter: Any, frame: pd.DataFrame, covariates: Sequence[str],
         **kwargs: Any) -> ModelResult:
    cols = list(covariates)
    complete = frame.dropna(subset=cols)
    dropped = [c for c in cols if complete[c].nunique(dropna=True) < 2]
    kept = [c for c in cols if c not in dropped]
    # long data: n counts participants, not intervals
    n = int(complete["participant_id"].nunique()) if "start" in complete else len(complete)
    result = ModelResult(name, kept, dropped, n=n,
                         n_events=int((complete["status"] == STATUS_REACTIVATION).sum()))
    if not kept:
        result.error = "no covariate varies in the data"
        return result
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result.table = fitter(complete, covariates=kept, event_of_interest=STATUS_REACTIVATION,
                                  **kwargs)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as error:
            result.error = str(error)
        except Exception as error:  # lifelines raises ConvergenceError and others on bad data
            result.error = f"{type(error).__name__}: {error}"
    result.warnings = [str(w.message) for w in caught
                       if not issubclass(w.category, (DeprecationWarning, RuntimeWarning))]
    is_event = complete["status"] == STATUS_REACTIVATION
    for name in kept:
        levels = complete[name].dropna().unique()
        if len(levels) == 2:
            for level in sorted(levels):
                if not is_event[complete[name] == level].any():
                    result.warnings.append(
                        f"{name}: no CMV reactivation when {name} = {level:g}; its hazard ratio "
                        "tends to 0 or infinity (monotone likelihood) and its interval is not usable")
    return result


def _group_test(variable: str, frame: pd.DataFrame, keep: Sequence[str] | None = None) -> GroupComparison:
    data = frame if keep is None else frame[frame[variable].isin(keep)]
    counts = {str(k): int(v) for k, v in data[variable].value_counts().sort_index().items()}
    comparison = GroupComparison(variable, counts)
    if len(counts) < 2:
        comparison.error = "fewer than two groups"
        return comparison
    try:
        test = grays_test(data["time"].to_numpy(), data["status"].to_numpy(),
                          data[variable].astype(str).to_numpy(), event_of_interest=STATUS_REACTIVATION)
    except ValueError as error:
        comparison.error = str(error)
        return comparison
    comparison.statistic, comparison.p_value, comparison.df = test.statistic, test.p_value, test.df
    return comparison


def day90_analysis(dataset: TimeToEventDataset, long: pd.DataFrame | None = None,
                   covariates: Sequence[str] = DEFAULT_COVARIATES) -> Day90Analysis:
    """Run the primary analysis on a built dataset (and its long data)."""
    settings = dataset.settings
    frame = dataset.data
    horizon = settings.horizon_days
    events = {STATUS_LABELS[code]: int((frame["status"] == code).sum()) for code in sorted(STATUS_LABELS)
              if code == 0 or code in {STATUS_REACTIVATION} | {e.status for e in settings.competing_events}}
    incidence = None
    d90: dict[str, float | None] = {"estimate": None, "lower": None, "upper": None, "std_err": None}
    group_tests: list[GroupComparison] = []
    models: list[ModelResult] = []
    if len(frame):
        incidence = cumulative_incidence(frame["time"].to_numpy(), frame["status"].to_numpy(),
                                         event_of_interest=STATUS_REACTIVATION,
                                         times=[*(d for d in REPORT_DAYS if d < horizon), horizon])
        last = incidence.iloc[-1]
        d90 = {k: _number(last[k]) for k in ("estimate", "lower", "upper", "std_err")}
        d90["at_risk"] = float(last["at_risk"])
        group_tests = [_group_test("age_group", frame),
                       _group_test("disease_group", frame, keep=("ALL", "lymphoma"))]
        models = [
            _fit("cause_specific_cox", cause_specific_cox, frame, covariates,
                 duration_col="time", event_col="status"),
            _fit("fine_gray", fine_gray, frame, covariates, duration_col="time", event_col="status"),
        ]
        if long is not None:
            models.append(_fit("time_varying_cause_specific_cox", time_varying_cause_specific_cox,
                               long, TIME_VARYING_COVARIATES, id_col="participant_id",
                               start_col="start", stop_col="stop", event_col="status"))
    return Day90Analysis(
        settings_hash=dataset.settings_hash, horizon_days=horizon, n=len(frame),
        n_prevalent=len(dataset.prevalent), exclusions=dataset.exclusion_counts(), events=events,
        incidence=incidence, d90=d90, group_tests=group_tests, models=models,
    )


@dataclass
class AnalysisData:
    """The cohort as read, its time-to-event dataset and its long data."""

    cohort: list[ParticipantData]
    dataset: TimeToEventDataset
    long: pd.DataFrame


def load_analysis_data(session: Session, settings: EndpointSettings | None = None) -> AnalysisData:
    """Read the cohort and build both datasets under `settings` (default: forms/study.yaml)."""
    settings = settings or load_endpoint_settings()
    cohort = load_cohort(session, viruses=ENDPOINT_VIRUSES)
    dataset = build_time_to_event(cohort, settings,
                                  withdrawn_data_excluded=count_withdrawn_data_excluded(session))
    return AnalysisData(cohort, dataset, long_data(cohort, dataset))


def run_day90_analysis(session: Session, settings: EndpointSettings | None = None) -> Day90Analysis:
    """Read the cohort and run the primary analysis under `settings` (default: forms/study.yaml)."""
    data = load_analysis_data(session, settings)
    return day90_analysis(data.dataset, data.long)


# --- text ----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


def render_text(result: Day90Analysis) -> str:
    lines = [
        f"CMV reactivation after CAR-T: cumulative incidence at day {result.horizon_days}",
        f"settings hash {result.settings_hash}",
        f"analysis set: {result.n} participants; prevalent DNAemia reported apart: {result.n_prevalent}",
    ]
    if result.exclusions:
        lines.append("left out: " + ", ".join(f"{k} {v}" for k, v in sorted(result.exclusions.items())))
    lines.append("events: " + ", ".join(f"{k} {v}" for k, v in result.events.items()))
    d90 = result.d90
    if d90["estimate"] is None:
        lines.append(f"day {result.horizon_days}: not estimable (no participant in the analysis set)")
    else:
        lines.append(f"day {result.horizon_days}: {_fmt(d90['estimate'])} "
                     f"(95% CI {_fmt(d90['lower'])} to {_fmt(d90['upper'])})")
    if result.incidence is not None:
        lines += ["", f"{'day':>5} {'at risk':>8} {'CIF':>7} {'lower':>7} {'upper':>7}"]
        for time, row in result.incidence.iterrows():
            lines.append(f"{float(str(time)):>5.0f} {int(row['at_risk']):>8} "
                         f"{_fmt(_number(row['estimate'])):>7} {_fmt(_number(row['lower'])):>7} "
                         f"{_fmt(_number(row['upper'])):>7}")
    for test in result.group_tests:
        groups = ", ".join(f"{k} n={v}" for k, v in test.groups.items())
        outcome = (f"not tested: {test.error}" if test.error
                   else f"chi2 {_fmt(test.statistic)}, df {test.df}, p {_fmt(test.p_value, 4)}")
        lines += ["", f"Gray's test by {test.variable} ({groups}): {outcome}"]
    for model in result.models:
        lines += ["", f"{model.name}: n {model.n}, events {model.n_events}"]
        if model.dropped:
            lines.append(f"  dropped (no variation): {', '.join(model.dropped)}")
        lines += [f"  warning: {w}" for w in model.warnings]
        if model.error or model.table is None:
            lines.append(f"  not fitted: {model.error}")
            continue
        lines.append(f"  {'covariate':<32} {'HR':>8} {'lower':>8} {'upper':>8} {'p':>8}")
        for name, row in model.table.iterrows():
            lines.append(f"  {name!s:<32} {_fmt(_number(row['hr'])):>8} {_fmt(_number(row['lower'])):>8} "
                         f"{_fmt(_number(row['upper'])):>8} {_fmt(_number(row['p']), 4):>8}")
    return "\n".join(lines)
