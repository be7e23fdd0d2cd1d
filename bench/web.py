"""Web benchmark: gunicorn, 16 concurrent clients, SQLite and PostgreSQL.

Measures throughput and p50/p95 latency of
  * the dashboard of a site with 1,000 participants,
  * a CRF page (the infusion form of one participant),
  * a CRF save (a new lymphocyte/IgG record: validation, insert, audit),
  * a bare Flask endpoint (the baseline), in the same run and the same way.

Targets (issue 3): save throughput >= 10% of the baseline with p95 < 100 ms;
dashboard p95 < 300 ms. Only loopback traffic; every loop is bounded.

The machine is shared and its speed drifts within minutes, so the baseline and
the application are served side by side and measured in turns, several rounds;
the median round is reported with the spread of the p95.

    python bench/web.py                      # both databases
    python bench/web.py --db sqlite --requests 40 --rounds 5
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402 - after the path set-up
from sqlalchemy import insert, text  # noqa: E402

from trialdb import migrate  # noqa: E402
from trialdb.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from trialdb.models import (  # noqa: E402
    CarTInfusion,
    ConsentRecord,
    EligibilityAssessment,
    Participant,
    ViralLoadResult,
)
from trialdb.scratch import empty_database  # noqa: E402
from trialdb.services import accounts  # noqa: E402
from trialdb.services.actor import Actor  # noqa: E402
from trialdb.vocab import (  # noqa: E402
    CarTProduct,
    ConsentRegime,
    Disease,
    DiseaseStatus,
    LoadUnit,
    Lymphodepletion,
    ParticipantStatus,
    ResultState,
    Role,
    Sex,
    Specimen,
    StudyPart,
    TargetAntigen,
    Virus,
)

CLIENTS = 16
PASSWORD = "bench password 2024"
SITE = "BENCH"
TARGET_SAVE_SHARE = 0.10
TARGET_SAVE_P95_MS = 100.0
TARGET_DASHBOARD_P95_MS = 300.0


def bare_app() -> Flask:
    """The baseline: a Flask endpoint doing nothing."""
    app = Flask("bare")

    @app.route("/ping")
    def ping() -> str:
        return "pong"

    return app


# --- data ------------------------------------------------------------------------------

def populate(url: str, participants: int, seed: int = 7) -> tuple[str, list[str]]:
    """A site with `participants` included participants (bulk rows, bench only);
    returns the coordinator's e-mail and the study numbers."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    rng = random.Random(seed)
    system = Actor.system("bench")
    with unit_of_work(make_session_factory(engine)) as session:
        site = accounts.create_site(session, system, code=SITE, name="Benchmark site")
        email = "coordinator@bench.invalid"
        accounts.create_user(session, system, email=email, display_name="Bench coordinator",
                             role=Role.COORDINATOR, password=PASSWORD, site_codes=[SITE])
        site_id = site.id
    today = date.today()
    numbers = [f"{SITE}-{i:04d}" for i in range(1, participants + 1)]
    with engine.begin() as connection:
        connection.execute(insert(Participant), [
            {"site_id": site_id, "study_number": n, "part": StudyPart.PROSPECTIVE,
             "sex": rng.choice(list(Sex)), "birth_year": rng.randint(1950, 2010),
             "birth_month": rng.randint(1, 12), "status": ParticipantStatus.INCLUDED,
             "screened_on": today - timedelta(days=200), "included_on": today - timedelta(days=190),
             "row_version": 1} for n in numbers])
        ids: dict[str, int] = dict(connection.execute(text(
            "SELECT study_number, id FROM participant WHERE site_id = :s"), {"s": site_id}).all())
        pids = [ids[n] for n in numbers]
        common = {"row_version": 1, "is_complete": True, "is_deleted": False}
        connection.execute(insert(EligibilityAssessment), [
            {**common, "participant_id": p, "assessed_on": today - timedelta(days=195),
             "car_t_for_refractory_disease": True, "cmv_igg_positive": True,
             "social_security_affiliation": True, "under_guardianship": False,
             "ame_beneficiary": False, "decision": "eligible", "failed_criteria": []}
            for p in pids])
        connection.execute(insert(ConsentRecord), [
            {**common, "participant_id": p, "regime": ConsentRegime.CONSENT,
             "document_version": "v1", "consent_on": today - timedelta(days=195),
             "only_one_parent_alive": False, "patient_signed_on": today - timedelta(days=195),
             "investigator_signed_on": today - timedelta(days=195), "is_valid": True}
            for p in pids])
        # accrual over four years, as a real 1,000-participant site would have it
        d0s = {p: today - timedelta(days=rng.randint(0, 4 * 365)) for p in pids}
        connection.execute(insert(CarTInfusion), [
            {**common, "participant_id": p, "infused_on": d0s[p],
             "product": CarTProduct.TISAGENLECLEUCEL, "target_antigen": TargetAntigen.CD19,
             "disease": Disease.LBCL, "disease_status": DiseaseStatus.RELAPSE,
             "prior_lines": 3, "prior_allo_hsct": False, "bridging_therapy": False,
             "lymphodepletion": Lymphodepletion.FLU_CY} for p in pids])
        assay_id = connection.execute(text(
            "INSERT INTO assay (name, virus, specimen, unit, lloq, created_at, updated_at) "
            "VALUES ('Bench CMV', 'CMV', 'plasma', 'IU/mL', 62, :now, :now) RETURNING id"),
            {"now": today}).scalar_one()
        loads = []
        for p in pids:
            for day in (0, 7, 14, 21, 28, 60, 90):
                sampled = d0s[p] + timedelta(days=day)
                if sampled > today or rng.random() < 0.15:
                    continue
                quantified = rng.random() < 0.3
                loads.append({**common, "participant_id": p, "virus": Virus.CMV,
                              "specimen": Specimen.PLASMA, "sampled_on": sampled,
                              "assay_id": assay_id, "unit": LoadUnit.IU_PER_ML,
                              "state": ResultState.QUANTIFIED if quantified
                              else ResultState.NOT_DETECTED,
                              "value": float(rng.randint(100, 50000)) if quantified else None})
        connection.execute(insert(ViralLoadResult), loads)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # statistics for the planner, as autovacuum gathers them on a live server
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return email, numbers


