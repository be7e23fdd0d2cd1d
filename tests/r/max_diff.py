"""Print the largest differences between trialdb.stats and the R fixtures.

Run from the repository root:  python tests/r/max_diff.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from trialdb.stats import (  # noqa: E402
    cause_specific_cox,
    cumulative_incidence,
    fine_gray,
    grays_test,
    time_varying_cause_specific_cox,
)

FIX = ROOT / "tests" / "r" / "fixtures"
MODEL_SETS = {"cov": ["x1", "x2", "x3", "x4"], "mgus2": ["age", "male", "hgb"]}


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / f"{name}.csv")


def rel(ours: np.ndarray, ref: np.ndarray) -> float:
    ok = ref != 0
    worst = float(np.max(np.abs(ours[ok] / ref[ok] - 1.0))) if ok.any() else 0.0
    return max(worst, float(np.max(np.abs(ours[~ok]))) if (~ok).any() else 0.0)


def main() -> None:
    worst: dict[str, float] = {}

    def note(key: str, value: float) -> None:
        worst[key] = max(worst.get(key, 0.0), value)

    ci = load("cuminc")
    for (ds, grp, cause), ref in ci.groupby(["dataset", "group", "cause"]):
        data = load(str(ds))
        sub = data if grp == "(all)" else data[data["group"] == grp]
        steps = ref.groupby("time").tail(1)
        ours = cumulative_incidence(sub["time"], sub["status"], int(str(cause)))
        at = ours.reindex(steps["time"].to_numpy())
        note(
            "cuminc estimate (abs)",
            float(np.max(np.abs(at["estimate"].to_numpy() - steps["est"].to_numpy()))),
        )
        note("cuminc variance (rel)", rel(at["variance"].to_numpy(), steps["var"].to_numpy()))

    sf = load("survfit")
    for (ds, grp, cause), ref in sf.groupby(["dataset", "group", "cause"]):
        data = load(str(ds))
        sub = data if grp == "(all)" else data[data["group"] == grp]
        for conf, suffix in (("log", "log"), ("log-log", "loglog")):
            ours = cumulative_incidence(
                sub["time"], sub["status"], int(str(cause)), variance="delta", conf_type=conf
            ).reindex(ref["time"].to_numpy())
            note(
                "survfit estimate (abs)",
                float(np.max(np.abs(ours["estimate"].to_numpy() - ref["pstate"].to_numpy()))),
            )
            v = ref["std_err"].to_numpy() ** 2
            note("survfit variance (rel)", rel(ours["variance"].to_numpy(), v))
            for side in ("lower", "upper"):
                a = ours[side].to_numpy()
                b = ref[f"{side}_{suffix}"].to_numpy()
                assert (np.isnan(a) == np.isnan(b)).all()
                ok = ~np.isnan(b)
                note(f"survfit {conf} CI (abs)", float(np.max(np.abs(a[ok] - b[ok]), initial=0)))

    gray = load("gray")
    for ds, strata, cause, stat, pv in zip(
        gray["dataset"].astype(str),
        gray["strata"].astype(str),
        gray["cause"].to_numpy(dtype=np.int64),
        gray["stat"].to_numpy(dtype=np.float64),
        gray["pv"].to_numpy(dtype=np.float64),
        strict=True,
    ):
        data = load(ds)
        res = grays_test(
            data["time"],
            data["status"],
            data["group"],
            int(cause),
            strata=None if strata == "none" else data[strata],
        )
        note("Gray statistic (abs)", abs(res.statistic - float(stat)))
        note("Gray p-value (abs)", abs(res.p_value - float(pv)))

    models = load("models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ds, covs in MODEL_SETS.items():
            data = load(ds).dropna(subset=covs)
            for cause in (1, 2):
                for name, fn, model in (
                    ("crr", fine_gray, "crr"),
                    ("coxph", cause_specific_cox, "coxph_efron"),
                ):
                    ref = models[
                        (models["dataset"] == ds) & (models["model"] == model) & (models["cause"] == cause)
                    ].set_index("term")
                    fit = fn(data, "time", "status", cause, covs)
                    diff = fit["coef"].to_numpy() - ref.loc[covs, "coef"].to_numpy()
                    note(f"{name} coef (abs)", float(np.max(np.abs(diff))))
                    note(f"{name} se (rel)", rel(fit["se"].to_numpy(), ref.loc[covs, "se"].to_numpy()))
        long = load("long")
        for cause in (1, 2):
            ref = models[
                (models["dataset"] == "long")
                & (models["model"] == "coxph_efron")
                & (models["cause"] == cause)
            ].set_index("term")
            covs = ["x1", "x3", "cmv"]
            fit = time_varying_cause_specific_cox(
                long, "id", "start", "stop", "event", covs, event_of_interest=cause
            )
            diff = fit["coef"].to_numpy() - ref.loc[covs, "coef"].to_numpy()
            note("coxph time-varying coef (abs)", float(np.max(np.abs(diff))))
            note("coxph time-varying se (rel)", rel(fit["se"].to_numpy(), ref.loc[covs, "se"].to_numpy()))

    width = max(len(k) for k in worst)
    for key, value in worst.items():
        print(f"{key:<{width}}  {value:.2e}")


if __name__ == "__main__":
    main()
