"""The permission matrix (integrity issue, item 10): every route of the
application × every role × an object of the user's own site and of another
site, against the one table in trialdb/permissions.py.

One world per database backend (its own fresh database, module-scoped), one
signed-in client per role, reused by every case. Pages are probed with GET;
POSTs carry a valid CSRF token and an empty or incomplete body, so an
allowed role gets a validation answer and a refused one a 403 or 404, and a
refused POST is checked to have written nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from tests.conftest import empty_database
from tests.web.conftest import csrf_token, make_app, sign_in
from tests.web.permission_world import PermissionWorld, build_permission_world
from trialdb import migrate
from trialdb.db import make_engine
from trialdb.permissions import ROLES, Rule, parse
from trialdb.vocab import Role

RULES = parse()
#: Endpoints whose probe changes the session itself (sign-in, sign-out,
#: language): each case gets a client of its own.
OWN_CLIENT = ("auth.", "second_factor.")
#: Bodies of the probes that need one (the default is an empty form).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("review.query", "POST"): {"data": {"action": "answer", "text": ""}},
    ("admin.set_active", "POST"): {"data": {"active": "1"}},
    ("auth.switch_language", "POST"): {"data": {"lang": "en", "next": "/"}},
    ("viral_loads.preview", "POST"): {"json": {"rows": []}},
    ("api.viral_loads", "POST"): {"json": {}},
    ("api.start_export", "POST"): {"json": {"formats": ["csv"]}},
}
_WRITE_TABLES = ("audit_event", "participant", "data_query", "query_message", "record_review",
                 "signature", "assay", "export_bundle", "app_user", "clinical_course",
                 "car_t_infusion", "resistance_genotype", "eligibility_assessment",
                 "viral_load_result", "api_token")


@dataclass
class Matrix:
    engine: Engine
    app: Flask
    world: PermissionWorld
    clients: dict[Role, FlaskClient]
    tokens: dict[Role, str]


def _build(backend: str, folder: Path, stack: ExitStack) -> Matrix:
    url = stack.enter_context(empty_database(backend, folder))
    engine = make_engine(url)
    stack.callback(engine.dispose)
    migrate.upgrade(engine)
    world = build_permission_world(engine, folder / "exports")
    app = make_app(engine, folder)
    clients = {}
    for role, user in world.users.items():
        client = app.test_client()
        sign_in(client, user.email)
        client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client, "/")
        clients[role] = client
    return Matrix(engine, app, world, clients, world.tokens)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Matrix]]:
    """One world per backend, built at its first use and kept for the module
    (however the cases of the two backends are ordered)."""
    with ExitStack() as stack:
        yield _Worlds(tmp_path_factory, stack)


class _Worlds(dict[str, Matrix]):
    def __init__(self, factory: pytest.TempPathFactory, stack: ExitStack) -> None:
        super().__init__()
        self.factory, self.stack = factory, stack

    def __missing__(self, backend: str) -> Matrix:
        built = _build(backend, self.factory.mktemp(f"permissions-{backend}"), self.stack)
        self[backend] = built
        return built


@pytest.fixture()
def matrix(backend: str, worlds: dict[str, Matrix]) -> Matrix:
    return worlds[backend]


def _fingerprint(engine: Engine) -> tuple[int, ...]:
    """Row counts and versions of the tables a write would touch."""
    with engine.connect() as connection:
        counts = tuple(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                       for table in _WRITE_TABLES)
        versions = connection.execute(text(
            "SELECT coalesce(sum(row_version), 0) FROM clinical_course")).scalar_one()
        active = connection.execute(text(
            "SELECT count(*) FROM app_user WHERE is_active")).scalar_one()
    return (*counts, int(versions), int(active))


def _path(matrix: Matrix, rule: Rule, site: str) -> str:
    objects = matrix.world.own if site == "own" else matrix.world.other
    return rule.path.format(**objects.fill(), **matrix.world.shared)


def _request(matrix: Matrix, rule: Rule, role: Role | None, site: str) -> TestResponse:
    path = _path(matrix, rule, site)
    body = dict(BODIES.get(rule.key, {}))
    if rule.endpoint.startswith("api."):
        client = matrix.app.test_client()
        headers = {} if role is None else {"Authorization": f"Bearer {matrix.tokens[role]}"}
        return client.open(path, method=rule.method, headers=headers, **body)
    if role is None or rule.endpoint.startswith(OWN_CLIENT):
        client = matrix.app.test_client()
        if role is not None:
            sign_in(client, matrix.world.twins[role].email)
        token = csrf_token(client, "/login" if role is None else "/")
        client.environ_base["HTTP_X_CSRFTOKEN"] = token
    else:
        client = matrix.clients[role]
        token = client.environ_base["HTTP_X_CSRFTOKEN"]
    if rule.method == "POST" and "json" not in body:
        body["data"] = {**body.get("data", {}), "csrf_token": token}
    return client.open(path, method=rule.method, **body)


CASES = [pytest.param(key, role, site, id=f"{key[0]}-{key[1]}-{role.value}-{site}")
         for key, rule in RULES.items() for role in ROLES
         for site in (("own", "other") if rule.other is not None else ("own",))]


@pytest.mark.parametrize(("key", "role", "site"), CASES)
def test_permission_matrix(matrix: Matrix, key: tuple[str, str], role: Role,
                           site: str) -> None:
    rule = RULES[key]
    expected = (rule.own if site == "own" else rule.other or {})[role]
    before = _fingerprint(matrix.engine) if rule.method == "POST" and expected in (
        401, 403, 404) else None
    response = _request(matrix, rule, role, site)
    if os.environ.get("PERMISSION_MATRIX_DUMP"):
        print(f"\nOBSERVED {key[0]} {key[1]} {role.value} {site} {response.status_code}")
    assert response.status_code == expected, (
        f"{rule.method} {_path(matrix, rule, site)} as {role.value} ({site} site): "
        f"{response.status_code}, the table says {expected}: "
        f"{response.get_data(as_text=True)[:300]}")
    if before is not None:
        assert _fingerprint(matrix.engine) == before, "a refused POST wrote something"


@pytest.mark.parametrize("key", list(RULES))
def test_anonymous(matrix: Matrix, key: tuple[str, str]) -> None:
    rule = RULES[key]
    response = _request(matrix, rule, None, "own")
    if os.environ.get("PERMISSION_MATRIX_DUMP"):
        print(f"\nOBSERVED {key[0]} {key[1]} anonymous own {response.status_code}")
    assert response.status_code == rule.anonymous
    if response.status_code == 302 and not rule.endpoint.startswith(OWN_CLIENT):
        assert "/login" in response.headers["Location"]


def test_every_route_is_in_the_table(matrix: Matrix) -> None:
    routes = {(rule.endpoint, method) for rule in matrix.app.url_map.iter_rules()
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert sorted(routes - set(RULES)) == [], "routes missing from trialdb/permissions.py"
    assert sorted(set(RULES) - routes) == [], "rows of trialdb/permissions.py with no route"


def test_every_path_reaches_its_endpoint(matrix: Matrix) -> None:
    """The table's paths are those of their endpoints (no row tests another route)."""
    adapter = matrix.app.url_map.bind("localhost")
    for rule in RULES.values():
        path = _path(matrix, rule, "own").split("?")[0]
        endpoint, _args = adapter.match(path, method=rule.method)
        assert endpoint == rule.endpoint, (rule.path, endpoint)


def test_markdown_documentation_is_current() -> None:
    from trialdb.permissions import as_markdown

    document = Path(__file__).parents[2] / "docs" / "permissions.md"
    assert as_markdown() in document.read_text(encoding="utf-8"), (
        "docs/permissions.md is stale: regenerate it with "
        "`python -m trialdb.permissions > docs/permissions.md`")
