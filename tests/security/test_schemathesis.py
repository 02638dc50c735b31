"""schemathesis against the project's own OpenAPI document, in-process (WSGI), with a token."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

CONFIG = {
    "seed": 7,
    "generation": {"max-examples": 25, "deterministic": True},
    "operations": [
        {
            "include-name": ["POST /api/calculations", "POST /api/functions"],
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 401, 404, 409, 422]}},
        }
    ],
}

schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", get_wsgi_application(), config=schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
)


@pytest.fixture
def in_test_transaction(db):
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(in_test_transaction, case, api_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"})
