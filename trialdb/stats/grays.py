"""Gray's k-sample test for equality of cumulative incidence functions.

This reproduces the test reported in ``cmprsk::cuminc(...)$Tests`` (Fortran
routines ``crstm``/``crst``, R. J. Gray, Ann. Statist. 1988), including the
weight ``(1 - F(t-))^rho``, the small-sample tie corrections of cmprsk, and
stratification (scores and their covariance are summed over strata).

For ``k`` groups the score vector of the first ``k - 1`` groups (labels
sorted) and its estimated covariance ``V`` give ``s' V^-1 s``, referred to a
chi-square distribution with ``k - 1`` degrees of freedom.  The scores of all
``k`` groups sum to zero, so the statistic does not depend on which group is
left out.  Everything is vectorised over the distinct event times: per time
and group the quantities of cmprsk's loop are arrays, and its running sums
are cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

from trialdb.stats._data import (
    FloatArray,
    IntArray,
    validate_cause,
    validate_durations,
    validate_events,
    validate_groups,
)

__all__ = ["GraysTestResult", "grays_test"]


@dataclass(frozen=True)
class GraysTestResult:
    """Outcome of :func:`grays_test`.

    ``statistic`` is NaN when the score covariance matrix is singular (R's
    cmprsk reports -1 there); ``p_value`` is then NaN as well.
    """

    statistic: float
    p_value: float
    df: int
    event_of_interest: int
    groups: tuple[str, ...]
    n_strata: int


def _div(num: npt.NDArray[Any], den: npt.NDArray[Any]) -> FloatArray:
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _shift(x: FloatArray, first: float) -> FloatArray:
    """Values at the previous event time (left-continuous versions)."""
    out = np.empty_like(x)
    out[0] = first
    out[1:] = x[:-1]
    return out


def _stratum_scores(
    durations: FloatArray, status: IntArray, group: IntArray, n_groups: int, rho: float
) -> tuple[FloatArray, FloatArray]:
    """Score vector (length ng - 1) and covariance for one stratum (cmprsk ``crst``)."""
    ng = n_groups
    ng1 = ng - 1
    times, inverse = np.unique(durations, return_inverse=True)
    inverse = inverse.ravel()
    n_t = times.size
    counts = np.bincount((inverse * ng + group) * 3 + status, minlength=n_t * ng * 3).reshape(n_t, ng, 3)
    leaving = counts.sum(axis=2)
    rs_all = leaving.sum(axis=0)[None, :] - np.concatenate(
        (np.zeros((1, ng), dtype=np.int64), np.cumsum(leaving, axis=0)[:-1])
    )
    is_event = (counts[:, :, 1] + counts[:, :, 2]).sum(axis=1) > 0
    if not is_event.any():
        return np.zeros(ng1), np.zeros((ng1, ng1))
    rs = rs_all[is_event].astype(np.float64)
    d1 = counts[is_event, :, 1].astype(np.float64)
    d2 = counts[is_event, :, 2].astype(np.float64)
    at_risk = rs > 0

    # Per-group Kaplan-Meier (all causes) and cumulative incidence.
    skm = np.cumprod(np.where(at_risk, _div(rs - d1 - d2, rs), 1.0), axis=0)
    skmm = np.vstack((np.ones((1, ng)), skm[:-1]))
    f1 = np.cumsum(np.where(at_risk, _div(skmm * d1, rs), 0.0), axis=0)
    f1m = np.vstack((np.zeros((1, ng)), f1[:-1]))

    t1 = np.where(at_risk, _div(rs, skmm), 0.0)
    tr = t1.sum(axis=1)
    tq = np.where(at_risk, _div(rs * (1.0 - f1m), skmm), 0.0).sum(axis=1)
    nd1 = d1.sum(axis=1)
    f = np.cumsum(nd1 / tr)
    fm = _shift(f, 0.0)
    fb = (1.0 - fm) ** rho

    # a[e] = fb (diag(t1) - t1 t1' / tr); c = running sum of a * nd1 / (tr (1 - F-)).
    a = -(fb / tr)[:, None, None] * t1[:, :, None] * t1[:, None, :]
    diag = np.arange(ng)
    a[:, diag, diag] += fb[:, None] * t1
    c = np.cumsum(a * (nd1 / (tr * (1.0 - fm)))[:, None, None], axis=0)

    # Scores of the first ng - 1 groups.
    expected = nd1[:, None] * _div(rs * (1.0 - f1m), skmm * tq[:, None])
    score = (fb[:, None] * np.where(at_risk, d1 - expected, 0.0)).sum(axis=0)[:ng1]

    # Variance: events of the cause of interest.
    t4 = np.where(skm > 0, 1.0 - _div((1.0 - f)[:, None] * np.ones((1, ng)), skm), 1.0)
    t5 = np.where(
        nd1[:, None] > 1,
        1.0 - _div((nd1 - 1.0)[:, None] * np.ones((1, ng)), tr[:, None] * skmm - 1.0),
        1.0,
    )
    t3 = np.where(
        at_risk & (nd1[:, None] > 0), t5 * skmm * _div(nd1[:, None] * np.ones((1, ng)), tr[:, None] * rs), 0.0
    )
    w = a[:, :ng1, :] - t4[:, None, :] * c[:, :ng1, :]  # [e, i, k]
    v3 = (t4 * t4 * t3).sum(axis=0)
    v2 = np.einsum("eik,ek->ik", w, t4 * t3)
    var = np.einsum("eik,ejk,ek->ij", w, w, t3)

    # Variance: competing events.
    t4b = _div((1.0 - f)[:, None] * np.ones((1, ng)), skm)
    t5b = np.where(d2 > 1, 1.0 - _div(d2 - 1.0, rs - 1.0), 1.0)
    t3b = np.where((skm > 0) & (d2 > 0), t5b * _div(skmm * skmm * d2, rs * rs), 0.0)
    q = t4b * t4b * t3b
    v3 += q.sum(axis=0)
    cs = c[:, :ng1, :]
    v2 -= np.einsum("eik,ek->ik", cs, q)
    var += np.einsum("eik,ejk,ek->ij", cs, cs, q)

    c_end = c[-1, :ng1, :]
    var += (c_end * v3[None, :]) @ c_end.T + c_end @ v2.T + v2 @ c_end.T
    return score, var


def grays_test(
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    groups: npt.ArrayLike,
    event_of_interest: int = 1,
    strata: npt.ArrayLike | None = None,
    rho: float = 0.0,
) -> GraysTestResult:
    """Gray's test that the cumulative incidence of one cause is equal across groups.

    Parameters
    ----------
    durations, events
        As for :func:`trialdb.stats.cumulative_incidence` (0 = censored).
    groups
        Group label per subject (at least two distinct labels).
    event_of_interest
        Cause compared between the groups.
    strata
        Optional stratum label per subject; the test then combines
        within-stratum scores, as ``cuminc(..., strata = )``.  ``None`` is
        one stratum (``strata = 1`` in cmprsk).
    rho
        Power of the weight ``(1 - F(t-))^rho``; cmprsk's default 0.

    Returns
    -------
    GraysTestResult with ``statistic``, ``p_value`` (upper chi-square tail)
    and ``df`` (number of groups - 1), equal to ``cuminc(...)$Tests``.
    """
    d = validate_durations(durations)
    e = validate_events(events, d.size)
    cause = validate_cause(event_of_interest)
    labels, gcode = validate_groups(groups, d.size)
    if labels.size < 2:
        raise ValueError("grays_test needs at least two groups")
    if not np.isfinite(rho):
        raise ValueError("rho must be finite")
    status = np.where(e == 0, 0, np.where(e == cause, 1, 2)).astype(np.int64)
    if strata is None:
        slabels = np.zeros(1)
        scode = np.zeros(d.size, dtype=np.int64)
    else:
        slabels, scode = validate_groups(strata, d.size, name="strata")

    ng = labels.size
    score = np.zeros(ng - 1)
    var = np.zeros((ng - 1, ng - 1))
    for k in range(slabels.size):
        idx = np.flatnonzero(scode == k)
        s_k, v_k = _stratum_scores(d[idx], status[idx], gcode[idx], ng, float(rho))
        score += s_k
        var += v_k

    df = ng - 1
    scale = float(np.abs(var).max()) if var.size else 0.0
    singular = scale == 0.0 or np.linalg.matrix_rank(var, tol=1e-7 * scale) < df
    if singular:
        stat = float("nan")
        p_value = float("nan")
    else:
        stat = float(score @ np.linalg.solve(var, score))
        p_value = float(chi2.sf(stat, df))
    return GraysTestResult(
        statistic=stat,
        p_value=p_value,
        df=df,
        event_of_interest=cause,
        groups=tuple(str(x) for x in labels),
        n_strata=int(slabels.size),
    )