# --- server ------------------------------------------------------------------------------

def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int, threads: int,
             worker_class: str, ready_path: str) -> Iterator[tuple[int, int]]:
    """Serve `app_spec`; yields the port and the master's process id."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--worker-class", worker_class,
               "--keep-alive", "30", "--preload",
               "--log-level", "warning", "--pythonpath", f"{ROOT},{ROOT / 'bench'}", app_spec]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:  # ready when a worker answers, not when the master listens
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", ready_path)
                if connection.getresponse().status < 500:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"gunicorn did not start: {app_spec}")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- clients ------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP/1.1 connection with its own cookies."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.connection.close()  # the server closed an idle keep-alive: reconnect once
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def token(self, path: str) -> str:
        _, page = self.request("GET", path)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if match is None:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def sign_in(self, email: str) -> None:
        token = self.token("/login")
        status, _ = self.request("POST", "/login", {"email": email, "password": PASSWORD,
                                                     "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"sign-in failed ({status})")


# --- where the CPU goes -------------------------------------------------------------------

def _processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, command name, CPU seconds) of every process (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        yield int(entry.name), int(fields[1]), name, (int(fields[11]) + int(fields[12])) / ticks


def cpu_by_process(server_pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far, per process, by the load generator (this process),
    the gunicorn master and workers, and the PostgreSQL server processes: they
    share the machine's cores, so each request's cost is split between them."""
    found = {}
    for pid, parent, name, seconds in _processes():
        if pid == os.getpid():
            found[pid] = ("client", seconds)
        elif server_pid in (pid, parent):
            found[pid] = ("server", seconds)
        elif name == "postgres":
            found[pid] = ("database", seconds)
    return found


