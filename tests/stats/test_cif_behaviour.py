"""Behaviour of cumulative_incidence beyond the R fixtures.

Step-function lookups, input validation, agreement with lifelines on untied
data, and property tests against slow, loop-based reference implementations
of the two variance estimators.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialdb.stats import (
    cumulative_incidence,
    cumulative_incidence_by_group,
    kaplan_meier_complement,
)

# ---------------------------------------------------------------- slow references


def loop_cinc(durations: np.ndarray, events: np.ndarray, cause: int) -> pd.DataFrame:
    """Event-by-event loop over the distinct times, as cmprsk's cinc routine does."""
    times = np.unique(durations)
    n = durations.size
    surv, cif, v1, v2, v3, var = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
    rows = []
    for t in times:
        at_risk = float((durations >= t).sum())
        here = durations == t
        d1 = float((here & (events == cause)).sum())
        d2 = float((here & (events > 0) & (events != cause)).sum())
        if d1 + d2 > 0:
            surv_new = surv * (at_risk - d1 - d2) / at_risk
            cif += surv * d1 / at_risk
            if d2 > 0 and surv_new > 0:
                t5 = 1.0 - (d2 - 1.0) / (at_risk - 1.0) if d2 > 1 else 1.0
                t6 = surv * surv * t5 * d2 / at_risk**2
                v1 += (cif / surv_new) ** 2 * t6
                v2 += (1.0 / surv_new) * (cif / surv_new) * t6
                v3 += (1.0 / surv_new) ** 2 * t6
            if d1 > 0:
                t5 = 1.0 - (d1 - 1.0) / (at_risk - 1.0) if d1 > 1 else 1.0
                t6 = surv * surv * t5 * d1 / at_risk**2
                t3 = 1.0 / surv_new if surv_new > 0 else 0.0
                t4 = 1.0 + t3 * cif
                v1 += t4 * t4 * t6
                v2 += t3 * t4 * t6
                v3 += t3 * t3 * t6
                var = v1 + cif * cif * v3 - 2.0 * cif * v2
            surv = surv_new
        rows.append((t, cif, var))
    assert n > 0
    return pd.DataFrame(rows, columns=["time", "estimate", "variance"]).set_index("time")


def loop_jackknife(durations: np.ndarray, events: np.ndarray, cause: int) -> pd.Series:
    """Sum of squared per-subject influences on the Aalen–Johansen estimate."""
    n = durations.size
    u_s = np.zeros(n)
    u_f = np.zeros(n)
    surv = 1.0
    out = {}
    for t in np.unique(durations):
        risk = durations >= t
        y = risk.sum()
        ev = (durations == t) & (events > 0)
        ev1 = (durations == t) & (events == cause)
        lam = ev.sum() / y
        lam1 = ev1.sum() / y
        dlam = (ev - risk * lam) / y
        dlam1 = (ev1 - risk * lam1) / y
        u_f = u_f + u_s * lam1 + surv * dlam1
        u_s = u_s * (1 - lam) - surv * dlam
        surv *= 1 - lam
        out[float(t)] = float((u_f**2).sum())
    return pd.Series(out)


# ---------------------------------------------------------------- strategies

