"""Gray's test, Fine–Gray and cause-specific Cox pinned to R (fixtures from reference.R)."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialdb.stats import (
    GraysTestResult,
    LowEventsPerVariableWarning,
    cause_specific_cox,
    fine_gray,
    grays_test,
    time_varying_cause_specific_cox,
)

FIXTURES = Path(__file__).resolve().parents[1] / "r" / "fixtures"
MODEL_SETS = {"cov": ["x1", "x2", "x3", "x4"], "mgus2": ["age", "male", "hgb"]}
COLUMNS = ["coef", "se", "hr", "lower", "upper", "p"]


@cache
def load(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"{name}.csv")


def model_data(dataset: str) -> pd.DataFrame:
    # R dropped incomplete rows (na.omit) before fitting; do the same here.
    return load(dataset).dropna(subset=MODEL_SETS[dataset]).reset_index(drop=True)


def reference(dataset: str, model: str, cause: int) -> pd.DataFrame:
    ref = load("models")
    ref = ref[(ref["dataset"] == dataset) & (ref["model"] == model) & (ref["cause"] == cause)]
    assert not ref.empty
    return ref.set_index("term")


def gray_cases() -> list[tuple[str, str, int]]:
    ref = load("gray")
    return [(str(d), str(s), int(c)) for d, s, c in ref[["dataset", "strata", "cause"]].values]


# ---------------------------------------------------------------- Gray's test


@pytest.mark.parametrize(("dataset", "strata", "cause"), gray_cases())
def test_grays_test_matches_cuminc(dataset: str, strata: str, cause: int) -> None:
    ref = load("gray")
    row = ref[(ref["dataset"] == dataset) & (ref["strata"] == strata) & (ref["cause"] == cause)]
    data = load(dataset)
    result = grays_test(
        data["time"],
        data["status"],
        data["group"],
        cause,
        strata=None if strata == "none" else data[strata],
    )
    assert isinstance(result, GraysTestResult)
    assert result.statistic == pytest.approx(float(row["stat"].iloc[0]), abs=1e-8)
    assert result.p_value == pytest.approx(float(row["pv"].iloc[0]), abs=1e-8)
    assert result.df == int(row["df"].iloc[0])


def test_grays_test_three_groups_is_label_invariant() -> None:
    data = load("three")
    base = grays_test(data["time"], data["status"], data["group"], 1)
    assert base.df == 2
    relabel = data["group"].map({"g1": "z", "g2": "a", "g3": "m"})
    other = grays_test(data["time"], data["status"], relabel, 1)
    assert other.statistic == pytest.approx(base.statistic, rel=1e-10)


def test_grays_test_single_stratum_equals_no_strata() -> None:
    data = load("ties")
    plain = grays_test(data["time"], data["status"], data["group"], 2)
    one = grays_test(data["time"], data["status"], data["group"], 2, strata=np.ones(len(data)))
    assert one.statistic == pytest.approx(plain.statistic, rel=1e-12)
    assert one.n_strata == 1


def test_grays_test_result_is_frozen() -> None:
    data = load("ties")
    result = grays_test(data["time"], data["status"], data["group"])
    with pytest.raises(AttributeError):
        result.statistic = 0.0  # type: ignore[misc]


def test_grays_test_needs_two_groups() -> None:
    with pytest.raises(ValueError, match="at least two groups"):
        grays_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])


# ---------------------------------------------------------------- Fine–Gray


@pytest.mark.parametrize("dataset", sorted(MODEL_SETS))
@pytest.mark.parametrize("cause", [1, 2])
def test_fine_gray_matches_crr(dataset: str, cause: int) -> None:
    ref = reference(dataset, "crr", cause)
    covs = MODEL_SETS[dataset]
    fit = fine_gray(model_data(dataset), "time", "status", cause, covs)
    assert list(fit.columns) == COLUMNS
    assert list(fit.index) == covs
    assert fit.attrs["converged"]
    np.testing.assert_allclose(fit["coef"], ref.loc[covs, "coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit["se"], ref.loc[covs, "se"], rtol=1e-4, atol=0)
    np.testing.assert_allclose(fit["hr"], np.exp(fit["coef"]), rtol=1e-15)
    np.testing.assert_allclose(fit["p"], ref.loc[covs, "p"], rtol=1e-3, atol=1e-9)
    assert (fit["lower"] < fit["hr"]).all() and (fit["hr"] < fit["upper"]).all()


def test_fine_gray_is_invariant_to_row_order() -> None:
    data = model_data("cov")
    covs = MODEL_SETS["cov"]
    a = fine_gray(data, "time", "status", 1, covs)
    b = fine_gray(data.sample(frac=1.0, random_state=3), "time", "status", 1, covs)
    pd.testing.assert_frame_equal(a, b, rtol=1e-9, atol=1e-12)


def test_fine_gray_rejects_missing_covariates() -> None:
    data = load("mgus2")
    with pytest.raises(ValueError, match="missing value"):
        fine_gray(data, "time", "status", 1, ["age", "hgb"])
    with pytest.raises(ValueError, match="not in data"):
        fine_gray(data, "time", "status", 1, ["age", "nope"])


# ---------------------------------------------------------------- cause-specific Cox


@pytest.mark.parametrize("dataset", sorted(MODEL_SETS))
@pytest.mark.parametrize("cause", [1, 2])
def test_cause_specific_cox_matches_coxph_efron(dataset: str, cause: int) -> None:
    ref = reference(dataset, "coxph_efron", cause)
    covs = MODEL_SETS[dataset]
    fit = cause_specific_cox(model_data(dataset), "time", "status", cause, covs)
    assert list(fit.columns) == COLUMNS
    np.testing.assert_allclose(fit["coef"], ref.loc[covs, "coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit["se"], ref.loc[covs, "se"], rtol=1e-6, atol=0)
    assert fit.attrs["ties"] == "efron"


def test_cox_ties_are_efron_not_breslow() -> None:
    """lifelines uses Efron's ties: far from R's Breslow fit on tied data."""
    covs = MODEL_SETS["cov"]
    fit = cause_specific_cox(model_data("cov"), "time", "status", 1, covs)
    breslow = reference("cov", "coxph_breslow", 1)
    assert np.max(np.abs(fit["coef"].to_numpy() - breslow.loc[covs, "coef"].to_numpy())) > 1e-3


@pytest.mark.parametrize("cause", [1, 2])
def test_time_varying_cox_matches_coxph(cause: int) -> None:
    ref = reference("long", "coxph_efron", cause)
    covs = ["x1", "x3", "cmv"]
    fit = time_varying_cause_specific_cox(
        load("long"), "id", "start", "stop", "event", covs, event_of_interest=cause
    )
    assert list(fit.columns) == COLUMNS
    np.testing.assert_allclose(fit["coef"], ref.loc[covs, "coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit["se"], ref.loc[covs, "se"], rtol=1e-6, atol=0)


def test_time_varying_cox_rejects_empty_intervals() -> None:
    long = load("long").copy()
    long.at[0, "stop"] = float(long["start"].iloc[0])
    with pytest.raises(ValueError, match="start < stop"):
        time_varying_cause_specific_cox(long, "id", "start", "stop", "event", ["x1"])


# ---------------------------------------------------------------- events per variable


def small_model_data() -> pd.DataFrame:
    data = model_data("cov")
    cause1 = data.index[data["status"] == 1]
    keep = (data["status"] != 1) | data.index.isin(cause1[:25])  # 25 events, 4 covariates
    return data[keep]


@pytest.mark.parametrize("model", ["fine_gray", "cause_specific_cox"])
def test_low_events_per_variable_warns(model: str) -> None:
    data = small_model_data()
    covs = MODEL_SETS["cov"]
    n_events = int((data["status"] == 1).sum())
    assert n_events < 10 * len(covs)
    fn = fine_gray if model == "fine_gray" else cause_specific_cox
    with pytest.warns(LowEventsPerVariableWarning, match="per covariate"):
        fn(data, "time", "status", 1, covs)


def test_low_events_per_variable_warns_time_varying() -> None:
    long = load("long")
    long = long[long["id"] <= 150]
    n_events = int((long["event"] == 2).sum())
    covs = ["x1", "x3", "cmv"]
    assert n_events < 10 * len(covs)
    with pytest.warns(LowEventsPerVariableWarning):
        time_varying_cause_specific_cox(long, "id", "start", "stop", "event", covs, event_of_interest=2)


def test_enough_events_per_variable_does_not_warn() -> None:
    assert issubclass(LowEventsPerVariableWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowEventsPerVariableWarning)
        fine_gray(model_data("cov"), "time", "status", 1, MODEL_SETS["cov"])
        cause_specific_cox(model_data("cov"), "time", "status", 1, MODEL_SETS["cov"])


@pytest.mark.parametrize("dataset", ["zero", "alldie"])
@pytest.mark.parametrize("cause", [1, 2])
def test_fine_gray_edge_cases_match_crr(dataset: str, cause: int) -> None:
    """Events/censoring at time 0 (crr weights with G(0)) and all failing at the end."""
    data = load(dataset).assign(grpB=lambda d: (d["group"] == "B").astype(int))
    ref = reference(dataset, "crr", cause)
    fit = fine_gray(data, "time", "status", cause, ["grpB"])
    np.testing.assert_allclose(fit["coef"], ref.loc[["grpB"], "coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit["se"], ref.loc[["grpB"], "se"], rtol=1e-4, atol=0)


def test_fine_gray_warns_when_newton_does_not_converge() -> None:
    rng = np.random.default_rng(0)
    n = 200
    x = rng.integers(0, 2, n)
    status = np.where(x == 1, rng.choice([0, 1], n), rng.choice([0, 2], n))  # separation
    data = pd.DataFrame({"t": rng.integers(1, 50, n), "s": status, "x": x})
    with pytest.warns(UserWarning, match="did not converge"):
        fit = fine_gray(data, "t", "s", 1, ["x"], max_iter=20)
    assert not fit.attrs["converged"]
