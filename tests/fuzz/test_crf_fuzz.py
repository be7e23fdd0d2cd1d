"""Every CRF form, the viral-load grid and its JSON preview under hostile and
malformed input (hypothesis): never a 500, never a stored value that breaks
the form's hard rules, every injected script shown escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from werkzeug.datastructures import MultiDict

from tests.fuzz.strategies import INJECTIONS, SCRIPT, hostile_text, json_values, value_for
from tests.security.conftest import INFUSION
from tests.web.conftest import World, csrf_token, new_participant, sign_in
from trialdb.crf.definitions import FieldSpec, FormSpec, load_forms
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import CarTInfusion, Participant, ViralLoadResult
from trialdb.services import records
from trialdb.services.actor import Actor
from trialdb.vocab import LoadUnit, ResultState, Specimen, Virus

FUZZ = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
FORMS = sorted(name for name, spec in load_forms().items() if spec.entry != "grid")


@dataclass
class Target:
    client: FlaskClient
    participant: Participant
    token: str
    engine: Engine


@pytest.fixture()
def target(app: Flask, world: World, engine: Engine) -> Target:
    participant = new_participant(engine, world.site_a)
    with unit_of_work(make_session_factory(engine)) as session:
        person = session.get(Participant, participant.id)
        assert person is not None
        records.create_record(session, Actor.system("fuzz"), person, CarTInfusion, INFUSION)
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    return Target(client, participant, csrf_token(client, "/"), engine)


def form_url(spec: FormSpec, number: str) -> str:
    if spec.entry == "screening":
        return f"/participants/{number}/screening/{spec.name}"
    if spec.entry == "genotype":
        return f"/participants/{number}/genotypes/new"
    if spec.repeating:
        return f"/participants/{number}/forms/{spec.name}/new"
    return f"/participants/{number}/forms/{spec.name}"


def _fields(spec: FormSpec) -> list[FieldSpec]:
    return list(spec.fields)


def check_value(spec: FormSpec, field: FieldSpec, value: Any, stored: Any,
                participant: Participant) -> None:
    """A stored value obeys the field's hard rules."""
    where = f"{spec.name}.{field.name}={value!r}"
    if value is None:
        return
    if isinstance(value, str):
        assert "\x00" not in value, where
        if field.max_length is not None:
            assert len(value) <= field.max_length, where
    if field.kind == "date":
        assert isinstance(value, date) and value <= date.today(), where
        if "birth" in field.not_before:
            assert (value.year, value.month) >= (participant.birth_year,
                                                 participant.birth_month), where
        for anchor in field.not_before:
            other = getattr(stored, anchor, None)
            if isinstance(other, date):
                assert value >= other, where
    if field.kind in ("int", "float"):
        number = float(value)
        assert math.isfinite(number), where
        if field.minimum is not None:
            assert field.minimum.admits_from_below(number), where
        if field.maximum is not None:
            assert field.maximum.admits_from_above(number), where
    if field.kind == "enum" and field.enum is not None:
        assert isinstance(value, field.enum) or str(value) in field.codes, where


def check_stored(target: Target, spec: FormSpec) -> list[Any]:
    with make_session_factory(target.engine, write=False)() as session:
        rows = list(session.scalars(select(spec.model).where(
            spec.model.participant_id == target.participant.id)))
        for row in rows:
            for field in spec.fields:
                check_value(spec, field, getattr(row, field.name), row, target.participant)
        return rows


def assert_escaped(page: str, where: str) -> None:
    for injected in INJECTIONS:
        if injected.startswith("<") or injected.startswith("\">"):
            assert injected not in page, (where, injected)


@pytest.mark.parametrize("form_name", FORMS)
def test_crf_forms_under_hostile_input(target: Target, form_name: str) -> None:
    spec = load_forms()[form_name]
    url = form_url(spec, target.participant.study_number)
    fields = _fields(spec)

    @FUZZ
    @given(data=st.data())
    def post_once(data: st.DataObject) -> None:
        pairs: list[tuple[str, str]] = [("csrf_token", target.token)]
        for field in fields:
            presence = data.draw(st.sampled_from(["value", "value", "value", "missing", "twice"]))
            if presence == "missing":
                continue
            strategy = value_for(field.kind, field.codes)
            pairs.append((field.name, data.draw(strategy)))
            if presence == "twice":
                pairs.append((field.name, data.draw(strategy)))
        for extra in ("complete", "confirm_soft", "reason", "row_version"):
            if data.draw(st.booleans()):
                pairs.append((extra, data.draw(st.one_of(st.just("y"), hostile_text))))
        response = target.client.post(url, data=MultiDict(pairs))
        assert response.status_code < 500, response.status_code
        assert response.status_code in (200, 302, 400, 404, 409, 413, 422), response.status_code
        assert_escaped(response.get_data(as_text=True), url)
        check_stored(target, spec)

    post_once()
    number = target.participant.study_number
    list_url = url.removesuffix("/new") if spec.entry == "generic" else url
    for page_url in (f"/participants/{number}", list_url, f"/participants/{number}/review",
                     f"/participants/{number}/trail"):
        response = target.client.get(page_url)
        assert response.status_code < 500
        assert_escaped(response.get_data(as_text=True), page_url)


