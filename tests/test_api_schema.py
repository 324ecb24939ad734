"""Property-based tests of the running API against its own OpenAPI schema (schemathesis): no
server errors, and every status code, content type and response body as the schema declares."""

import pytest
import schemathesis
from api_server import TOKEN, guarded_settings, running
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    (root / "a.md").write_text(
        (SHARED / "corpus" / "smolrag_docs" / "06-query-types.md").read_text()
    )
    settings = guarded_settings(
        tmp_path_factory.mktemp("index"), TOKEN, root, api_failed_logins_per_minute=10
    )
    with running(settings) as url:
        yield schemathesis.openapi.from_url(
            f"{url}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}
        )


def test_api_conforms_to_its_schema(api_schema):
    """Each operation fuzzed on its own (schemathesis' pytest plug-in predates this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /query",
        "POST /retrieve",
        "POST /documents",
        "GET /documents",
        "DELETE /documents/{source}",
        "GET /health",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def conforms(case):
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS, timeout=60
            )

        conforms()
