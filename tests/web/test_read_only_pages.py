"""Read-only roles (monitor, statistician, admin) are refused the pages whose only
purpose is entering or importing data, GET included, and are offered no link to
them; the saved records stay theirs to read (the matrix of
tests/web/test_permissions.py has the statuses; this checks the pages)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from tests import factories
from tests.web.conftest import World, post, sign_in
from trialdb.db import make_session_factory, unit_of_work
from trialdb.models import CarTInfusion, Participant, Site
from trialdb.services import records, viral_loads
from trialdb.services.actor import Actor
from trialdb.vocab import (
    CarTProduct,
    Disease,
    DiseaseStatus,
    Lymphodepletion,
    ParticipantStatus,
    Role,
    TargetAntigen,
)

READ_ONLY = "Votre rôle permet la consultation seulement."
ENTRY_PAGES = ["/participants/new", "/labs/import", "/participants/{sn}/viral-loads",
               "/participants/{sn}/forms/serology/new", "/participants/{sn}/genotypes/new"]


@pytest.fixture()
def participant(engine: Engine, world: World) -> Participant:
    """Included at site A, infused 20 days ago (so viral loads are due), one load saved."""
    infused = date.today() - timedelta(days=20)
    system = Actor.system("test")
    with unit_of_work(make_session_factory(engine)) as session:
        site = session.get(Site, world.site_a.id)
        assert site is not None
        person = factories.participant(session, site)
        person.status = ParticipantStatus.INCLUDED
        person.included_on = infused
        records.create_record(session, system, person, CarTInfusion, {
            "infused_on": infused, "product": CarTProduct.TISAGENLECLEUCEL,
            "target_antigen": TargetAntigen.CD19, "disease": Disease.ALL,
            "disease_status": DiseaseStatus.RELAPSE, "prior_lines": 2, "prior_allo_hsct": False,
            "bridging_therapy": False, "lymphodepletion": Lymphodepletion.FLU_CY})
        viral_loads.save_rows(session, system, person, [viral_loads.LoadRow(
            sampled_on=infused.isoformat(), assay_id=str(world.cmv_assay.id), result="4321", unit="IU/mL")])
        session.flush()
        session.refresh(person)
        return person


def _client(app: Flask, engine: Engine, world: World, role: Role) -> FlaskClient:
    email = {Role.MONITOR: world.monitor.email, Role.ADMIN: world.admin.email,
             Role.COORDINATOR: world.coordinator_a.email}.get(role)
    if email is None:
        with unit_of_work(make_session_factory(engine)) as session:
            email = factories.user(session, role).email
    client = app.test_client()
    sign_in(client, email)
    return client


@pytest.mark.parametrize("role", [Role.MONITOR, Role.STATISTICIAN, Role.ADMIN])
def test_entry_pages_are_refused_with_the_read_only_message(
        app: Flask, engine: Engine, world: World, participant: Participant, role: Role) -> None:
    client = _client(app, engine, world, role)
    sn = participant.study_number
    for path in ENTRY_PAGES:
        response = client.get(path.format(sn=sn))
        assert response.status_code == 403, path
        assert READ_ONLY in response.get_data(as_text=True), path
    post(client, "/language", {"lang": "en", "next": "/"}, token_page="/")
    response = client.get("/participants/new")
    assert response.status_code == 403
    assert "Your role is read-only." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.MONITOR, Role.STATISTICIAN, Role.ADMIN])
def test_read_only_roles_read_the_records_and_see_no_entry_link(
        app: Flask, engine: Engine, world: World, participant: Participant, role: Role) -> None:
    client = _client(app, engine, world, role)
    sn = participant.study_number
    for path in (f"/participants/{sn}", f"/participants/{sn}/forms/infusion",
                 f"/participants/{sn}/forms/serology", f"/participants/{sn}/screening/eligibility",
                 f"/participants/{sn}/forms/resistance_genotype"):
        assert client.get(path).status_code == 200, path
    page = client.get(f"/participants/{sn}").get_data(as_text=True)
    # the saved results, which the entry grid lists for those who enter data
    assert 'id="saved-loads"' in page and "4321" in page
    assert f'href="/participants/{sn}#viral-loads" data-form="viral_loads"' in page
    for closed in ("/viral-loads\"", "/new\"", "/labs/import", "/genotypes/new"):
        assert closed not in page, closed
    # the viral loads' form, asked for by name, leads to the same place
    response = client.get(f"/participants/{sn}/forms/viral_loads")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/participants/{sn}#viral-loads")
    dashboard = client.get(f"/?site={world.site_a.code}").get_data(as_text=True)
    assert f'<a href="/participants/{sn}#viral-loads">{sn}</a>' in dashboard  # the due list
    for closed in ("/viral-loads\"", "/participants/new", "/labs/import"):
        assert closed not in dashboard, closed


def test_those_who_enter_data_keep_the_grid(app: Flask, engine: Engine, world: World,
                                            participant: Participant) -> None:
    client = _client(app, engine, world, Role.COORDINATOR)
    sn = participant.study_number
    page = client.get(f"/participants/{sn}").get_data(as_text=True)
    assert f'href="/participants/{sn}/viral-loads" data-form="viral_loads"' in page
    assert 'id="saved-loads"' not in page  # listed under the grid instead
    grid = client.get(f"/participants/{sn}/viral-loads").get_data(as_text=True)
    assert 'id="saved-loads"' in grid and "4321" in grid
    dashboard = client.get(f"/?site={world.site_a.code}").get_data(as_text=True)
    assert f'<a href="/participants/{sn}/viral-loads">{sn}</a>' in dashboard
    assert 'href="/participants/new' in dashboard and 'href="/labs/import"' in dashboard
