"""cumulative_incidence pinned to R (cmprsk::cuminc and survival::survfit).

Reference numbers come from tests/r/reference.R (committed under
tests/r/fixtures/); R is not needed to run these tests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from trialdb.stats import cumulative_incidence, cumulative_incidence_by_group

FIXTURES = Path(__file__).resolve().parents[1] / "r" / "fixtures"
DATASETS = ("mgus2", "ties", "zero", "alldie", "nocause", "three")

EST_ATOL = 1e-10
VAR_RTOL = 1e-8


@cache
def load(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"{name}.csv")


def subset(dataset: str, group: str) -> pd.DataFrame:
    data = load(dataset)
    return data if group == "(all)" else data[data["group"] == group]


def curves(table: str) -> list[tuple[str, str, int]]:
    ref = load(table)
    keys = ref[["dataset", "group", "cause"]].drop_duplicates()
    return [(str(d), str(g), int(c)) for d, g, c in keys.itertuples(index=False)]


def assert_var_close(ours: np.ndarray, ref: np.ndarray) -> None:
    np.testing.assert_allclose(ours, ref, rtol=VAR_RTOL, atol=0.0)


def test_fixtures_cover_every_dataset() -> None:
    assert set(load("cuminc")["dataset"]) == set(DATASETS)
    assert set(load("survfit")["dataset"]) == set(DATASETS)
    versions = load("versions").set_index("component")["version"]
    assert {"R", "survival", "cmprsk"} <= set(versions.index)


@pytest.mark.parametrize(("dataset", "group", "cause"), curves("cuminc"))
def test_aalen_matches_cuminc(dataset: str, group: str, cause: int) -> None:
    ref = load("cuminc")
    ref = ref[(ref["dataset"] == dataset) & (ref["group"] == group) & (ref["cause"] == cause)]
    # cuminc lists the corners of a step function; its value at a time is the
    # last entry for that time.
    steps = ref.groupby("time", sort=True).tail(1)
    data = subset(dataset, group)
    ours = cumulative_incidence(data["time"], data["status"], cause, variance="aalen")
    at = ours.reindex(steps["time"].to_numpy())
    assert not at["estimate"].isna().any()
    np.testing.assert_allclose(at["estimate"], steps["est"], rtol=0, atol=EST_ATOL)
    assert_var_close(at["variance"].to_numpy(), steps["var"].to_numpy())

    # The same values through the ``times=`` step-function interface, also
    # between and after cuminc's knots.
    grid = np.unique(np.concatenate([steps["time"].to_numpy(), steps["time"].to_numpy() + 0.5]))
    stepped = cumulative_incidence(data["time"], data["status"], cause, times=grid)
    knots = steps["time"].to_numpy()
    pos = np.searchsorted(knots, grid, side="right") - 1
    np.testing.assert_allclose(stepped["estimate"], steps["est"].to_numpy()[pos], rtol=0, atol=EST_ATOL)
    assert_var_close(stepped["variance"].to_numpy(), steps["var"].to_numpy()[pos])


@pytest.mark.parametrize(("dataset", "group", "cause"), curves("survfit"))
def test_delta_matches_survfit(dataset: str, group: str, cause: int) -> None:
    ref = load("survfit")
    ref = ref[(ref["dataset"] == dataset) & (ref["group"] == group) & (ref["cause"] == cause)]
    data = subset(dataset, group)
    log = cumulative_incidence(data["time"], data["status"], cause, variance="delta", conf_type="log")
    at = log.reindex(ref["time"].to_numpy())
    assert not at["estimate"].isna().any()
    np.testing.assert_array_equal(at["at_risk"], ref["n_risk"])
    np.testing.assert_allclose(at["estimate"], ref["pstate"], rtol=0, atol=EST_ATOL)
    np.testing.assert_allclose(at["event_free_survival"], ref["surv"], rtol=0, atol=EST_ATOL)
    assert_var_close(at["variance"].to_numpy(), ref["std_err"].to_numpy() ** 2)
    np.testing.assert_allclose(at["lower"], ref["lower_log"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(at["upper"], ref["upper_log"], rtol=1e-8, atol=1e-12)

    for conf_type, suffix in (("log-log", "loglog"), ("plain", "plain")):
        other = cumulative_incidence(
            data["time"], data["status"], cause, variance="delta", conf_type=conf_type
        ).reindex(ref["time"].to_numpy())
        np.testing.assert_allclose(other["lower"], ref[f"lower_{suffix}"], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(other["upper"], ref[f"upper_{suffix}"], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("variance", ["aalen", "delta"])
def test_by_group_equals_separate_fits(dataset: str, variance: Literal["aalen", "delta"]) -> None:
    data = load(dataset)
    causes = sorted(c for c in data["status"].unique() if c > 0)
    for cause in causes:
        by = cumulative_incidence_by_group(
            data["time"], data["status"], data["group"], cause, variance=variance
        )
        assert list(by.index.names) == ["group", "time"]
        for group in sorted(data["group"].unique()):
            sub = subset(dataset, group)
            alone = cumulative_incidence(sub["time"], sub["status"], cause, variance=variance)
            pd.testing.assert_frame_equal(by.loc[group], alone)


@pytest.mark.parametrize(("dataset", "group", "cause"), [c for c in curves("survfit") if c[1] != "(all)"])
def test_by_group_matches_survfit(dataset: str, group: str, cause: int) -> None:
    ref = load("survfit")
    ref = ref[(ref["dataset"] == dataset) & (ref["group"] == group) & (ref["cause"] == cause)]
    data = load(dataset)
    by = cumulative_incidence_by_group(
        data["time"], data["status"], data["group"], cause, variance="delta", conf_type="log"
    )
    at = by.loc[group].reindex(ref["time"].to_numpy())
    np.testing.assert_allclose(at["estimate"], ref["pstate"], rtol=0, atol=EST_ATOL)
    assert_var_close(at["variance"].to_numpy(), ref["std_err"].to_numpy() ** 2)


def test_group_without_the_cause_is_flat_zero() -> None:
    data = load("nocause")
    by = cumulative_incidence_by_group(data["time"], data["status"], data["group"], 2)
    flat = by.loc["B"]
    assert (flat["estimate"] == 0).all()
    assert (flat["variance"] == 0).all()
    assert flat["lower"].isna().all()  # log-log limits are undefined at 0, as R's NA
    # survfit agrees (the state exists in the overall fit, probability 0 in B).
    ref = load("survfit")
    ref = ref[(ref["dataset"] == "nocause") & (ref["group"] == "B") & (ref["cause"] == 2)]
    assert ref.empty or (ref["pstate"] == 0).all()


def test_event_at_time_zero_jumps_at_zero() -> None:
    data = load("zero")
    ours = cumulative_incidence(data["time"], data["status"], 1)
    assert ours.index[0] == 0
    n0 = int(((data["time"] == 0) & (data["status"] == 1)).sum())
    assert ours["events"].iloc[0] == n0
    assert ours["estimate"].iloc[0] == pytest.approx(n0 / len(data), abs=1e-15)
    ref = load("cuminc")
    ref = ref[(ref["dataset"] == "zero") & (ref["group"] == "(all)") & (ref["cause"] == 1)]
    at_zero = ref[ref["time"] == 0]["est"].iloc[-1]
    assert ours["estimate"].iloc[0] == pytest.approx(at_zero, abs=EST_ATOL)


def test_origin_row_added_when_nobody_leaves_at_zero() -> None:
    data = load("ties")
    data = data[data["time"] > 0]
    ours = cumulative_incidence(data["time"], data["status"], 1)
    first = ours.iloc[0]
    assert ours.index[0] == 0
    assert first["at_risk"] == len(data)
    assert first["estimate"] == 0 and first["variance"] == 0
    assert first["events"] == first["events_competing"] == first["censored"] == 0


def test_everyone_at_risk_fails_at_the_last_time() -> None:
    data = load("alldie")
    ours = cumulative_incidence(data["time"], data["status"], 1, variance="delta")
    last = ours.iloc[-1]
    assert last["at_risk"] == last["events"] + last["events_competing"]
    assert last["event_free_survival"] == 0
    total = sum(cumulative_incidence(data["time"], data["status"], k)["estimate"].iloc[-1] for k in (1, 2))
    assert total == pytest.approx(1.0, abs=1e-12)
