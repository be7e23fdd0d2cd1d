"""The Reports page: who may download what, and the scope of a site investigator."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests import factories
from tests.web.conftest import build_world, make_app, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import AuditEvent
from trialdb.services import snapshots
from trialdb.services.actor import Actor
from trialdb.vocab import Role


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")
def test_reports_page_access_and_scope(engine: Engine, tmp_path: Path) -> None:
    world = build_world(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        investigator = factories.user(session, Role.INVESTIGATOR, [world.site_a],
                                      f"investigator-{world.site_a.code.lower()}@example.org")
        other = factories.participant(session, world.site_b)
        other_number = other.study_number
    app = make_app(engine, tmp_path)
    with app.test_client() as client:
        sign_in(client, world.coordinator_a.email)
        assert client.get("/reports").status_code == 403
        assert client.get("/reports/interim.pdf").status_code == 403
        blank = client.get("/reports/blank-crf.pdf")
        assert blank.status_code == 200 and blank.mimetype == "application/pdf"
    with app.test_client() as client:
        sign_in(client, investigator.email)
        page = client.get("/reports")
        assert page.status_code == 200 and world.site_a.code in page.get_data(as_text=True)
        interim = client.get("/reports/interim.pdf")
        assert interim.status_code == 200 and interim.mimetype == "application/pdf"
        text = _text(interim.data, tmp_path)
        assert f"Périmètre {world.site_a.code}" in text  # French by default
        assert client.get(f"/reports/casebook/{other_number}.pdf").status_code == 404
        assert client.get("/reports/casebook?participant=").status_code == 404
        assert client.get("/reports/interim.pdf?snapshot=abc").status_code in (400, 422)
        assert client.get("/reports/interim.pdf?snapshot=999999").status_code == 404


def _report_exports(engine: Engine, name: str) -> list[AuditEvent]:
    with make_session_factory(engine, write=False)() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "report", AuditEvent.user_name == name)
            .order_by(AuditEvent.id)))


def test_every_download_leaves_an_audit_entry(engine: Engine, tmp_path: Path) -> None:
    world = build_world(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        manager = factories.user(session, Role.DATA_MANAGER, [],
                                 f"dm-{world.site_a.code.lower()}@example.org")
        number = factories.participant(session, world.site_a).study_number
        snapshot = snapshots.freeze(session, Actor.system("page test"), "for the page")
        snapshot_id, content_hash = snapshot.id, snapshot.content_hash
        name = manager.display_name
    app = make_app(engine, tmp_path)
    with app.test_client() as client:
        sign_in(client, manager.email)
        assert client.get(f"/reports/interim.pdf?snapshot={snapshot_id}").status_code == 200
        live = client.get(f"/reports/casebook/{number}.pdf")
        assert live.status_code == 200
        assert client.get("/reports/blank-crf.pdf").status_code == 200
        assert client.get("/reports/interim.pdf?snapshot=999999").status_code == 404
    events = _report_exports(engine, name)
    assert [e.action for e in events] == ["export"] * 3
    assert [(e.changes or {})["document"][1] for e in events] == ["interim", "casebook",
                                                                  "blank-crf"]
    interim, casebook, _ = events
    assert interim.entity_id == snapshot_id
    assert (interim.changes or {})["content_hash"] == [None, content_hash]
    assert content_hash in (interim.reason or "")
    assert casebook.study_number == number and casebook.site_code == world.site_a.code
    assert (casebook.changes or {})["pdf_sha256"] == [None, hashlib.sha256(live.data).hexdigest()]
