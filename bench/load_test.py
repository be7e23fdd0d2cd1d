"""Load test: simulated coordinators against gunicorn, on SQLite and PostgreSQL.

Each coordinator signs in, then runs a realistic mix until it has made its
share of requests (or the time limit passes): the dashboard, a participant's
page, CRF pages, the viral-load grid, a 3-result grid save, a serology form
save. Afterwards the database is checked: acknowledged saves = stored rows =
audit rows, and for SQLite PRAGMA integrity_check. Zero errors and zero lost
writes are required (exit status 1 otherwise); p50/p95/p99 latencies are
printed per kind of request.

    python bench/load_test.py --users 50 --requests 40 --db sqlite,postgresql

Loopback only. PostgreSQL: a temporary database on 127.0.0.1:5432 as user
postgres (TRIALDB_TEST_PG_URL to change), dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import requests
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TRIALDB_PASSWORD_HASHING", "fast")  # sign-ins are not what is measured

from tests.factories import PASSWORD
from tests.reliability.population import (
    audit_rows_for,
    grid_rows,
    populate,
    sqlite_integrity,
    stored_saves,
)
from tests.reliability.server import Client, Server
from trialdb.db import make_engine, make_session_factory
from trialdb.models import Serology, ViralLoadResult
from trialdb.scratch import empty_database

MIX = [("dashboard", 25), ("participant", 20), ("form_page", 15), ("grid_page", 10),
       ("grid_save", 15), ("form_save", 10), ("queries", 5)]
CRF_PAGES = ["infusion", "clinical_course", "serology", "antivirals", "follow_up"]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    grid_saves: list[int] = field(default_factory=list)
    form_saves: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _coordinator(server: Server, email: str, numbers: list[str], assay_id: int, requests_each: int,
                 deadline: float, seed: int, save_ids: Iterator[int], tally: Tally) -> None:
    rng = random.Random(seed)
    client = Client(server.base, timeout=60)
    try:
        client.sign_in(email, PASSWORD)
    except (requests.RequestException, RuntimeError) as error:
        with tally.lock:
            tally.errors.append(f"{email} sign-in: {error}")
        return
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    for _ in range(requests_each):
        if time.monotonic() > deadline:
            return
        kind = rng.choices(kinds, weights)[0]
        number = rng.choice(numbers)
        started = time.perf_counter()
        save_id = None
        try:
            if kind == "dashboard":
                response, expected = client.get("/"), 200
            elif kind == "participant":
                response, expected = client.get(f"/participants/{number}"), 200
            elif kind == "form_page":
                form = rng.choice(CRF_PAGES)
                response, expected = client.get(f"/participants/{number}/forms/{form}"), 200
            elif kind == "grid_page":
                response, expected = client.get(f"/participants/{number}/viral-loads"), 200
            elif kind == "queries":
                response, expected = client.get("/queries"), 200
            elif kind == "grid_save":
                save_id = next(save_ids)
                response = client.post(f"/participants/{number}/viral-loads",
                                       grid_rows(save_id, assay_id))
                expected = 302
            else:
                day = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
                response = client.post(f"/participants/{number}/forms/serology/new", {
                    "virus": rng.choice(["CMV", "EBV", "HHV-6"]), "sampled_on": day.isoformat(),
                    "result": rng.choice(["positive", "negative"]), "complete": "y"})
                expected = 302
            elapsed = time.perf_counter() - started
        except requests.RequestException as error:
            with tally.lock:
                tally.errors.append(f"{kind}: {error}")
            continue
        with tally.lock:
            tally.latencies[kind].append(elapsed)
            if response.status_code != expected:
                tally.errors.append(f"{kind}: HTTP {response.status_code}")
            elif kind == "grid_save" and save_id is not None:
                tally.grid_saves.append(save_id)
            elif kind == "form_save":
                tally.form_saves += 1


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        value = values[0] if values else 0.0
        return value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


@contextmanager
def _database(backend: str, folder: Path) -> Iterator[str]:
    with empty_database(backend, folder) as url:
        yield url


def run(backend: str, users: int, requests_each: int, time_limit: float, workers: int,
        threads: int) -> bool:
    with tempfile.TemporaryDirectory() as folder, _database(backend, Path(folder)) as url:
        engine = make_engine(url)
        population = populate(engine, coordinators=users, participants_each=2, sites=5)
        server = Server(url, Path(folder), workers=workers, threads=threads)
        server.start(timeout=60)
        tally = Tally()
        save_ids = iter(range(1, 10**9))
        id_lock = threading.Lock()

        def next_ids() -> Iterator[int]:
            while True:
                with id_lock:
                    value = next(save_ids)
                yield value

        shared_ids = next_ids()
        deadline = time.monotonic() + time_limit
        started = time.perf_counter()
        try:
            coordinators = [threading.Thread(target=_coordinator, args=(
                server, email, numbers, population.assay_id, requests_each, deadline, n,
                shared_ids, tally)) for n, (email, _site, numbers) in
                enumerate(population.coordinators)]
            for thread in coordinators:
                thread.start()
            for thread in coordinators:
                thread.join()
        finally:
            wall = time.perf_counter() - started
            server.stop()
        saves = stored_saves(engine)
        with make_session_factory(engine, write=False)() as session:
            loads = session.scalar(select(func.count()).select_from(ViralLoadResult)) or 0
            serology = session.scalar(select(func.count()).select_from(Serology)) or 0
        load_audit = audit_rows_for(engine, "viral_load_result")
        serology_audit = audit_rows_for(engine, "serology")
        integrity = sqlite_integrity(engine) if backend == "sqlite" else "n/a"
        engine.dispose()

    total = sum(len(v) for v in tally.latencies.values())
    print(f"\n== {backend}: {users} coordinators, gunicorn {workers} workers x {threads} threads, "
          f"{total} requests in {wall:.1f} s ({total / wall:.0f} requests/s)")
    print(f"{'request':<12} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    everything: list[float] = []
    for kind, _ in MIX:
        values = tally.latencies.get(kind, [])
        everything += values
        p50, p95, p99 = _percentiles(values)
        print(f"{kind:<12} {len(values):>6} {p50 * 1000:>8.1f} {p95 * 1000:>8.1f} {p99 * 1000:>8.1f}")
    p50, p95, p99 = _percentiles(everything)
    print(f"{'all':<12} {len(everything):>6} {p50 * 1000:>8.1f} {p95 * 1000:>8.1f} {p99 * 1000:>8.1f}")
    acknowledged_rows = 3 * len(tally.grid_saves)
    complete = all(count == 3 for count in saves.values())
    lost = set(tally.grid_saves) - set(saves)
    print(f"errors: {len(tally.errors)}" + (f" (first: {tally.errors[:3]})" if tally.errors else ""))
    print(f"grid saves acknowledged {len(tally.grid_saves)} ({acknowledged_rows} results), "
          f"results stored {loads}, audit rows {load_audit}; lost {len(lost)}, "
          f"half-written {sum(1 for c in saves.values() if c != 3)}")
    print(f"form saves acknowledged {tally.form_saves}, serology rows stored {serology}, "
          f"audit rows {serology_audit}")
    print(f"integrity_check: {integrity}")
    return (not tally.errors and not lost and complete and loads == acknowledged_rows == load_audit
            and serology == tally.form_saves == serology_audit and integrity in ("ok", "n/a"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="requests per coordinator")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds per database")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    results = {backend: run(backend, args.users, args.requests, args.time_limit, args.workers,
                            args.threads) for backend in args.db.split(",")}
    print("\n" + ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in results.items()))
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
