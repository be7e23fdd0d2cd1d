"""The laboratory import and the REST API under hostile input: malformed
files and bodies are refused with a UserError (4xx), never a crash, and what
is stored obeys the rules."""

from __future__ import annotations

import csv
import io
import math
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.fuzz.strategies import MALFORMED_DATES, MALFORMED_NUMBERS, hostile_text, json_values
from tests.fuzz.test_crf_fuzz import FUZZ
from tests.web.conftest import World, new_participant
from trialdb.db import make_session_factory, unit_of_work
from trialdb.errors import UserError
from trialdb.models import Assay, Participant, User, ViralLoadResult
from trialdb.services.actor import Actor
from trialdb.vocab import LoadUnit, Role, Specimen, Virus

lab_import = pytest.importorskip("trialdb.services.lab_import")
IMPORT_FUZZ = settings(FUZZ, max_examples=6)
TODAY = date(2026, 11, 30)
COLUMNS = ["study_number", "virus", "specimen", "sampled_on", "result", "unit", "assay"]


def _valid_loads(session: Session, participant_ids: list[int]) -> None:
    for load in session.scalars(select(ViralLoadResult).where(
            ViralLoadResult.participant_id.in_(participant_ids))):
        assert load.sampled_on <= TODAY
        if load.value is not None:
            assert math.isfinite(float(load.value)) and float(load.value) >= 0
        assert "\x00" not in (load.reported_as or "")


def test_lab_import_under_hostile_files(db: Session) -> None:
    site = factories.site(db)
    person = factories.participant(db, site)
    other = factories.participant(db, factories.site(db))
    assay = Assay(name="Fuzz CMV PCR", virus=Virus.CMV, specimen=Specimen.PLASMA,
                  unit=LoadUnit.COPIES_PER_ML, limit_of_detection=20, lloq=62)
    db.add(assay)
    db.flush()
    actor = Actor.of(factories.user(db, Role.COORDINATOR, [site]))
    cell = {
        "study_number": st.one_of(st.sampled_from([person.study_number, other.study_number,
                                                   person.study_number.lower(), "XX-0000"]),
                                  hostile_text),
        "virus": st.one_of(st.sampled_from(["CMV", "cmv", "TTV", "HIV"]), hostile_text),
        "specimen": st.one_of(st.sampled_from(["plasma", "whole blood", "sang"]), hostile_text),
        "sampled_on": st.one_of(st.dates().map(date.isoformat), st.sampled_from(MALFORMED_DATES)),
        "result": st.one_of(st.sampled_from(["5951", "<62", "ND", "1,2E+04", "> 1e8", "positif"]),
                            st.sampled_from(MALFORMED_NUMBERS), hostile_text),
        "unit": st.one_of(st.sampled_from(["copies/mL", "IU/mL", "cp/mL", "log"]), hostile_text),
        "assay": st.one_of(st.just(assay.name), hostile_text),
    }
    row = st.fixed_dictionaries(cell)
    header = st.one_of(st.just(COLUMNS), st.permutations(COLUMNS),
                       st.lists(st.sampled_from([*COLUMNS, "x", ""]), max_size=9))

    @IMPORT_FUZZ
    @given(columns=header, rows=st.lists(row, max_size=5),
           encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
           delimiter=st.sampled_from([",", ";", "\t"]),
           garbage=st.binary(max_size=40),
           dry_run=st.booleans())
    def import_once(columns: list[str], rows: list[dict[str, str]], encoding: str,
                    delimiter: str, garbage: bytes, dry_run: bool) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter)
        writer.writerow(columns)
        for values in rows:
            writer.writerow([values.get(name, "") for name in columns])
        content = buffer.getvalue().encode(encoding, errors="replace") + garbage
        savepoint = db.begin_nested()
        try:
            lab_import.import_lab_file(db, actor, io.BytesIO(content), file_name="fuzz.csv",
                                       dry_run=dry_run, today=TODAY)
            db.flush()
            _valid_loads(db, [person.id, other.id])
            foreign = db.scalar(select(ViralLoadResult.id).where(
                ViralLoadResult.participant_id == other.id))
            assert foreign is None  # never into another site's participant
        except UserError:
            pass  # refused with a message: fine
        finally:
            savepoint.rollback()

    import_once()


def test_nul_in_a_lab_file_is_refused(db: Session) -> None:
    site = factories.site(db)
    actor = Actor.of(factories.user(db, Role.COORDINATOR, [site]))
    content = (",".join(COLUMNS) + "\n\x00,CMV,plasma,2026-11-01,5951,copies/mL,x\n").encode()
    try:
        summary = lab_import.import_lab_file(db, actor, io.BytesIO(content), file_name="nul.csv",
                                             dry_run=True, today=TODAY)
    except UserError:
        return
    assert summary.blocking >= 1


def test_api_viral_load_posts_under_hostile_bodies(app: Flask, engine: Engine,
                                                   world: World) -> None:
    participant = new_participant(engine, world.site_a)
    with unit_of_work(make_session_factory(engine)) as session:
        owner = session.get(User, world.coordinator_a.id)
        assert owner is not None
        from trialdb.api.tokens import create_token

        _row, token = create_token(session, Actor.of(owner), owner, "fuzz")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    url = f"/api/v1/participants/{participant.study_number}/viral-loads"
    field = st.one_of(json_values, hostile_text)
    body = st.one_of(json_values, st.fixed_dictionaries({
        "sampled_on": st.one_of(st.dates().map(date.isoformat), st.sampled_from(MALFORMED_DATES),
                                field),
        "virus": st.one_of(st.sampled_from(["CMV", "TTV"]), field),
        "specimen": st.one_of(st.just("plasma"), field),
        "assay_id": st.one_of(st.just(str(world.cmv_assay.id)), st.just(world.cmv_assay.id), field),
        "result": st.one_of(st.sampled_from(MALFORMED_NUMBERS), st.just("5951"), field),
        "unit": st.one_of(st.just("IU/mL"), field)}))

    @FUZZ
    @given(payload=body)
    def post_once(payload: Any) -> None:
        response = client.post(url, json=payload, headers=headers)
        assert response.status_code in (201, 400, 403, 404, 409, 413, 422), response.status_code
        assert response.is_json

    post_once()
    for raw in (b"", b"{", b"\xff\xfe", b"[]" * 1000, b'{"a":' * 500):
        response = client.post(url, data=raw, headers={**headers,
                                                       "Content-Type": "application/json"})
        assert response.status_code in (400, 413, 422), (raw[:10], response.status_code)
    with make_session_factory(engine, write=False)() as session:
        person = session.get(Participant, participant.id)
        assert person is not None
        for load in session.scalars(select(ViralLoadResult).where(
                ViralLoadResult.participant_id == participant.id)):
            assert load.sampled_on <= date.today()
            assert load.value is None or math.isfinite(float(load.value))
