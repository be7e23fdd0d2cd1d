"""Fine–Gray proportional subdistribution hazards model, as ``cmprsk::crr`` fits it.

Model and estimation follow crr (Fortran routines ``crrfsv``, ``crrvv``):

* Censoring weights: the Kaplan–Meier estimate ``G`` of the censoring
  distribution (censorings are the "events", failures of any cause are
  censored; at a tied time failures stay in G's risk set).  Each subject gets
  ``G(T_i-)``, evaluated exactly as crr does (the step function at
  ``T_i * (1 - 100 * eps)``, so ``G(0)`` itself for ``T_i = 0``).
* Risk set at a failure time ``t`` of the cause of interest: everyone with
  ``T_i >= t`` (weight 1) plus every subject with a *competing* event before
  ``t``, weighted by ``G(t-) / G(T_i-)``.
* Breslow handling of tied failure times; Newton–Raphson with step halving.
* Variance: crr's sandwich ``H^-1 (sum_i u_i u_i') H^-1``, where ``H`` is the
  observed information and ``u_i`` a subject's score residual (``eta_i``)
  plus the term for the estimated censoring distribution (``psi_i``).

Every risk-set sum is a cumulative sum over the time-sorted data (the
weighted competing-event part factorises into ``G(t-)`` times a running sum
of ``exp(x b) / G(T_i-)``), so one evaluation costs O(n p^2).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trialdb.stats._data import FloatArray, IntArray, validate_cause
from trialdb.stats._models import (
    check_covariate_names,
    check_events_per_variable,
    coefficient_table,
    require_columns,
)

__all__ = ["fine_gray"]


@dataclass(frozen=True)
class _Design:
    """Time-sorted data and the fixed (coefficient-free) pieces of the model."""

    x: FloatArray  # centred covariates, n x p, sorted by time
    time: FloatArray
    status: IntArray  # 1 = cause of interest, 2 = competing, 0 = censored
    g_minus: FloatArray  # G(T_i-) per subject
    fail_times: FloatArray  # distinct failure times of the cause of interest
    fail_count: FloatArray  # failures per distinct failure time
    fail_first: IntArray  # index of the first subject with T >= t_m
    fail_g: FloatArray  # G(t_m-)
    fail_x_sum: FloatArray  # sum of x over the failures at t_m (m x p)
    cens_first: IntArray  # per distinct censoring time u_l: first index with T >= u_l
    cens_count: FloatArray
    cens_at_risk: FloatArray


def _censoring_weights(time: FloatArray, censored: IntArray) -> tuple[FloatArray, FloatArray]:
    """Distinct times and G(t) there (Kaplan–Meier of the censoring times)."""
    times, first = np.unique(time, return_index=True)
    n = time.size
    at_risk = n - first
    n_cens = np.bincount(np.searchsorted(times, time[censored == 1]), minlength=times.size)
    g = np.cumprod(1.0 - n_cens / at_risk).astype(np.float64, copy=False)
    return times, g


def _design(time: FloatArray, status: IntArray, x: FloatArray) -> _Design:
    order = np.argsort(time, kind="stable")
    time = time[order]
    status = status[order]
    x = x[order]
    x = x - x.mean(axis=0)

    censored = (status == 0).astype(np.int64)
    g_times, g = _censoring_weights(time, censored)
    # crr: approx(..., xout = ftime * (1 - 100 eps), method = "constant", f = 0)
    xout = time * (1.0 - 100.0 * np.finfo(np.float64).eps)
    pos = np.searchsorted(g_times, xout, side="right") - 1
    g_minus = np.where(pos >= 0, g[np.maximum(pos, 0)], 1.0)

    fail = status == 1
    fail_times, fail_idx, fail_count = np.unique(time[fail], return_index=True, return_counts=True)
    fail_rows = np.flatnonzero(fail)
    fail_first = np.searchsorted(time, fail_times, side="left")
    fail_g = g_minus[fail_rows[fail_idx]]
    which = np.searchsorted(fail_times, time[fail])
    fail_x_sum = np.zeros((fail_times.size, x.shape[1]))
    np.add.at(fail_x_sum, which, x[fail])

    cens_times, cens_count = np.unique(time[status == 0], return_counts=True)
    cens_first = np.searchsorted(time, cens_times, side="left")
    return _Design(
        x=x,
        time=time,
        status=status,
        g_minus=g_minus,
        fail_times=fail_times,
        fail_count=fail_count.astype(np.float64),
        fail_first=fail_first.astype(np.int64),
        fail_g=fail_g,
        fail_x_sum=fail_x_sum,
        cens_first=cens_first.astype(np.int64),
        cens_count=cens_count.astype(np.float64),
        cens_at_risk=(time.size - cens_first).astype(np.float64),
    )


def _tail_sums(values: FloatArray) -> FloatArray:
    """``out[i] = values[i:].sum(axis=0)``, with a trailing zero row."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    out[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return out


