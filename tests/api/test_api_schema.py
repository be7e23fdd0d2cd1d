"""Property-based test of the REST API against its own OpenAPI document (schemathesis).

Every operation gets generated requests with a study-wide token; no answer
may be a server error, and every answer must match the document: status
code, content type, body schema. Examples are bounded so the whole test
runs in well under a minute per database.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ApiWorld

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture()
def api_schema(api_world: ApiWorld) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_world.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_openapi_document(case: Any, api_world: ApiWorld) -> None:
    token = api_world.tokens["statistician"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
