"""Aalen–Johansen cumulative incidence with cmprsk- and survfit-exact variances.

Notation, per distinct observed time ``t_j`` (ascending): ``Y_j`` subjects at
risk, ``d1_j`` events of the cause of interest, ``d2_j`` events of any other
cause, ``d_j = d1_j + d2_j``, ``c_j`` censorings.  Events at ``t_j`` are
counted before censorings at ``t_j``.

* All-cause (event-free) Kaplan–Meier: ``S_j = S_{j-1} (1 - d_j / Y_j)``.
* Cumulative incidence (Aalen–Johansen):
  ``F_j = F_{j-1} + S_{j-1} d1_j / Y_j``.

Two variances are offered:

``variance="aalen"``
    The Aalen-type estimator of R's ``cmprsk::cuminc`` (Fortran routine
    ``cinc``), reproduced term by term: running sums ``v1, v2, v3`` pick up
    one contribution per time with events, and the variance is
    ``v1 + F^2 v3 - 2 F v2``.  cmprsk reports this only at times with an
    event of the cause of interest, and its step function is flat in between;
    the ``variance`` column here is that same step function (it is *not*
    re-evaluated at times with only competing events or censorings).
``variance="delta"``
    The infinitesimal-jackknife variance that ``survival::survfit`` reports
    for a multi-state (competing-risks) fit (square of its ``std.err``): the
    sum over subjects of the squared influence of each subject on ``F``.
    Subjects that leave at the same time in the same way share an influence
    path, and after leaving, a subject's influence on ``F`` is an affine
    function of ``F`` itself, so the sum is kept with three running sums and
    costs O(number of distinct times).

Both are O(number of distinct times) after a single tabulation pass (a
``np.bincount`` for whole-day follow-up, no sort at all).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from trialdb.stats._confint import CONF_TYPES, probability_interval
from trialdb.stats._data import (
    FloatArray,
    Table,
    check_durations,
    tabulate,
    validate_cause,
    validate_events,
    validate_groups,
)

VarianceMethod = Literal["aalen", "delta"]

__all__ = [
    "cumulative_incidence",
    "cumulative_incidence_by_group",
    "kaplan_meier_complement",
]

COLUMNS: tuple[str, ...] = (
    "at_risk",
    "events",
    "events_competing",
    "censored",
    "estimate",
    "variance",
    "std_err",
    "lower",
    "upper",
    "event_free_survival",
)
"""Columns of every frame returned by :func:`cumulative_incidence`."""


def _safe_divide(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _tie_factor(d: FloatArray, y: FloatArray) -> FloatArray:
    """cmprsk's small-sample factor ``1 - (d - 1) / (Y - 1)`` (1 when d <= 1)."""
    out = np.ones_like(d)
    many = d > 1
    out[many] = 1.0 - (d[many] - 1.0) / (y[many] - 1.0)
    return out


def _aalen_variance(
    y: FloatArray,
    d1: FloatArray,
    d2: FloatArray,
    s_prev: FloatArray,
    s_now: FloatArray,
    f_now: FloatArray,
) -> FloatArray:
    """cmprsk ``cinc`` variance as a step function over the event-time table."""
    s2_over_y2 = s_prev * s_prev / (y * y)
    inv_s = _safe_divide(np.ones_like(s_now), s_now)
    alive = s_now > 0

    # Competing events (only while the all-cause survival stays positive).
    t6_c = np.where((d2 > 0) & alive, s2_over_y2 * _tie_factor(d2, y) * d2, 0.0)
    t3_c = inv_s
    t4_c = f_now * inv_s
    # Events of the cause of interest.
    t6_i = np.where(d1 > 0, s2_over_y2 * _tie_factor(d1, y) * d1, 0.0)
    t3_i = inv_s
    t4_i = 1.0 + t3_i * f_now

    v1 = np.cumsum(t4_c * t4_c * t6_c + t4_i * t4_i * t6_i)
    v2 = np.cumsum(t3_c * t4_c * t6_c + t3_i * t4_i * t6_i)
    v3 = np.cumsum(t3_c * t3_c * t6_c + t3_i * t3_i * t6_i)
    at_event = v1 + f_now * f_now * v3 - 2.0 * f_now * v2

    # Step function: value at the last time with an event of interest.
    has = d1 > 0
    last = np.maximum.accumulate(np.where(has, np.arange(y.size), -1))
    return np.where(last >= 0, at_event[np.maximum(last, 0)], 0.0)


