"""PostgreSQL going away during use, simulated safely: the application talks
to a dedicated temporary database through a TCP proxy that the test cuts and
restores (the shared server is never touched). While it is cut, every
request answers 503 with the message and nothing is half-written; once it is
back, the application recovers by itself (idle connections are pinged before
reuse), without a restart."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from werkzeug.datastructures import MultiDict

from tests.reliability.population import (
    Population,
    audit_rows_for,
    grid_rows,
    populate,
    row_count,
    stored_saves,
)
from tests.reliability.tcp_proxy import CuttableProxy
from tests.web.conftest import PASSWORD, csrf_token, sign_in
from trialdb.config import Settings
from trialdb.db import make_engine
from trialdb.models import ViralLoadResult
from trialdb.scratch import PG_ADMIN_URL, empty_database
from trialdb.web import create_app

MESSAGE_FR = "La base de données est occupée ou injoignable"


def _postgresql_reachable() -> bool:
    probe = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        probe.dispose()


@pytest.fixture()
def outage(request: pytest.FixtureRequest,
           tmp_path: Path) -> Iterator[tuple[Flask, CuttableProxy, Engine, Population]]:
    if "postgresql" not in request.config.getoption("--db").split(","):
        pytest.skip("PostgreSQL not selected")
    if not _postgresql_reachable():
        pytest.skip("no PostgreSQL server")
    with empty_database("postgresql", tmp_path) as url:
        direct = make_engine(url)
        population = populate(direct, coordinators=2, participants_each=1)
        parsed = make_url(url)
        proxy = CuttableProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        proxy.start()
        proxied_url = parsed.set(host="127.0.0.1", port=proxy.port)
        engine = make_engine(proxied_url.render_as_string(hide_password=False),
                             connect_args={"connect_timeout": 2})
        app = create_app(Settings(database_url=proxied_url.render_as_string(hide_password=False),
                                  instance_path=tmp_path, secret_key="test-secret-key"),
                         engine=engine)
        app.config.update(TESTING=True)
        try:
            yield app, proxy, direct, population
        finally:
            proxy.close()
            engine.dispose()
            direct.dispose()


def _client(app: Flask, population: Population, n: int) -> tuple[FlaskClient, str, str]:
    email, _site, numbers = population.coordinators[n]
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    path = f"/participants/{numbers[0]}/viral-loads"
    return client, path, csrf_token(client, path)


def test_requests_fail_cleanly_while_postgresql_is_away_and_recover(outage: tuple[
        Flask, CuttableProxy, Engine, Population]) -> None:
    app, proxy, direct, population = outage
    client, path, token = _client(app, population, 0)
    save = 1

    def post_save(save_id: int) -> int:
        data = MultiDict([*grid_rows(save_id, population.assay_id), ("csrf_token", token)])
        return client.post(path, data=data).status_code

    assert post_save(save) == 302
    acknowledged = {save}

    # a second user keeps reading and writing while the database goes away
    statuses: Counter[int] = Counter()
    stop = threading.Event()
    other, other_path, other_token = _client(app, population, 1)
    background_acknowledged: set[int] = set()

    failures: list[BaseException] = []

    def background() -> None:
        try:
            save_loop()
        except BaseException as error:  # surfaced by the main thread below
            failures.append(error)

    def save_loop() -> None:
        save_id = 1000
        while not stop.is_set():
            save_id += 1
            data = MultiDict([*grid_rows(save_id, population.assay_id), ("csrf_token", other_token)])
            status = other.post(other_path, data=data).status_code
            statuses[status] += 1
            if status == 302:
                background_acknowledged.add(save_id)
            statuses[other.get("/").status_code] += 1

    worker = threading.Thread(target=background)
    worker.start()
    try:
        time.sleep(0.5)
        proxy.cut()
        started = time.monotonic()
        away = [client.get("/"), client.get(path), client.post(path, data=MultiDict([
            *grid_rows(2, population.assay_id), ("csrf_token", token)]))]
        deadline = time.monotonic() + 15
        while statuses[503] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # until the other user has met the outage too
        for response in away:
            assert response.status_code == 503, response.status_code
            assert MESSAGE_FR in response.get_data(as_text=True)
        outage_answer_seconds = time.monotonic() - started
        proxy.restore()
        recovered_at = time.monotonic()
        # the very next requests succeed: stale pooled connections are replaced
        assert client.get("/").status_code == 200
        save = 3
        assert post_save(save) == 302
        acknowledged.add(save)
        recovery_seconds = time.monotonic() - recovered_at
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join(timeout=60)

    assert not failures, failures
    assert set(statuses) <= {200, 302, 503}, statuses  # never a 500
    assert statuses[503] > 0 and (statuses[200] + statuses[302]) > 0
    saves = stored_saves(direct)
    assert 2 not in saves  # refused while away: nothing written
    assert (acknowledged | background_acknowledged) <= set(saves)
    assert all(count == 3 for count in saves.values())
    assert row_count(direct, ViralLoadResult) == 3 * len(saves)
    assert audit_rows_for(direct, "viral_load_result") == 3 * len(saves)
    print(f"\nPostgreSQL outage: background answers {dict(statuses)}, 3 requests answered 503 "
          f"in {outage_answer_seconds:.2f} s, first requests after restore took "
          f"{recovery_seconds:.2f} s")
