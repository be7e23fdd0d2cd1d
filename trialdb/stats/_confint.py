"""Pointwise confidence intervals for a probability, as R's ``survfit`` computes them.

With ``p`` the estimate, ``se`` its standard error and ``z`` the normal
quantile ``1 - alpha/2``:

``"log"``
    ``p * exp(-z * se / p)`` to ``min(1, p * exp(z * se / p))``.  Undefined
    (NaN) where ``p == 0``.  This is ``survfit(..., conf.type = "log")``, the
    default of R's ``survfit``.
``"log-log"``
    ``p ** exp(-z * se / (p * log p))`` to ``p ** exp(z * se / (p * log p))``,
    i.e. a symmetric interval for ``log(-log p)`` transformed back; the
    interval stays inside (0, 1).  Undefined (NaN) where ``p`` is 0 or 1.
    This is ``survfit(..., conf.type = "log-log")``; for a cumulative
    incidence it is also the formula cmprsk users conventionally apply to
    ``cuminc``'s ``est`` and ``sqrt(var)`` (cmprsk itself reports no
    intervals).
``"plain"``
    ``max(0, p - z * se)`` to ``min(1, p + z * se)``.

NaN limits follow R, where they are ``NA``.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import numpy as np

from trialdb.stats._data import FloatArray

ConfType = Literal["log-log", "log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")


def z_value(alpha: float) -> float:
    """Two-sided normal quantile for a ``1 - alpha`` interval."""
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def probability_interval(
    estimate: FloatArray, std_err: FloatArray, conf_type: str, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper pointwise limits (see the module docstring)."""
    z = z_value(alpha)
    p = np.asarray(estimate, dtype=np.float64)
    se = np.asarray(std_err, dtype=np.float64)
    # Overflow is a limit, not an error: a huge standard error near p = 1 sends
    # exp(-exp(...)) to exp(-inf) = 0, the lower limit R's survival gives too.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            width = z * se
            return np.maximum(p - width, 0.0), np.minimum(p + width, 1.0)
        if conf_type == "log":
            xx = np.where(p == 0.0, np.nan, p)
            se_log = np.where(se == 0.0, 0.0, se / xx)
            log_p = np.log(xx)
            lower = np.exp(log_p - z * se_log)
            upper = np.minimum(np.exp(log_p + z * se_log), 1.0)
            return lower, upper
        if conf_type == "log-log":
            xx = np.where((p == 0.0) | (p == 1.0), np.nan, p)
            se_log = np.where(se == 0.0, 0.0, se / xx)
            log_p = np.log(xx)
            shift = z * se_log / log_p
            log_mlog = np.log(-log_p)
            lower = np.exp(-np.exp(log_mlog - shift))
            upper = np.exp(-np.exp(log_mlog + shift))
            return lower, upper
    raise ValueError(f"conf_type must be one of {', '.join(repr(c) for c in CONF_TYPES)}; got {conf_type!r}")
