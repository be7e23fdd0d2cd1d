"""Time and peak memory of the interim report for growing cohorts.

    python bench/reports.py                      # 300, 1,000 and 10,000 participants
    python bench/reports.py --sizes 300,1000     # quicker
    python bench/reports.py --workdir /tmp/rb    # keep (and reuse) the databases

Each size gets a SQLite database filled by the demo generator
(`trialdb.demo.load_demo`, seed 2024, not timed; reused from --workdir when
it is there). The interim report is then rendered from live data: once to
warm caches, then --repeat rounds in which the sizes take turns, so that
every size sees the same machine load. Each size keeps its best round, both
in CPU time of this process (the verdict: on a shared machine wall time also
measures the neighbours) and in wall time. Peak memory is the Python heap
peak (tracemalloc, numpy included) of a separate run.

The report must scale linearly: 10,000 participants may take at most 12
times the CPU time of 1,000.
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
SEED = 2024


def render(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine, write=False)() as session:
            pdf = service.interim_report(session, Actor.system("benchmark"),
                                         generated_at=FIXED_TIME)
    finally:
        engine.dispose()
    return len(pdf)


def database(size: int, folder: Path) -> str:
    """A demo database of `size` participants (made once, then reused)."""
    path = folder / f"bench_{size}.sqlite3"
    url = f"sqlite:///{path}"
    if not path.exists():
        print(f"generating {size} participants...", file=sys.stderr, flush=True)
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            load_demo(engine, participants=size, seed=SEED, progress=sys.stderr.isatty())
        finally:
            engine.dispose()
    return url


def timed(url: str) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    size_bytes = render(url)
    return time.process_time() - cpu, time.perf_counter() - wall, size_bytes


def peak_memory(url: str) -> float:
    tracemalloc.start()
    try:
        render(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def run(sizes: list[int], folder: Path, repeat: int) -> dict[int, float]:
    urls = {size: database(size, folder) for size in sizes}
    for url in urls.values():
        render(url)  # warm caches (fonts, form definitions, imports)
    cpu = {size: float("inf") for size in sizes}
    wall = {size: float("inf") for size in sizes}
    pdf_bytes = {size: 0 for size in sizes}
    for round_ in range(repeat):
        for size in sizes:
            seconds, elapsed, pdf_bytes[size] = timed(urls[size])
            cpu[size], wall[size] = min(cpu[size], seconds), min(wall[size], elapsed)
            print(f"  round {round_ + 1}: {size} participants, {seconds:.2f} s CPU, "
                  f"{elapsed:.2f} s wall", file=sys.stderr, flush=True)
    print(f"{'participants':>12} {'CPU s':>8} {'wall s':>8} {'peak MiB':>9} {'PDF bytes':>10}")
    for size in sizes:
        print(f"{size:>12} {cpu[size]:>8.2f} {wall[size]:>8.2f} {peak_memory(urls[size]):>9.1f} "
              f"{pdf_bytes[size]:>10}", flush=True)
    if 1000 in wall and 10000 in wall:
        print(f"wall time(10,000) / time(1,000) = {wall[10000] / wall[1000]:.2f} (for information)")
    return cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path,
                        help="Folder for the databases, kept and reused (default: a temporary one).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        times = run(sizes, args.workdir, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="trialdb-bench-") as folder:
            times = run(sizes, Path(folder), args.repeat)
    if 1000 in times and 10000 in times:
        ratio = times[10000] / times[1000]
        verdict = "ok" if ratio <= MAX_RATIO else "TOO SLOW"
        print(f"CPU time(10,000) / time(1,000) = {ratio:.2f} (limit {MAX_RATIO:g}): {verdict}")
        return 0 if ratio <= MAX_RATIO else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