def _delta_variance(
    y: FloatArray,
    d: FloatArray,
    d1: FloatArray,
    n_cens: FloatArray,
    s_prev: FloatArray,
    s_now: FloatArray,
    f_now: FloatArray,
) -> FloatArray:
    """Infinitesimal-jackknife variance of ``F`` (survfit's multi-state std.err^2)."""
    lam = d / y
    lam1 = d1 / y
    remaining = y - d  # still at risk just after t_j, plus the censored at t_j
    alive = remaining > 0

    # Influence on S(t_j) of one subject still at risk after t_j:
    #   A_S(t_j) = A_S(t_{j-1}) (1 - lam_j) + S(t_{j-1}) lam_j / Y_j,
    # which is S(t_j) * cumsum(d / (Y (Y - d))) while S(t_j) > 0.  S can only
    # reach 0 at the last time, where A_S(t_j) = S(t_{j-1}) / Y_j.
    greenwood = np.cumsum(_safe_divide(d, y * remaining))
    a_s = np.where(alive, s_now * greenwood, s_prev / y)
    a_s_prev = np.concatenate(([0.0], a_s[:-1]))
    # Influence on F(t_j) of a subject at risk at t_j who does not fail then.
    a_f = np.cumsum(lam1 * (a_s_prev - s_prev / y))

    # Subjects leaving at t_j: their influence at t_j ...
    u_s_event = (1.0 - lam) * (a_s_prev - s_prev / y)  # any event
    u_f_event1 = a_f + s_prev / y  # event of the cause of interest
    # (competing event: u_f = a_f;  censored: u_s = a_s, u_f = a_f)
    # ... and afterwards u_f(t) = alpha + beta * F(t), beta = u_s / S(t_j).
    inv_s = _safe_divide(np.ones_like(s_now), s_now)
    beta_event = u_s_event * inv_s
    beta_cens = a_s * inv_s
    alpha_ev1 = u_f_event1 - beta_event * f_now
    alpha_ev2 = a_f - beta_event * f_now
    alpha_cens = a_f - beta_cens * f_now

    d2 = d - d1
    sum_aa = np.cumsum(
        d1 * alpha_ev1 * alpha_ev1 + d2 * alpha_ev2 * alpha_ev2 + n_cens * alpha_cens * alpha_cens
    )
    sum_ab = np.cumsum((d1 * alpha_ev1 + d2 * alpha_ev2) * beta_event + n_cens * alpha_cens * beta_cens)
    sum_bb = np.cumsum(d * beta_event * beta_event + n_cens * beta_cens * beta_cens)

    still = remaining - n_cens  # at risk after t_j
    return still * a_f * a_f + sum_aa + 2.0 * f_now * sum_ab + f_now * f_now * sum_bb


def _estimate_table(
    table: Table,
    cause: int,
    variance: str,
    conf_type: str,
    alpha: float,
) -> pd.DataFrame:
    if variance not in ("aalen", "delta"):
        raise ValueError(f"variance must be 'aalen' or 'delta', got {variance!r}")
    if conf_type not in CONF_TYPES:
        raise ValueError(
            f"conf_type must be one of {', '.join(repr(c) for c in CONF_TYPES)}; got {conf_type!r}"
        )
    y = table.at_risk.astype(np.float64)
    ev1 = table.column(cause)
    ev_all = table.all_events
    d1 = ev1.astype(np.float64)
    d = ev_all.astype(np.float64)
    d2 = d - d1

    s_now = np.cumprod((y - d) / y).astype(np.float64, copy=False)
    s_prev = np.concatenate(([1.0], s_now[:-1]))
    f_now = np.cumsum(s_prev * d1 / y).astype(np.float64, copy=False)

    if variance == "aalen":
        var = _aalen_variance(y, d1, d2, s_prev, s_now, f_now)
    else:
        var = _delta_variance(y, d, d1, table.censored.astype(np.float64), s_prev, s_now, f_now)
    var = np.maximum(var, 0.0)

    times = table.times
    at_risk = table.at_risk
    events = ev1
    competing = ev_all - ev1
    censored = table.censored
    if times[0] > 0:  # origin row, as cmprsk's curves start at (0, 0)
        times = np.concatenate(([0.0], times))
        at_risk = np.concatenate(([table.n], at_risk))
        zero = np.zeros(1, dtype=np.int64)
        events = np.concatenate((zero, events))
        competing = np.concatenate((zero, competing))
        censored = np.concatenate((zero, censored))
        f_now = np.concatenate(([0.0], f_now))
        s_now = np.concatenate(([1.0], s_now))
        var = np.concatenate(([0.0], var))

    se = np.sqrt(var)
    lower, upper = probability_interval(f_now, se, conf_type, alpha)
    frame = pd.DataFrame(
        {
            "at_risk": at_risk,
            "events": events,
            "events_competing": competing,
            "censored": censored,
            "estimate": f_now,
            "variance": var,
            "std_err": se,
            "lower": lower,
            "upper": upper,
            "event_free_survival": s_now,
        },
        index=pd.Index(times, name="time"),
    )
    assert tuple(frame.columns) == COLUMNS
    return frame