def _head_sums(values: FloatArray) -> FloatArray:
    """``out[i] = values[:i].sum(axis=0)``, with a leading zero row."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    out[1:] = np.cumsum(values, axis=0)
    return out


@dataclass(frozen=True)
class _Sums:
    risk: FloatArray  # exp(eta), rescaled
    shift: float
    s0: FloatArray  # per failure time
    s1: FloatArray
    s2: FloatArray | None


def _risk_sums(des: _Design, beta: FloatArray, second: bool) -> _Sums:
    eta = des.x @ beta
    shift = float(eta.max())
    r = np.exp(eta - shift)
    comp = np.where(des.status == 2, r / des.g_minus, 0.0)
    x = des.x
    i = des.fail_first
    g = des.fail_g
    s0 = _tail_sums(r)[i] + g * _head_sums(comp)[i]
    s1 = _tail_sums(r[:, None] * x)[i] + g[:, None] * _head_sums(comp[:, None] * x)[i]
    s2: FloatArray | None = None
    if second:
        xx = x[:, :, None] * x[:, None, :]
        s2 = _tail_sums(r[:, None, None] * xx)[i] + g[:, None, None] * _head_sums(comp[:, None, None] * xx)[i]
    return _Sums(risk=r, shift=shift, s0=s0, s1=s1, s2=s2)


def _objective(des: _Design, beta: FloatArray) -> float:
    """Negative log partial likelihood (crr's ``crrf``)."""
    sums = _risk_sums(des, beta, second=False)
    d = des.fail_count
    return float(-(des.fail_x_sum @ beta).sum() + (d * (np.log(sums.s0) + sums.shift)).sum())


def _derivatives(des: _Design, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Negative log-likelihood, its gradient and Hessian (crr's ``crrfsv``)."""
    sums = _risk_sums(des, beta, second=True)
    assert sums.s2 is not None
    d = des.fail_count
    xbar = sums.s1 / sums.s0[:, None]
    value = float(-(des.fail_x_sum @ beta).sum() + (d * (np.log(sums.s0) + sums.shift)).sum())
    grad = -des.fail_x_sum.sum(axis=0) + (d[:, None] * xbar).sum(axis=0)
    hess = np.einsum("m,mij->ij", d, sums.s2 / sums.s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])
    return value, grad, hess


def _newton(des: _Design, p: int, max_iter: int, tol: float) -> tuple[FloatArray, bool, int]:
    beta = np.zeros(p)
    value, grad, hess = _derivatives(des, beta)
    for it in range(1, max_iter + 1):
        step = np.linalg.solve(hess, grad)
        if np.max(np.abs(step)) <= tol * max(1.0, float(np.max(np.abs(beta)))):
            return beta, True, it
        # Step halving (crr's rule), tolerant of rounding in the objective.
        slack = 1e-13 * max(1.0, abs(value))
        scale = 1.0
        for _ in range(40):
            cand = beta - scale * step
            new = _objective(des, cand)
            if np.isfinite(new) and new <= value - 1e-4 * scale * float(step @ grad) + slack:
                break
            scale *= 0.5
        else:
            return beta, False, it
        beta = cand
        value, grad, hess = _derivatives(des, beta)
    step = np.linalg.solve(hess, grad)
    converged = bool(np.max(np.abs(step)) <= tol * max(1.0, float(np.max(np.abs(beta)))))
    return beta, converged, max_iter


def _sandwich(des: _Design, beta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """crr's variance ``H^-1 V H^-1`` and the information ``H`` (``crrvv``)."""
    sums = _risk_sums(des, beta, second=True)
    assert sums.s2 is not None
    x = des.x
    r = sums.risk  # exp(eta - shift); the shift cancels in every ratio below
    d = des.fail_count
    s0 = sums.s0
    xbar = sums.s1 / s0[:, None]
    info = np.einsum("m,mij->ij", d, sums.s2 / s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])

    a = d / s0  # dLambda per failure time (times S0 scale)
    b = a[:, None] * xbar
    cum_a = _head_sums(a)
    cum_b = _head_sums(b)
    ag = a * des.fail_g
    bg = b * des.fail_g[:, None]
    cum_ag = _head_sums(ag)
    cum_bg = _head_sums(bg)

    # eta_i: dN part minus the dLambda part over the subject's (weighted) risk time.
    k = np.searchsorted(des.fail_times, des.time, side="right")  # failure times <= T_i
    eta_res = -(r[:, None] * (x * cum_a[k][:, None] - cum_b[k]))
    comp = des.status == 2
    tail_ag = cum_ag[-1] - cum_ag[k]
    tail_bg = cum_bg[-1] - cum_bg[k]
    w = np.where(comp, r / des.g_minus, 0.0)
    eta_res -= w[:, None] * (x * tail_ag[:, None] - tail_bg)
    fail = des.status == 1
    eta_res[fail] += x[fail] - xbar[k[fail] - 1]

    # psi_i: the censoring-distribution part.
    psi = np.zeros_like(x)
    if des.cens_first.size:
        comp_w = np.where(comp, r / des.g_minus, 0.0)
        c0 = _head_sums(comp_w)[des.cens_first]
        c1 = _head_sums(comp_w[:, None] * x)[des.cens_first]
        j = np.searchsorted(des.fail_times, des.time[des.cens_first], side="left")
        tail_ag_u = cum_ag[-1] - cum_ag[j]
        tail_bg_u = cum_bg[-1] - cum_bg[j]
        q = c1 * tail_ag_u[:, None] - c0[:, None] * tail_bg_u
        step = -(des.cens_count / des.cens_at_risk**2)[:, None] * q
        cum_step = _head_sums(step)
        cens_times = des.time[des.cens_first]
        li = np.searchsorted(cens_times, des.time, side="right")  # censoring times <= T_i
        psi = cum_step[li]
        cens = des.status == 0
        own = li[cens] - 1
        psi[cens] += q[own] / des.cens_at_risk[own][:, None]

    u = eta_res + psi
    middle = u.T @ u
    inv = np.linalg.inv(info)
    return inv @ middle @ inv, info


def fine_gray(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    event_of_interest: int = 1,
    covariates: Sequence[str] = (),
    alpha: float = 0.05,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> pd.DataFrame:
    """Fit the Fine–Gray subdistribution hazards model (``cmprsk::crr``).

    Parameters
    ----------
    data
        One row per subject.
    duration_col, event_col
        Follow-up time (>= 0) and event code (0 = censored, k > 0 = cause k).
    event_of_interest
        Cause whose subdistribution hazard is modelled (crr's ``failcode``);
        all other positive codes are competing events.
    covariates
        Numeric columns (no missing values; unlike crr nothing is dropped
        silently).
    alpha
        ``1 - alpha`` Wald intervals for the subdistribution hazard ratio.
    max_iter, tol
        Newton–Raphson limits: stop when every Newton step is below
        ``tol * max(1, max|coef|)``.

    Returns
    -------
    DataFrame indexed by covariate with ``coef``, ``se`` (crr's sandwich),
    ``hr`` (``exp(coef)``), ``lower``/``upper`` (limits for ``hr``) and the
    two-sided Wald ``p``.  ``frame.attrs`` holds ``n``, ``n_events``,
    ``converged``, ``iterations`` and ``loglik``.

    Warns
    -----
    LowEventsPerVariableWarning
        When events of interest per covariate are fewer than 10.
    """
    names = check_covariate_names(covariates)
    cause = validate_cause(event_of_interest)
    require_columns(data, [duration_col, event_col], role="column")
    require_columns(data, names, role="covariate")
    time = data[duration_col].to_numpy(dtype=np.float64)
    if (time < 0).any():
        raise ValueError(f"{duration_col!r} must be non-negative")
    ev = data[event_col].to_numpy(dtype=np.float64)
    if not np.array_equal(ev, np.floor(ev)) or (ev < 0).any():
        raise ValueError(f"{event_col!r} must hold 0 (censored) or positive integer causes")
    status = np.where(ev == 0, 0, np.where(ev == cause, 1, 2)).astype(np.int64)
    n_events = int((status == 1).sum())
    if n_events == 0:
        raise ValueError(f"no events of cause {cause} in {event_col!r}")
    x = data[names].to_numpy(dtype=np.float64)
    if x.shape[0] > 1 and (np.ptp(x, axis=0) == 0).any():
        const = [n for n, c in zip(names, np.ptp(x, axis=0) == 0, strict=True) if c]
        raise ValueError(f"covariate(s) without variation: {', '.join(const)}")
    check_events_per_variable(n_events, len(names), "fine_gray")

    des = _design(time, status, x)
    beta, converged, iterations = _newton(des, len(names), max_iter, tol)
    if not converged:
        warnings.warn(
            f"fine_gray: Newton-Raphson did not converge in {iterations} iteration(s); "
            "the estimates are unreliable (separation or too few events?)",
            UserWarning,
            stacklevel=2,
        )
    var, _info = _sandwich(des, beta)
    table = coefficient_table(names, beta, np.sqrt(np.diag(var)), alpha)
    table.attrs.update(
        {
            "n": int(time.size),
            "n_events": n_events,
            "converged": converged,
            "iterations": iterations,
            "loglik": -_objective(des, beta),
        }
    )
    return table
