"""Benchmark: trialdb.stats.cumulative_incidence against lifelines, R and a sort.

Usage::

    python bench/cif.py [--sizes 1000,10000,100000,1000000] [--repeat 5]

For every size ``n`` the script draws whole-day follow-up times (0 to
``--max-days``, so ties everywhere) with censoring and three causes, then
times on the same data:

* ``ours``      – ``cumulative_incidence(..., variance="aalen")`` (best of
  ``--repeat`` runs);
* ``lifelines`` – ``AalenJohansenFitter(calculate_variance=True).fit`` (best
  of up to 3 runs within a time budget; sizes above ``--lifelines-max``
  (default 1,000,000) are skipped, since its row-by-row variance loop would
  take far too long there.  Note that lifelines jitters tied event times of
  different causes (the smaller sizes here), which makes it slower there;
  at 100,000+ every tie also has a same-cause partner and it does not);
* ``R cuminc``  – ``cmprsk::cuminc`` timed inside R with ``system.time``
  around the call only (data passed through a temporary CSV), when
  ``Rscript`` with cmprsk is available;
* ``argsort``   – ``numpy.argsort(durations, kind="stable")``.

Targets checked at the end: >= 50x faster than lifelines at 100,000; faster
than R's cuminc at every size; within 3x of the stable argsort at 1,000,000.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trialdb.stats import cumulative_incidence

IntArray = npt.NDArray[np.int64]

R_SCRIPT = r"""
suppressPackageStartupMessages(library(cmprsk))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
reps <- as.integer(args[2])
best <- Inf
for (i in seq_len(reps)) {
  gc()
  el <- system.time(z <- cuminc(d$time, d$status))[["elapsed"]]
  best <- min(best, el)
}
cat(sprintf("%.6f\n", best))
"""


def make_data(n: int, max_days: int, seed: int) -> tuple[IntArray, IntArray]:
    rng = np.random.default_rng(seed)
    durations = rng.integers(0, max_days + 1, size=n, dtype=np.int64)
    events = rng.choice(np.arange(4, dtype=np.int64), size=n, p=[0.4, 0.3, 0.2, 0.1])
    return durations, events


def best_time(fn: Callable[[], object], repeat: int, budget: float = 30.0) -> float:
    best = float("inf")
    spent = 0.0
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        if spent > budget:
            break
    return best


def time_lifelines(durations: IntArray, events: IntArray, repeat: int) -> float:
    from lifelines import AalenJohansenFitter

    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            AalenJohansenFitter(calculate_variance=True, seed=0).fit(durations, events, event_of_interest=1)

    return best_time(run, repeat)


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('cmprsk', quietly = TRUE))"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def time_r(durations: IntArray, events: IntArray, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        with csv.open("w") as fh:
            fh.write("time,status\n")
            np.savetxt(fh, np.column_stack((durations, events)), fmt="%d", delimiter=",")
        out = subprocess.run(
            ["Rscript", str(script), str(csv), str(repeat)],
            capture_output=True,
            text=True,
            check=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:10.2f}"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den == 0:
        return "-"
    return f"{num / den:8.1f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--lifelines-max", type=int, default=1_000_000)
    parser.add_argument("--no-r", action="store_true", help="do not time R's cuminc")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    use_r = not args.no_r and r_available()
    if not use_r:
        print("R's cuminc: not timed (Rscript with cmprsk not available or --no-r)")

    rows = []
    for n in sizes:
        durations, events = make_data(n, args.max_days, args.seed)

        def run_ours(d: IntArray = durations, e: IntArray = events) -> object:
            return cumulative_incidence(d, e)

        def run_sort(d: IntArray = durations) -> object:
            return np.argsort(d, kind="stable")

        ours = best_time(run_ours, args.repeat)
        sort = best_time(run_sort, args.repeat)
        if n <= args.lifelines_max:
            lif: float | None = time_lifelines(durations, events, min(args.repeat, 3))
        else:
            lif = None
            print(
                f"n={n:,}: lifelines skipped (above --lifelines-max={args.lifelines_max:,}; "
                "its row-by-row variance loop would take far too long)"
            )
        r_time = time_r(durations, events, 3 if n <= 100_000 else 2) if use_r else None
        rows.append((n, ours, lif, r_time, sort))

    header = (
        f"{'n':>10} {'ours ms':>10} {'lifelines':>10} {'R cuminc':>10} {'argsort':>10} "
        f"{'lifel/ours':>10} {'R/ours':>9} {'ours/sort':>9}"
    )
    print(header)
    print("-" * len(header))
    for n, ours, lif, r_time, sort in rows:
        print(
            f"{n:>10,} {fmt_ms(ours)} {fmt_ms(lif):>10} {fmt_ms(r_time):>10} {fmt_ms(sort)} "
            f"{fmt_ratio(lif, ours):>10} {fmt_ratio(r_time, ours):>9} "
            f"{fmt_ratio(ours, sort):>9}"
        )

    print()
    ok = True
    for n, ours, lif, r_time, sort in rows:
        if n == 100_000 and lif is not None:
            good = lif / ours >= 50
            ok &= good
            print(f"[{'ok' if good else 'MISS'}] >= 50x faster than lifelines at 100,000")
        if r_time is not None:
            good = ours < r_time
            ok &= good
            print(f"[{'ok' if good else 'MISS'}] faster than R cuminc at {n:,}")
        if n == 1_000_000:
            good = ours <= 3 * sort
            ok &= good
            print(f"[{'ok' if good else 'MISS'}] within 3x of stable argsort at 1,000,000")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
