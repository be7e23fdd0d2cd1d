"""Shared pieces of the regression models: input checks, result table, EPV warning."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

__all__ = [
    "MIN_EVENTS_PER_VARIABLE",
    "LowEventsPerVariableWarning",
    "check_events_per_variable",
    "coefficient_table",
    "require_columns",
]

MIN_EVENTS_PER_VARIABLE = 10
"""Rule of thumb: fewer events of interest per covariate than this warns."""


class LowEventsPerVariableWarning(UserWarning):
    """Fewer than 10 events of interest per covariate: estimates may be unstable."""


def check_events_per_variable(n_events: int, n_covariates: int, model: str) -> None:
    """Warn with :class:`LowEventsPerVariableWarning` when events / covariates < 10."""
    if n_covariates <= 0:
        return
    epv = n_events / n_covariates
    if epv < MIN_EVENTS_PER_VARIABLE:
        warnings.warn(
            LowEventsPerVariableWarning(
                f"{model}: {n_events} events of interest for {n_covariates} covariate(s) "
                f"({epv:.1f} per covariate, fewer than {MIN_EVENTS_PER_VARIABLE}); "
                "coefficients and standard errors may be unreliable"
            ),
            stacklevel=3,
        )


def require_columns(data: pd.DataFrame, columns: Sequence[str], role: str = "column") -> None:
    """Raise ``ValueError`` naming missing columns or columns with missing values."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{role}(s) not in data: {', '.join(map(str, missing))}")
    for col in columns:
        series = data[col]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            raise ValueError(f"column {col!r} must be numeric, got dtype {series.dtype}")
        if series.isna().any():
            raise ValueError(
                f"column {col!r} has {int(series.isna().sum())} missing value(s); "
                "drop or impute them before fitting"
            )
        if not np.isfinite(series.to_numpy(dtype=np.float64)).all():
            raise ValueError(f"column {col!r} has infinite values")


def check_covariate_names(covariates: Sequence[str]) -> list[str]:
    """Covariates as a non-empty list of distinct column names."""
    if isinstance(covariates, str):
        raise ValueError("covariates must be a list of column names, not a single string")
    names = list(covariates)
    if not names:
        raise ValueError("at least one covariate is needed")
    if len(set(names)) != len(names):
        raise ValueError("covariates contains duplicate names")
    return names


def coefficient_table(
    names: Sequence[str],
    coef: npt.ArrayLike,
    se: npt.ArrayLike,
    alpha: float,
) -> pd.DataFrame:
    """Wald table: ``coef``, ``se``, ``hr = exp(coef)``, HR limits, two-sided ``p``."""
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    b = np.asarray(coef, dtype=np.float64)
    s = np.asarray(se, dtype=np.float64)
    z = float(norm.ppf(1.0 - alpha / 2.0))
    return pd.DataFrame(
        {
            "coef": b,
            "se": s,
            "hr": np.exp(b),
            "lower": np.exp(b - z * s),
            "upper": np.exp(b + z * s),
            "p": 2.0 * norm.sf(np.abs(b / s)),
        },
        index=pd.Index(list(names), name="covariate"),
    )
