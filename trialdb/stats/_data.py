"""Input validation and tie-aware tabulation shared by the estimators.

Follow-up in this study is recorded in whole days, so tied times are the
rule.  Every estimator here works on the *distinct* observed times: the data
are tabulated once (per time: number at risk, events per cause, censorings)
and the estimators are then vectorised recursions over that table.  Within a
time, events are counted before censorings (a subject censored at ``t`` is
still at risk at ``t``), as in R's ``survival`` and ``cmprsk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Integer follow-up times whose range is at most this many times the sample
# size (plus a constant) are tabulated with ``np.bincount`` instead of a sort.
_BINCOUNT_RANGE_FACTOR = 8
_BINCOUNT_RANGE_CONSTANT = 1_000_000
# Event codes up to this value are tabulated with ``np.bincount`` directly.
_MAX_DIRECT_EVENT_CODE = 4096


def _as_1d(values: object, name: str) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D array-like, got a scalar")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    return arr


def validate_durations(durations: object, name: str = "durations") -> FloatArray:
    """Return ``durations`` as a float64 array; reject NaN, infinities, negatives."""
    arr = _as_1d(durations, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.number)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued")
    out = arr.astype(np.float64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(out)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} contains {int(bad.sum())} missing or infinite value(s) "
                f"(first at position {first}); remove or impute them first"
            )
    if out.min() < 0:
        first = int(np.flatnonzero(out < 0)[0])
        raise ValueError(f"{name} must be non-negative; found {out[first]!r} at position {first}")
    return out


def validate_events(events: object, n: int, name: str = "events") -> IntArray:
    """Return ``events`` as int64 codes (0 = censored, k > 0 = cause k)."""
    arr = _as_1d(events, name)
    if arr.size != n:
        raise ValueError(f"durations and {name} must have the same length, got {n} and {arr.size}")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(
            f"{name} must be integer codes (0 = censored, 1, 2, ... = causes), got dtype {arr.dtype}"
        )
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains missing or infinite values")
        if not np.array_equal(arr, np.floor(arr)):
            raise ValueError(f"{name} must be whole numbers (0 = censored, 1, 2, ... = causes)")
    out = arr.astype(np.int64, copy=False)
    if out.min() < 0:
        raise ValueError(f"{name} must be 0 (censored) or a positive cause code; found {out.min()}")
    return out


def validate_cause(event_of_interest: object) -> int:
    """Check that the cause of interest is a positive integer code."""
    if isinstance(event_of_interest, (bool, np.bool_)) or not isinstance(
        event_of_interest, (int, np.integer)
    ):
        raise ValueError(f"event_of_interest must be a positive integer, got {event_of_interest!r}")
    if int(event_of_interest) <= 0:
        raise ValueError(
            f"event_of_interest must be a positive cause code (0 means censored), got {event_of_interest}"
        )
    return int(event_of_interest)


@dataclass(frozen=True)
class Table:
    """Counts at the distinct observed times (ascending).

    ``counts[j, c]`` is the number of subjects leaving follow-up at
    ``times[j]`` with event code ``codes[c]`` (``codes[0]`` is always 0,
    censored, even when nobody is censored).
    """

    times: FloatArray
    at_risk: IntArray
    counts: IntArray
    codes: IntArray
    n: int

    def column(self, code: int) -> IntArray:
        """Counts of one event code per time (zeros if the code never occurs)."""
        hit = np.flatnonzero(self.codes == code)
        if hit.size == 0:
            return np.zeros(self.times.size, dtype=np.int64)
        return self.counts[:, int(hit[0])]

    @property
    def censored(self) -> IntArray:
        return self.counts[:, 0]

    @property
    def all_events(self) -> IntArray:
        return (
            self.counts[:, 1:].sum(axis=1)
            if self.codes.size > 1
            else np.zeros(self.times.size, dtype=np.int64)
        )


def _integral_range(durations: FloatArray) -> tuple[int, int] | None:
    """(min, max) if all durations are whole numbers in a bincount-friendly range."""
    lo = float(durations.min())
    hi = float(durations.max())
    span = hi - lo
    if span > _BINCOUNT_RANGE_FACTOR * durations.size + _BINCOUNT_RANGE_CONSTANT:
        return None
    if hi >= 2.0**52:
        return None
    if not np.array_equal(durations, np.floor(durations)):
        return None
    return int(lo), int(hi)


def tabulate(durations: FloatArray, events: IntArray) -> Table:
    """Tabulate validated data at the distinct observed times.

    Whole-day data are binned with ``np.bincount`` (no sort at all); other
    data fall back to one ``np.unique`` sort.
    """
    n = durations.size
    max_code = int(events.max())
    if max_code <= _MAX_DIRECT_EVENT_CODE:
        present = np.bincount(events, minlength=1) > 0
        present[0] = True
        codes = np.flatnonzero(present).astype(np.int64)
        code_index = np.cumsum(present) - 1  # event code -> column
        ev_col = code_index[events] if codes.size != max_code + 1 else events
    else:
        codes, ev_col = np.unique(np.concatenate(([0], events)), return_inverse=True)
        ev_col = ev_col[1:]
        codes = codes.astype(np.int64)
    n_codes = codes.size

    rng = _integral_range(durations)
    if rng is not None:
        lo, hi = rng
        n_bins = hi - lo + 1
        bins = (durations - lo if lo else durations).astype(np.intp)
        flat = np.bincount(bins * n_codes + ev_col, minlength=n_bins * n_codes)
        grid = flat.reshape(n_bins, n_codes)
        occupied = np.flatnonzero(grid.any(axis=1))
        times = (occupied + lo).astype(np.float64)
        counts = grid[occupied].astype(np.int64, copy=False)
    else:
        times, inverse = np.unique(durations, return_inverse=True)
        flat = np.bincount(inverse.ravel() * n_codes + ev_col, minlength=times.size * n_codes)
        counts = flat.reshape(times.size, n_codes).astype(np.int64, copy=False)
    leaving = counts.sum(axis=1)
    at_risk = n - np.concatenate(([0], np.cumsum(leaving)[:-1]))
    return Table(
        times=times.astype(np.float64, copy=False),
        at_risk=at_risk.astype(np.int64, copy=False),
        counts=counts,
        codes=codes,
        n=n,
    )


def validate_groups(groups: object, n: int, name: str = "groups") -> tuple[npt.NDArray[Any], IntArray]:
    """Return (sorted distinct labels, integer code per subject)."""
    arr = _as_1d(groups, name)
    if arr.size != n:
        raise ValueError(f"durations and {name} must have the same length, got {n} and {arr.size}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} contains missing values")
    if arr.dtype == object:
        for v in arr:
            if v is None or (isinstance(v, float) and np.isnan(v)):
                raise ValueError(f"{name} contains missing values")
    try:
        labels, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:  # mixed, unorderable labels
        raise ValueError(f"{name} labels must be mutually comparable: {exc}") from exc
    return labels, codes.ravel().astype(np.int64)
