"""An application over a committed database (both backends), with tokens for each role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from tests import factories
from tests.exports.cohort import Cohort, build_cohort
from trialdb import migrate
from trialdb.api import tokens
from trialdb.config import Settings
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.scratch import empty_database
from trialdb.vocab import Role
from trialdb.web.app import create_app


@dataclass
class ApiWorld:
    app: Flask
    engine: Engine
    cohort: Cohort
    tokens: dict[str, str]
    revoked: str
    instance: Path
    emails: dict[str, str]


@pytest.fixture(scope="module")
def api_world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    folder = tmp_path_factory.mktemp("api")
    with empty_database(backend, folder) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        issued: dict[str, str] = {}
        emails: dict[str, str] = {}
        with unit_of_work(make_session_factory(engine)) as session:
            cohort = build_cohort(session)
            owners = {
                "statistician": factories.user(session, Role.STATISTICIAN),
                "coordinator": factories.user(session, Role.COORDINATOR, sites=[cohort.site]),
                "other_coordinator": factories.user(session, Role.COORDINATOR, sites=[cohort.other_site]),
            }
            for name, owner in owners.items():
                emails[name] = owner.email
                issued[name] = tokens.create_token(session, factories.SYSTEM, owner, name)[1]
            row, revoked = tokens.create_token(session, factories.SYSTEM, owners["statistician"], "old")
            tokens.revoke_token(session, factories.SYSTEM, row.id)
        settings = Settings(database_url=url, instance_path=folder / "instance", secret_key="k" * 64)
        app = create_app(settings, engine=engine)
        app.config.update(TESTING=True)
        yield ApiWorld(app, engine, cohort, issued, revoked, folder / "instance", emails)
        engine.dispose()
