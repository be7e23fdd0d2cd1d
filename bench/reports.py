"""Time and peak memory of the interim report for growing cohorts.

    python bench/reports.py                    # 300, 1,000 and 10,000 participants
    python bench/reports.py --sizes 300,1000   # quicker

Each size gets a fresh SQLite database filled by the demo generator
(`trialdb.demo.load_demo`, not timed); then the interim report is rendered
from live data (timed: best of --repeat runs, Python heap peak by
tracemalloc in a separate run). The report must scale linearly: 10,000
participants may take at most 12 times the time of 1,000.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from trialdb import migrate
from trialdb.db import make_engine, make_session_factory
from trialdb.demo import load_demo
from trialdb.reporting import service
from trialdb.services.actor import Actor

FIXED_TIME = datetime(2026, 10, 15, tzinfo=UTC)
MAX_RATIO = 12.0


def render(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine, write=False)() as session:
            pdf = service.interim_report(session, Actor.system("benchmark"),
                                         generated_at=FIXED_TIME)
    finally:
        engine.dispose()
    return len(pdf)


def measure(size: int, folder: Path, repeat: int) -> tuple[float, float, int]:
    url = f"sqlite:///{folder / f'bench_{size}.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    load_demo(engine, participants=size, seed=2024, progress=sys.stderr.isatty())
    engine.dispose()
    render(url)  # warm caches (fonts, form definitions, imports)
    best = float("inf")
    size_bytes = 0
    for _ in range(repeat):
        start = time.perf_counter()
        size_bytes = render(url)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    render(url)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, size_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300,1000,10000")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    times: dict[int, float] = {}
    print(f"{'participants':>12} {'seconds':>9} {'peak MiB':>9} {'PDF bytes':>10}")
    with tempfile.TemporaryDirectory(prefix="trialdb-bench-") as folder:
        for size in sizes:
            seconds, peak, size_bytes = measure(size, Path(folder), args.repeat)
            times[size] = seconds
            print(f"{size:>12} {seconds:>9.2f} {peak:>9.1f} {size_bytes:>10}", flush=True)
    if 1000 in times and 10000 in times:
        ratio = times[10000] / times[1000]
        verdict = "ok" if ratio <= MAX_RATIO else "TOO SLOW"
        print(f"time(10,000) / time(1,000) = {ratio:.2f} (limit {MAX_RATIO:g}): {verdict}")
        return 0 if ratio <= MAX_RATIO else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