def cpu_used(before: dict[int, tuple[str, float]],
             after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per part between two readings (a process that ended in between
    is not counted; one that started is counted in full)."""
    used = {"client": 0.0, "server": 0.0, "database": 0.0}
    for pid, (part, seconds) in after.items():
        used[part] += seconds - before.get(pid, (part, 0.0))[1]
    return used


@dataclass
class Result:
    backend: str
    endpoint: str
    requests: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    errors: int
    #: CPU milliseconds per request of the client, the server and the database.
    cpu_ms: dict[str, float]


def run_load(name: str, backend: str, clients: list[Client], per_client: int,
             make_request: Callable[[Client, int, int], tuple[str, str, dict[str, str] | None]],
             expected: int, server_pid: int, max_seconds: float = 120.0,
             warm_up: int = 2) -> Result:
    """Every client sends `warm_up` unmeasured requests first (worker start-up,
    template and statement compilation are not what is measured), then
    `per_client` measured ones, all clients at once."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_barrier = threading.Barrier(len(clients) + 1)
    deadline = [time.monotonic() + 3600.0]  # set when the measured part begins

    def worker(index: int, client: Client) -> None:
        mine: list[float] = []
        failed = 0
        for n in range(per_client, per_client + warm_up):
            client.request(*make_request(client, index, n))
        start_barrier.wait()
        for n in range(per_client):
            if time.monotonic() > deadline[0]:
                break
            method, path, form = make_request(client, index, n)
            began = time.perf_counter()
            status, _ = client.request(method, path, form)
            mine.append(time.perf_counter() - began)
            if status != expected:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    start_barrier.wait()  # every client warmed up
    cpu_before = cpu_by_process(server_pid)
    deadline[0] = time.monotonic() + max_seconds
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu_after = cpu_by_process(server_pid)
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")
    cpu_ms = {part: round(seconds * 1000 / max(1, len(ordered)), 2)
              for part, seconds in cpu_used(cpu_before, cpu_after).items()}
    return Result(backend, name, len(ordered), round(elapsed, 2),
                  round(len(ordered) / elapsed, 1), round(statistics.median(ordered) * 1000, 1),
                  round(p95 * 1000, 1), errors[0], cpu_ms)


Request = tuple[str, str, dict[str, str] | None]


def _shifted(make_request: Callable[[Client, int, int], Request], offset: int, client: Client,
             index: int, n: int) -> Request:
    return make_request(client, index, n + offset)


@dataclass
class Summary:
    """One endpoint over every round: the median round's figures, and the spread."""

    backend: str
    endpoint: str
    rounds: list[Result]

    @property
    def throughput(self) -> float:
        return round(statistics.median(r.throughput for r in self.rounds), 1)

    @property
    def p50_ms(self) -> float:
        return round(statistics.median(r.p50_ms for r in self.rounds), 1)

    @property
    def p95_ms(self) -> float:
        return round(statistics.median(r.p95_ms for r in self.rounds), 1)

    @property
    def p95_range(self) -> str:
        return f"{min(r.p95_ms for r in self.rounds):.0f}-{max(r.p95_ms for r in self.rounds):.0f}"

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    def cpu_ms(self, part: str) -> float:
        return round(statistics.median(r.cpu_ms[part] for r in self.rounds), 2)


def bench_backend(backend: str, per_client: int, participants: int, workers: int,
                  threads: int, worker_class: str, rounds: int,
                  clients_count: int = CLIENTS) -> list[Summary]:
    """Both servers run side by side and every round measures each endpoint once, the
    baseline first: a slow spell of the machine then weighs on the baseline and the
    application alike, and the median round is reported."""
    folder = Path(tempfile.mkdtemp(prefix="trialdb-bench-"))
    measured: dict[str, list[Result]] = {}
    try:
        with empty_database(backend, folder) as url:
            print(f"[{backend}] populating a site with {participants} participants...", flush=True)
            email, numbers = populate(url, participants)
            env = {"TRIALDB_DATABASE_URL": url, "TRIALDB_INSTANCE_PATH": str(folder),
                   "TRIALDB_SECRET_KEY": uuid.uuid4().hex, "TRIALDB_SESSION_IDLE_MINUTES": "60"}
            with gunicorn("web:bare_app()", env, workers, threads, worker_class,
                          "/ping") as (bare_port, bare_pid), \
                    gunicorn("trialdb.web:create_app()", env, workers, threads,
                             worker_class, "/login") as (port, pid):
                bare_clients = [Client(bare_port) for _ in range(clients_count)]
                clients = [Client(port) for _ in range(clients_count)]
                for client in clients:
                    client.sign_in(email)
                tokens = [c.token(f"/participants/{numbers[0]}") for c in clients]
                phases: list[tuple[str, list[Client], int,
                                   Callable[[Client, int, int], Request], int, int]] = [
                    ("bare Flask /ping", bare_clients, per_client * 4,
                     lambda c, i, n: ("GET", "/ping", None), 200, bare_pid),
                    ("dashboard (1,000 participants)", clients, max(2, per_client // 4),
                     lambda c, i, n: ("GET", f"/?site={SITE}", None), 200, pid),
                    ("CRF page (infusion)", clients, per_client,
                     lambda c, i, n: ("GET", f"/participants/{numbers[(i * 37 + n) % len(numbers)]}"
                                             "/forms/infusion", None), 200, pid),
                    ("CRF save (new lymphocyte/IgG record)", clients, per_client,
                     lambda c, i, n: ("POST", f"/participants/{numbers[(i * 53 + n) % len(numbers)]}"
                                              "/forms/immune_measurements/new",
                                      {"csrf_token": tokens[i], "measured_on":
                                       (date.today() - timedelta(days=1)).isoformat(),
                                       "lymphocytes_per_ul": str(300 + n), "igg_g_per_l": "6,5"}),
                     302, pid),
                ]
                for number in range(rounds):
                    for name, who, count, make_request, expected, server in phases:
                        # each round asks for other participants and saves other values
                        measured.setdefault(name, []).append(run_load(
                            name, backend, who, count,
                            partial(_shifted, make_request, number * (count + 2)),
                            expected, server))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [Summary(backend, name, results) for name, results in measured.items()]


def report(results: list[Summary]) -> str:
    lines = [f"{'backend':<11}{'endpoint':<40}{'req':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
             f"{'p95 range':>11}{'errors':>8}   CPU ms/request: client server database"]
    for r in results:
        lines.append(f"{r.backend:<11}{r.endpoint:<40}{r.requests:>6}{r.throughput:>9}"
                     f"{r.p50_ms:>9}{r.p95_ms:>9}{r.p95_range:>11}{r.errors:>8}"
                     f"{r.cpu_ms('client'):>22}{r.cpu_ms('server'):>7}{r.cpu_ms('database'):>9}")
    for backend in sorted({r.backend for r in results}):
        mine = {r.endpoint.split(" ")[0] + " " + r.endpoint.split(" ")[1]: r
                for r in results if r.backend == backend}
        bare, save = mine["bare Flask"], mine["CRF save"]
        dashboard = mine["dashboard (1,000"]
        # the share of each round (measured minutes apart at most), then their median
        share = statistics.median(s.throughput / b.throughput
                                  for s, b in zip(save.rounds, bare.rounds, strict=True))
        lines.append(
            f"{backend}: save/baseline throughput {share:.1%} (target >= "
            f"{TARGET_SAVE_SHARE:.0%}) {'OK' if share >= TARGET_SAVE_SHARE else 'MISSED'}; "
            f"save p95 {save.p95_ms} ms (< {TARGET_SAVE_P95_MS:.0f}) "
            f"{'OK' if save.p95_ms < TARGET_SAVE_P95_MS else 'MISSED'}; dashboard p95 "
            f"{dashboard.p95_ms} ms (< {TARGET_DASHBOARD_P95_MS:.0f}) "
            f"{'OK' if dashboard.p95_ms < TARGET_DASHBOARD_P95_MS else 'MISSED'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=60, help="requests per client (saves, pages)")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=CLIENTS,
                        help="concurrent clients (1 measures the service time alone)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every endpoint; the median round is reported")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench-web.json")
    args = parser.parse_args()
    results: list[Summary] = []
    load_before = os.getloadavg()
    for backend in args.db.split(","):
        results.extend(bench_backend(backend, args.requests, args.participants, args.workers,
                                     args.threads, args.worker_class, args.rounds,
                                     args.clients))
    text_report = report(results)
    load_after = os.getloadavg()
    print(text_report)
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
          f"on {os.cpu_count()} cores (other work on the machine skews every figure)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clients": args.clients, "workers": args.workers,
                                    "threads": args.threads, "worker_class": args.worker_class,
                                    "rounds": args.rounds,
                                    "cores": os.cpu_count(),
                                    "load_average": [load_before[0], load_after[0]],
                                    "results": [{"backend": r.backend, "endpoint": r.endpoint,
                                                 "rounds": [asdict(x) for x in r.rounds]}
                                                for r in results]}, indent=2))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
