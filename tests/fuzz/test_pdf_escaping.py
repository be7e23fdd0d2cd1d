"""Injected markup typed into free-text fields comes out of the casebook PDF as
the literal text that was typed (ReportLab parses markup in paragraphs, so
unescaped text would be lost, reinterpreted or crash the rendering)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from tests import factories
from tests.security.conftest import INFUSION
from tests.web.conftest import World, new_participant, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import CarTInfusion, Participant, ProtocolDeviation, Site
from trialdb.services import records
from trialdb.services.actor import Actor
from trialdb.vocab import Role

pytest.importorskip("trialdb.reporting.casebook")
MARKUP = ["<script>alert('xss')</script>", "<b>bold</b> & <i>x</i>", "<para>&amp;</para>",
          "<font color=red>", "a < b > c & d"]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_casebook_pdf_shows_injected_markup_as_text(app: Flask, engine: Engine, world: World,
                                                    tmp_path: Path) -> None:
    participant = new_participant(engine, world.site_a)
    with unit_of_work(make_session_factory(engine)) as session:
        person = session.get(Participant, participant.id)
        site = session.get(Site, world.site_a.id)
        assert person is not None and site is not None
        system = Actor.system("pdf escaping test")
        records.create_record(session, system, person, CarTInfusion,
                              {**INFUSION, "bridging_therapy": True, "bridging_regimen": MARKUP[1]})
        for text in MARKUP:
            records.create_record(session, system, person, ProtocolDeviation, {
                "occurred_on": INFUSION["infused_on"], "category": _category(),
                "description": text, "is_major": False, "corrective_action": text})
        investigator = factories.user(session, Role.INVESTIGATOR, [site])
    client = app.test_client()
    sign_in(client, investigator.email)
    response = client.get(f"/reports/casebook/{participant.study_number}.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    pdf = tmp_path / "casebook.pdf"
    pdf.write_bytes(response.get_data())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    flat = " ".join(text.split())
    for typed in MARKUP:
        assert " ".join(typed.split()) in flat, typed


def _category() -> str:
    from trialdb.crf.definitions import load_forms

    return load_forms()["deviations"].field("category").codes[0]