def _at_times(
    frame: pd.DataFrame,
    n: int,
    times: npt.ArrayLike,
    conf_type: str,
    alpha: float,
) -> pd.DataFrame:
    req = np.asarray(times, dtype=np.float64).ravel()
    if req.size == 0:
        raise ValueError("times is empty")
    if not np.isfinite(req).all():
        raise ValueError("times must be finite")
    if (req < 0).any():
        raise ValueError("times must be non-negative")
    if (np.diff(req) < 0).any():
        raise ValueError("times must be sorted in non-decreasing order")
    grid = frame.index.to_numpy(dtype=np.float64)
    pos = np.searchsorted(grid, req, side="right") - 1
    before = pos < 0
    take = np.maximum(pos, 0)

    def step(col: str, fill: float) -> FloatArray:
        vals = frame[col].to_numpy(dtype=np.float64)[take]
        return np.where(before, fill, vals)

    # Interval counts over (previous requested time, t]; at-risk = #{T >= t}.
    cum = frame[["events", "events_competing", "censored"]].cumsum().to_numpy()
    cum_at = np.where(before[:, None], 0, cum[take])
    interval = np.diff(np.vstack((np.zeros((1, 3), dtype=cum_at.dtype), cum_at)), axis=0)
    leaving = frame[["events", "events_competing", "censored"]].to_numpy().sum(axis=1)
    left_before = np.concatenate(([0], np.cumsum(leaving)))
    at_risk = n - left_before[np.searchsorted(grid, req, side="left")]

    est = step("estimate", 0.0)
    var = step("variance", 0.0)
    se = np.sqrt(var)
    lower, upper = probability_interval(est, se, conf_type, alpha)
    return pd.DataFrame(
        {
            "at_risk": at_risk.astype(np.int64),
            "events": interval[:, 0].astype(np.int64),
            "events_competing": interval[:, 1].astype(np.int64),
            "censored": interval[:, 2].astype(np.int64),
            "estimate": est,
            "variance": var,
            "std_err": se,
            "lower": lower,
            "upper": upper,
            "event_free_survival": step("event_free_survival", 1.0),
        },
        index=pd.Index(req, name="time"),
    )


