"""The server killed with SIGKILL in the middle of a burst of saves on SQLite,
then restarted: the file passes its integrity check, the audit chain is
intact, every acknowledged save is there, and no save is half-written (each
grid save is 3 results and 3 audit rows, all or nothing)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.factories import PASSWORD
from tests.reliability.population import (
    audit_rows_for,
    grid_rows,
    populate,
    row_count,
    sqlite_integrity,
    stored_saves,
)
from tests.reliability.server import ROOT, Client, Server
from trialdb.db import make_engine
from trialdb.models import ViralLoadResult

WRITERS = 6
ROWS = 3


def _audit_verify(server: Server) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trialdb.cli", "audit", "verify"],
                          env=server.env(), cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_sigkill_during_a_burst_of_saves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'killed.sqlite3'}"
    engine = make_engine(url)
    population = populate(engine, coordinators=WRITERS, participants_each=1)
    server = Server(url, tmp_path, workers=2, threads=4)
    server.start()
    save_ids = itertools.count(1)
    acknowledged: list[int] = []
    attempted: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    signed_in = threading.Semaphore(0)

    def writer(email: str, study_number: str) -> None:
        client = Client(server.base, timeout=10)
        client.sign_in(email, PASSWORD)
        path = f"/participants/{study_number}/viral-loads"
        client.refresh_token(path)
        signed_in.release()
        while not stop.is_set():
            save_id = next(save_ids)
            with lock:
                attempted.append(save_id)
            try:
                response = client.post(path, grid_rows(save_id, population.assay_id, ROWS))
            except requests.RequestException:
                return  # the server is gone: this save was never acknowledged
            assert response.status_code == 302, (response.status_code, response.text[:300])
            with lock:
                acknowledged.append(save_id)

    threads = [threading.Thread(target=writer, args=(email, numbers[0]))
               for email, _site, numbers in population.coordinators]
    try:
        for thread in threads:
            thread.start()
        # The burst is timed from the last sign-in (argon2 is slow on purpose, more so
        # on a loaded machine); the wait ends as soon as 40 saves are acknowledged.
        signing_in = time.monotonic() + 60
        for _ in threads:
            signed_in.acquire(timeout=max(0.0, signing_in - time.monotonic()))
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # mid-burst: writers are sending as fast as they are answered
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        server.kill()
    assert len(acknowledged) >= 40, "the burst never got going"
    in_flight = len(attempted) - len(acknowledged)

    # the database after the crash, before any restart
    assert sqlite_integrity(engine) == "ok"
    saves = stored_saves(engine, ROWS)
    assert set(acknowledged) <= set(saves), "an acknowledged save is missing"
    assert all(count == ROWS for count in saves.values()), "a half-written save"
    assert set(saves) <= set(attempted)
    assert row_count(engine, ViralLoadResult) == ROWS * len(saves)
    assert audit_rows_for(engine, "viral_load_result") == ROWS * len(saves)
    verify = _audit_verify(server)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # restarted, the application carries on
    server.start()
    try:
        email, _site, numbers = population.coordinators[0]
        client = Client(server.base)
        client.sign_in(email, PASSWORD)
        path = f"/participants/{numbers[0]}/viral-loads"
        client.refresh_token(path)
        after = next(save_ids)
        assert client.post(path, grid_rows(after, population.assay_id, ROWS)).status_code == 302
    finally:
        server.stop()
    assert stored_saves(engine, ROWS)[after] == ROWS
    assert _audit_verify(server).returncode == 0
    engine.dispose()
    print(f"\nSIGKILL test: {len(acknowledged)} saves acknowledged, {in_flight} in flight at the "
          f"kill, {len(saves)} stored, {len(saves) - len(acknowledged)} stored but unacknowledged")