def test_stored_script_is_shown_escaped(target: Target) -> None:
    """A script typed into a free-text field is kept as text and shown as text."""
    number = target.participant.study_number
    response = target.client.post(f"/participants/{number}/forms/deviations/new", data={
        "csrf_token": target.token, "occurred_on": "2024-03-12", "category": "other",
        "description": SCRIPT, "is_major": "n", "corrective_action": SCRIPT})
    assert response.status_code in (302, 422), response.status_code
    for url in (f"/participants/{number}/forms/deviations", f"/participants/{number}/trail"):
        page = target.client.get(url).get_data(as_text=True)
        assert SCRIPT not in page
        if response.status_code == 302:
            assert "&lt;script&gt;" in page, url


GRID_FIELDS = ("sampled_on", "virus", "specimen", "assay_id", "result", "unit")


def _check_loads(target: Target) -> None:
    with make_session_factory(target.engine, write=False)() as session:
        for load in session.scalars(select(ViralLoadResult).where(
                ViralLoadResult.participant_id == target.participant.id)):
            assert isinstance(load.state, ResultState) and isinstance(load.unit, LoadUnit)
            assert isinstance(load.virus, Virus) and isinstance(load.specimen, Specimen)
            assert load.sampled_on <= date.today()
            assert (load.sampled_on.year, load.sampled_on.month) >= (
                target.participant.birth_year, target.participant.birth_month)
            if load.value is not None:
                assert math.isfinite(float(load.value)) and float(load.value) >= 0
            assert "\x00" not in (load.reported_as or "")


def test_viral_load_grid_under_hostile_input(target: Target, world: World) -> None:
    url = f"/participants/{target.participant.study_number}/viral-loads"
    codes = {"virus": [v.value for v in Virus], "specimen": [s.value for s in Specimen],
             "unit": [u.value for u in LoadUnit],
             "assay_id": [str(world.cmv_assay.id), str(world.ttv_assay.id), "0", "-1", "abc"]}
    kinds = {"sampled_on": "date", "result": "float"}

    @FUZZ
    @given(data=st.data())
    def post_once(data: st.DataObject) -> None:
        rows = data.draw(st.integers(0, 3))
        pairs: list[tuple[str, str]] = [("csrf_token", target.token),
                                        ("row_count", data.draw(st.sampled_from(
                                            [str(rows), "-1", "abc", "99999", ""])))]
        for i in range(rows):
            for name in GRID_FIELDS:
                if data.draw(st.integers(0, 9)) == 0:
                    continue
                kind = kinds.get(name, "enum")
                value = data.draw(value_for(kind, codes.get(name, [])))
                pairs.append((f"rows-{i}-{name}", value))
        pairs.append(("action", data.draw(st.sampled_from(["save", "preview", "", "x"]))))
        response = target.client.post(url, data=MultiDict(pairs))
        assert response.status_code in (200, 302, 400, 422), response.status_code
        assert_escaped(response.get_data(as_text=True), url)
        _check_loads(target)

    post_once()
    page = target.client.get(url).get_data(as_text=True)
    assert_escaped(page, url)


def test_preview_api_under_wrong_types(target: Target) -> None:
    url = f"/api/participants/{target.participant.study_number}/viral-loads/preview"

    @FUZZ
    @given(body=st.one_of(json_values, st.fixed_dictionaries(
        {"rows": st.lists(st.one_of(json_values, st.fixed_dictionaries(
            {name: json_values for name in GRID_FIELDS})), max_size=4)})))
    def post_once(body: Any) -> None:
        response = target.client.post(url, json=body, headers={"X-CSRFToken": target.token})
        assert response.status_code in (200, 400, 422), response.status_code
        assert response.is_json

    post_once()
    raw = target.client.post(url, data=b"{not json", content_type="application/json",
                             headers={"X-CSRFToken": target.token})
    assert raw.status_code in (400, 422)
    _check_loads(target)