tied_data = st.integers(min_value=1, max_value=80).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 25), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(tied_data)
def test_aalen_variance_equals_loop(data: tuple[list[int], list[int]]) -> None:
    durations = np.asarray(data[0], dtype=float)
    events = np.asarray(data[1])
    for cause in (1, 2):
        ours = cumulative_incidence(durations, events, cause)
        ref = loop_cinc(durations, events, cause)
        at = ours.reindex(ref.index)
        np.testing.assert_allclose(at["estimate"], ref["estimate"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(at["variance"], ref["variance"], rtol=1e-9, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(tied_data)
def test_delta_variance_equals_jackknife_loop(data: tuple[list[int], list[int]]) -> None:
    durations = np.asarray(data[0], dtype=float)
    events = np.asarray(data[1])
    for cause in (1, 3):
        ours = cumulative_incidence(durations, events, cause, variance="delta")
        ref = loop_jackknife(durations, events, cause)
        at = ours.reindex(ref.index)
        np.testing.assert_allclose(at["variance"], ref.to_numpy(), rtol=1e-9, atol=1e-15)


@settings(max_examples=80, deadline=None)
@given(tied_data)
def test_estimates_are_probabilities_and_add_up(data: tuple[list[int], list[int]]) -> None:
    durations = np.asarray(data[0])
    events = np.asarray(data[1])
    total = None
    for cause in (1, 2, 3):
        frame = cumulative_incidence(durations, events, cause)
        est = frame["estimate"].to_numpy()
        assert ((est >= 0) & (est <= 1 + 1e-12)).all()
        assert (np.diff(est) >= -1e-15).all()
        assert (frame["variance"] >= 0).all()
        lo, hi = frame["lower"].to_numpy(), frame["upper"].to_numpy()
        ok = ~np.isnan(lo)
        assert (lo[ok] <= est[ok] + 1e-12).all() and (est[ok] <= hi[ok] + 1e-12).all()
        total = est if total is None else total + est
    assert total is not None
    np.testing.assert_allclose(total + frame["event_free_survival"], 1.0, atol=1e-12)


# ---------------------------------------------------------------- step behaviour


def small() -> tuple[np.ndarray, np.ndarray]:
    return np.array([1, 2, 2, 3, 5]), np.array([1, 2, 0, 1, 0])


def test_full_table_on_small_data() -> None:
    frame = cumulative_incidence(*small())
    assert list(frame.index) == [0.0, 1.0, 2.0, 3.0, 5.0]
    assert frame.index.name == "time"
    np.testing.assert_array_equal(frame["at_risk"], [5, 5, 4, 2, 1])
    np.testing.assert_array_equal(frame["events"], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(frame["events_competing"], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(frame["censored"], [0, 0, 1, 0, 1])
    np.testing.assert_allclose(frame["estimate"], [0, 0.2, 0.2, 0.5, 0.5], atol=1e-15)
    for col in ("at_risk", "events", "estimate", "variance", "lower", "upper"):
        assert col in frame.columns


def test_times_gives_right_continuous_steps() -> None:
    times = [0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 10]
    frame = cumulative_incidence(*small(), times=times)
    assert list(frame.index) == [float(t) for t in times]
    np.testing.assert_allclose(frame["estimate"], [0, 0, 0.2, 0.2, 0.2, 0.2, 0.5, 0.5, 0.5, 0.5], atol=1e-15)
    np.testing.assert_array_equal(frame["at_risk"], [5, 5, 5, 4, 4, 2, 2, 1, 1, 0])
    # counts in (previous requested time, t]
    np.testing.assert_array_equal(frame["events"], [0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(frame["censored"], [0, 0, 0, 0, 1, 0, 0, 0, 1, 0])
    full = cumulative_incidence(*small())
    assert frame["variance"].loc[2.5] == full["variance"].loc[2.0]
    assert frame["variance"].loc[10.0] == full["variance"].loc[5.0]


def test_times_before_first_observation_are_zero() -> None:
    frame = cumulative_incidence([3, 4, 4], [1, 1, 0], times=[0, 1, 2.999, 3])
    np.testing.assert_allclose(frame["estimate"], [0, 0, 0, 1 / 3])
    assert (frame["variance"].iloc[:3] == 0).all()
    assert frame["lower"].iloc[:3].isna().all()  # log-log limits undefined at 0


def test_times_must_be_sorted() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        cumulative_incidence(*small(), times=[3, 1])


def test_times_by_group() -> None:
    d, e = small()
    by = cumulative_incidence_by_group(d, e, ["a", "b", "a", "b", "a"], times=[1, 3])
    assert list(by.index.get_level_values("group")) == ["a", "a", "b", "b"]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("durations", "events", "message"),
    [
        ([1, -2, 3], [1, 0, 1], "non-negative"),
        ([1, np.nan, 3], [1, 0, 1], "missing or infinite"),
        ([1, np.inf, 3], [1, 0, 1], "missing or infinite"),
        ([1, 2, 3], [1, 0], "same length"),
        ([], [], "empty"),
        ([1, 2, 3], [1, -1, 1], "censored"),
        ([1, 2, 3], [1, 0.5, 1], "whole numbers"),
        ([1, 2, 3], [1, np.nan, 1], "missing"),
        (["a", "b"], [1, 0], "real numbers"),
        ([[1, 2]], [[1, 0]], "1-D"),
    ],
)
def test_invalid_input_raises(durations: object, events: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cumulative_incidence(durations, events)  # type: ignore[arg-type]


def test_invalid_options_raise() -> None:
    d, e = small()
    with pytest.raises(ValueError, match="event_of_interest"):
        cumulative_incidence(d, e, event_of_interest=0)
    with pytest.raises(ValueError, match="variance"):
        cumulative_incidence(d, e, variance="greenwood")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="conf_type"):
        cumulative_incidence(d, e, conf_type="arcsin")
    with pytest.raises(ValueError, match="alpha"):
        cumulative_incidence(d, e, alpha=1.5)
    with pytest.raises(ValueError, match="same length"):
        cumulative_incidence_by_group(d, e, ["a", "b"])


def test_pandas_input_and_float_days_match_integers() -> None:
    d, e = small()
    a = cumulative_incidence(d, e)
    b = cumulative_incidence(pd.Series(d.astype(float)), pd.Series(e))
    c = cumulative_incidence(d + 0.25, e)  # non-integral times: sorting path
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_allclose(c["estimate"].to_numpy()[1:], a["estimate"].to_numpy()[1:])


def test_unobserved_cause_gives_zero_curve() -> None:
    frame = cumulative_incidence(*small(), event_of_interest=7)
    assert (frame["estimate"] == 0).all() and (frame["variance"] == 0).all()


# ---------------------------------------------------------------- lifelines


def test_matches_lifelines_aalen_johansen_without_ties() -> None:
    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(5)
    n = 300
    durations = rng.exponential(50.0, n)
    events = rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3])
    assert np.unique(durations).size == n
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lifelines would warn if it had to jitter
        ajf = AalenJohansenFitter(calculate_variance=False).fit(durations, events, event_of_interest=1)
    theirs = ajf.cumulative_density_.iloc[:, 0]
    ours = cumulative_incidence(durations, events, 1, times=theirs.index.to_numpy())
    np.testing.assert_allclose(ours["estimate"], theirs.to_numpy(), rtol=0, atol=1e-12)


def test_kaplan_meier_complement_is_labelled_and_overestimates() -> None:
    rng = np.random.default_rng(9)
    durations = rng.integers(0, 60, 400)
    events = rng.choice([0, 1, 2], 400)
    km = kaplan_meier_complement(durations, events, 1)
    assert list(km.columns) == ["one_minus_km"]
    aj = cumulative_incidence(durations, events, 1, times=km.index.to_numpy())
    assert (km["one_minus_km"].to_numpy() >= aj["estimate"].to_numpy() - 1e-12).all()
    assert km["one_minus_km"].iloc[-1] > aj["estimate"].iloc[-1]
    # Without competing events 1 - KM is the Aalen–Johansen estimate.
    only1 = np.where(events == 2, 0, events)
    km1 = kaplan_meier_complement(durations, only1, 1, times=[10, 30, 59])
    aj1 = cumulative_incidence(durations, only1, 1, times=[10, 30, 59])
    np.testing.assert_allclose(km1["one_minus_km"], aj1["estimate"], atol=1e-12)