def cumulative_incidence(
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    event_of_interest: int = 1,
    times: npt.ArrayLike | None = None,
    variance: VarianceMethod = "aalen",
    conf_type: str = "log-log",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence of one cause under competing risks.

    Parameters
    ----------
    durations
        Follow-up times (>= 0, finite; whole days in this study, ties allowed).
    events
        0 = censored, positive integer = cause of the event.
    event_of_interest
        The cause whose cumulative incidence is estimated; all other positive
        codes are competing events.
    times
        Optional non-decreasing evaluation times.  Without it, one row per
        distinct observed time, plus a row at time 0 (estimate 0) when no one
        leaves at time 0, mirroring the origin of cmprsk's curves.  With it,
        one row per requested time holding the right-continuous step values
        (the value at the last observed time <= t; before the first observed
        time the estimate and variance are 0).  ``at_risk`` is then the
        number with duration >= t and the count columns count what happened
        in (previous requested time, t].
    variance
        ``"aalen"``: R ``cmprsk::cuminc``'s variance (``var`` component).
        ``"delta"``: R ``survival::survfit``'s multi-state variance
        (infinitesimal jackknife; ``std.err^2``).  See the module docstring.
    conf_type
        ``"log-log"`` (default): ``est ** exp(±z * se / (est * log(est)))``,
        identical to ``survfit(conf.type = "log-log")`` and to the interval
        cmprsk users usually compute from ``cuminc``; ``"log"``:
        ``est * exp(±z * se / est)`` with the upper limit capped at 1, as
        ``survfit(conf.type = "log")``; ``"plain"``: ``est ± z * se`` clipped
        to [0, 1].  Limits are NaN where the transformation is undefined
        (estimate 0, or 1 for log-log), as R's ``NA``.
    alpha
        ``1 - alpha`` pointwise intervals.

    Returns
    -------
    pandas.DataFrame indexed by ``time`` with columns ``at_risk``, ``events``
    (cause of interest), ``events_competing``, ``censored``, ``estimate``,
    ``variance``, ``std_err``, ``lower``, ``upper`` and
    ``event_free_survival`` (all-cause Kaplan–Meier, so the cumulative
    incidences of all causes plus this column sum to 1).
    """
    d = check_durations(durations)
    e = validate_events(events, d.size)
    cause = validate_cause(event_of_interest)
    frame = _estimate_table(tabulate(d, e), cause, variance, conf_type, alpha)
    if times is None:
        return frame
    return _at_times(frame, d.size, times, conf_type, alpha)


def cumulative_incidence_by_group(
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    groups: npt.ArrayLike,
    event_of_interest: int = 1,
    times: npt.ArrayLike | None = None,
    variance: VarianceMethod = "aalen",
    conf_type: str = "log-log",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`cumulative_incidence` within each group (sorted group labels).

    Returns one frame with a ``(group, time)`` MultiIndex, the same columns as
    :func:`cumulative_incidence`.  A group in which the cause never occurs
    gets estimate 0 throughout (as cmprsk's flat curve).
    """
    d = check_durations(durations)
    e = validate_events(events, d.size)
    cause = validate_cause(event_of_interest)
    labels, codes = validate_groups(groups, d.size)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(labels.size + 1))
    parts: list[pd.DataFrame] = []
    for g in range(labels.size):
        idx = order[bounds[g] : bounds[g + 1]]
        dg = d[idx]
        frame = _estimate_table(tabulate(dg, e[idx]), cause, variance, conf_type, alpha)
        if times is not None:
            frame = _at_times(frame, dg.size, times, conf_type, alpha)
        parts.append(frame)
    return pd.concat(parts, keys=list(labels), names=["group", "time"])


def kaplan_meier_complement(
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    event_of_interest: int = 1,
    times: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """1 − Kaplan–Meier for one cause, treating competing events as censored.

    **For comparison only.**  Under competing risks this is *not* a
    cumulative incidence: it estimates the incidence in a hypothetical world
    where the competing events cannot happen, and it overestimates the
    Aalen–Johansen cumulative incidence (:func:`cumulative_incidence`)
    whenever competing events occur.  Computed with lifelines'
    ``KaplanMeierFitter``.

    Returns a frame indexed by ``time`` (lifelines' timeline, or the requested
    ``times`` as right-continuous step values) with the single column
    ``one_minus_km``.
    """
    from lifelines import KaplanMeierFitter

    d = check_durations(durations)
    e = validate_events(events, d.size)
    cause = validate_cause(event_of_interest)
    kmf = KaplanMeierFitter()
    kmf.fit(d, event_observed=(e == cause))
    if times is None:
        surv = kmf.survival_function_.iloc[:, 0]
        index = surv.index.to_numpy(dtype=np.float64)
        values = surv.to_numpy(dtype=np.float64)
    else:
        index = np.asarray(times, dtype=np.float64).ravel()
        if not np.isfinite(index).all() or (index < 0).any():
            raise ValueError("times must be finite and non-negative")
        values = np.asarray(kmf.survival_function_at_times(index), dtype=np.float64)
    return pd.DataFrame({"one_minus_km": 1.0 - values}, index=pd.Index(index, name="time"))
