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
_MAX_DIRECT_EVENT_CODE = 255


def _as_1d(values: object, name: str) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D array-like, got a scalar")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    return arr


def check_durations(durations: object, name: str = "durations") -> npt.NDArray[Any]:
    """Validate follow-up times; integer input stays int64 (no float copy).

    Rejects empty input, non-numeric input, NaN, infinities and negatives.
    """
    arr = _as_1d(durations, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    kind = arr.dtype.kind
    if kind in "iu":
        out = arr.astype(np.int64, copy=False)
        lo = out.min()
    elif kind == "f":
        out = arr.astype(np.float64, copy=False)
        lo = out.min()
        hi = out.max()
        if np.isnan(lo) or np.isinf(hi) or np.isinf(lo):
            bad = ~np.isfinite(out)
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} contains {int(bad.sum())} missing or infinite value(s) "
                f"(first at position {first}); remove or impute them first"
            )
    else:
        raise ValueError(f"{name} must be real numbers, got dtype {arr.dtype}")
    if lo < 0:
        first = int(np.flatnonzero(out < 0)[0])
        raise ValueError(f"{name} must be non-negative; found {out[first]!r} at position {first}")
    return out


def validate_durations(durations: object, name: str = "durations") -> FloatArray:
    """Return ``durations`` as a float64 array; reject NaN, infinities, negatives."""
    return check_durations(durations, name).astype(np.float64, copy=False)


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


def _bincount_layout(durations: npt.NDArray[Any], width: int) -> tuple[int, int] | None:
    """(min, max) when the durations are whole numbers in a bincount-friendly range."""
    if width > _MAX_DIRECT_EVENT_CODE + 1:
        return None
    lo = durations.min()
    hi = durations.max()
    limit = _BINCOUNT_RANGE_FACTOR * durations.size + _BINCOUNT_RANGE_CONSTANT
    if (hi - lo + 1) * width > limit:
        return None
    if durations.dtype.kind == "f" and (hi >= 2.0**52 or not np.array_equal(durations, np.floor(durations))):
        return None
    return int(lo), int(hi)


def tabulate(durations: npt.NDArray[Any], events: IntArray) -> Table:
    """Tabulate validated data at the distinct observed times.

    Whole-day data are binned with one ``np.bincount`` over a combined
    (day, event code) key, with no sort at all; other data fall back to one
    ``np.unique`` sort.
    """
    n = durations.size
    max_code = int(events.max())
    width = max_code + 1
    layout = _bincount_layout(durations, width)
    if layout is not None:
        lo, hi = layout
        n_bins = hi - lo + 1
        if durations.dtype.kind == "f":
            key = ((durations - lo) * width).astype(np.intp)
        else:
            key = (durations - lo) * width if lo else durations * width
        key += events
        grid = np.bincount(key, minlength=n_bins * width).reshape(n_bins, width)
        occupied = np.flatnonzero(grid.any(axis=1))
        present: npt.NDArray[np.bool_] = np.asarray(grid.any(axis=0))
        present[0] = True
        codes = np.flatnonzero(present).astype(np.int64)
        counts = grid[occupied][:, codes] if codes.size < width else grid[occupied]
        times = (occupied + lo).astype(np.float64)
    else:
        times, inverse = np.unique(durations.astype(np.float64, copy=False), return_inverse=True)
        codes, code_col = np.unique(np.concatenate(([0], events)), return_inverse=True)
        code_col = code_col.ravel()[1:]
        width = codes.size
        flat = np.bincount(inverse.ravel() * width + code_col, minlength=times.size * width)
        counts = flat.reshape(times.size, width)
        codes = codes.astype(np.int64)
    counts = counts.astype(np.int64, copy=False)
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
