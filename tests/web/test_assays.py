"""Assays: administrators and data managers list, declare and correct them;
the model's limits and the study's copies-per-IU rule are checked with a
message next to each field; every change is audited (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.web.conftest import World, post, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.errors import Forbidden
from trialdb.models import Assay, AuditEvent, ViralLoadResult
from trialdb.services import assays, records
from trialdb.services.actor import Actor
from trialdb.services.form_entry import FieldErrors
from trialdb.vocab import LoadUnit, ResultState, Role, Specimen, Virus

CMV = {"name": "", "virus": "CMV", "specimen": "plasma", "unit": "IU/mL",
       "limit_of_detection": "20", "lloq": "62", "copies_per_iu": "1,1"}


def _values(**changes: str) -> assays.AssayValues:
    return assays.AssayValues(**{**CMV, **changes})


@pytest.fixture()
def manager(db: Session) -> Actor:
    return Actor.of(factories.user(db, Role.DATA_MANAGER, []))


def _errors(values: assays.AssayValues) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        assays.clean(values)
    return caught.value.for_language("en")


def test_clean_checks_every_field_at_once() -> None:
    errors = _errors(assays.AssayValues(virus="HIV", limit_of_detection="abc", lloq="-3",
                                        copies_per_iu="2"))
    assert set(errors) == {"name", "virus", "specimen", "unit", "limit_of_detection", "lloq"}
    assert "number" in errors["limit_of_detection"]
    assert "positive" in errors["lloq"]


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"copies_per_iu": "12"}, "copies_per_iu", "not plausible"),
    ({"copies_per_iu": "0.05"}, "copies_per_iu", "not plausible"),
    ({"copies_per_iu": "x"}, "copies_per_iu", "number"),
    ({"virus": "TTV", "unit": "copies/mL", "copies_per_iu": "1.1"}, "copies_per_iu",
     "CMV assays only"),
    ({"virus": "TTV", "copies_per_iu": ""}, "unit", "copies/mL"),
    ({"limit_of_detection": "100", "lloq": "62"}, "limit_of_detection", "above the LLOQ"),
    ({"name": "x" * 121}, "name", "120"),
])
def test_clean_refuses(changes: dict[str, str], field: str, words: str) -> None:
    values = _values(**{"name": "Some PCR", **changes})
    errors = _errors(values)
    assert field in errors and words in errors[field]


def test_clean_accepts_lab_notation() -> None:
    clean = assays.clean(_values(name="  Abbott   RealTime CMV ", limit_of_detection="34,5",
                                 lloq="62", copies_per_iu="1,1"))
    assert clean == {"name": "Abbott RealTime CMV", "virus": Virus.CMV,
                     "specimen": Specimen.PLASMA, "unit": LoadUnit.IU_PER_ML,
                     "limit_of_detection": 34.5, "lloq": 62.0, "copies_per_iu": 1.1}
    assert assays.clean(_values(name="TTV", virus="TTV", unit="copies/mL", copies_per_iu="",
                                limit_of_detection="", lloq=""))["lloq"] is None


def test_create_and_update_are_audited(db: Session, manager: Actor) -> None:
    name = f"CMV PCR {factories.site(db).code}"
    assay = assays.create_assay(db, manager, _values(name=name))
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.entity, event.entity_id) == ("create", "assay", assay.id)
    assert event.changes is not None and event.changes["copies_per_iu"] == [None, 1.1]
    assays.update_assay(db, manager, assay.id, _values(name=name, lloq="50"))
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.action == "update" and event.changes == {"lloq": [62.0, 50.0]}
    with pytest.raises(FieldErrors) as caught:
        assays.create_assay(db, manager, _values(name=name.lower()))
    assert "already exists" in caught.value.for_language("en")["name"]


def test_an_assay_in_use_keeps_its_meaning(db: Session, manager: Actor) -> None:
    site = factories.site(db)
    assay = assays.create_assay(db, manager, _values(name=f"CMV used {site.code}"))
    participant = factories.participant(db, site)
    records.create_record(db, Actor.system("test"), participant, ViralLoadResult, {
        "virus": Virus.CMV, "specimen": Specimen.PLASMA, "sampled_on": date(2024, 3, 12),
        "assay_id": assay.id, "state": ResultState.QUANTIFIED, "value": 5951.0,
        "unit": LoadUnit.IU_PER_ML, "reported_as": "5951"})
    with pytest.raises(FieldErrors) as caught:
        assays.update_assay(db, manager, assay.id, _values(name=assay.name, unit="copies/mL"))
    errors = caught.value.for_language("en")
    assert set(errors) == {"unit", "reason"}
    assert assay.unit is LoadUnit.IU_PER_ML
    assays.update_assay(db, manager, assay.id, _values(name=assay.name, copies_per_iu="0.9"),
                        reason="Laboratory's new calibration")
    assert assay.copies_per_iu == 0.9
    assert dict(assays.list_assays(db))[assay] == 1


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR,
                                  Role.STATISTICIAN])
def test_other_roles_may_not_manage_assays(db: Session, role: Role) -> None:
    someone = Actor.of(factories.user(db, role, [factories.site(db)]))
    with pytest.raises(Forbidden):
        assays.create_assay(db, someone, _values(name="Forbidden PCR"))


# --- the pages ------------------------------------------------------------------


def _count(engine: Engine, name: str) -> int:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(func.count()).select_from(Assay)
                              .where(Assay.name == name)) or 0


def test_data_manager_creates_and_edits_an_assay(app: Flask, engine: Engine,
                                                 world: World) -> None:
    with unit_of_work(make_session_factory(engine)) as session:
        email = factories.user(session, Role.DATA_MANAGER, []).email
    client = app.test_client()
    sign_in(client, email)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/assays"' in home
    page = client.get("/assays").get_data(as_text=True)
    assert world.cmv_assay.name in page and "Techniques de PCR" in page
    name = f"Abbott RealTime CMV {world.site_a.code}"
    response = post(client, "/assays/new", {**CMV, "name": name, "copies_per_iu": "15"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'data-field="copies_per_iu">Le facteur copies par UI 15 n' in body
    assert _count(engine, name) == 0
    response = post(client, "/assays/new", {**CMV, "name": name})
    assert response.status_code == 302
    assert _count(engine, name) == 1
    with make_session_factory(engine, write=False)() as session:
        assay = session.scalars(select(Assay).where(Assay.name == name)).one()
    page = client.get(f"/assays/{assay.id}").get_data(as_text=True)
    assert f'value="{name}"' in page and 'value="1.1"' in page
    response = post(client, f"/assays/{assay.id}", {**CMV, "name": name, "lloq": "10",
                                                    "limit_of_detection": "20"})
    assert response.status_code == 422
    assert 'data-field="limit_of_detection"' in response.get_data(as_text=True)
    response = post(client, f"/assays/{assay.id}", {**CMV, "name": name, "lloq": "50"})
    assert response.status_code == 302
    with make_session_factory(engine, write=False)() as session:
        assert session.get(Assay, assay.id).lloq == 50.0  # type: ignore[union-attr]
        assert session.scalar(select(AuditEvent.action).where(
            AuditEvent.entity == "assay", AuditEvent.entity_id == assay.id)
            .order_by(AuditEvent.id.desc()).limit(1)) == "update"
    assert client.get("/assays/999999999").status_code == 404


def test_assay_page_in_english(app: Flask, world: World) -> None:
    client = app.test_client()
    sign_in(client, world.admin.email)
    post(client, "/language", {"lang": "en", "next": "/assays"}, token_page="/assays")
    page = client.get("/assays/new").get_data(as_text=True)
    assert "Copies per IU factor" in page and "Lower limit of quantification" in page


def test_coordinator_cannot_reach_the_assay_pages(app: Flask, engine: Engine,
                                                  world: World) -> None:
    client = app.test_client()
    sign_in(client, world.coordinator_a.email)
    assert 'href="/assays"' not in client.get("/").get_data(as_text=True)
    assert client.get("/assays").status_code == 403
    assert client.get(f"/assays/{world.cmv_assay.id}").status_code == 403
    name = f"Sneaky {world.site_a.code}"
    assert post(client, "/assays/new", {**CMV, "name": name},
                token_page="/").status_code == 403
    assert _count(engine, name) == 0
