"""core/api.py: what every /api/ request meets before a view reads it. A body over the limit is
413 in the error shape (not a 500), a JSON body nested too deep is 400 (not a RecursionError),
with or without an Idempotency-Key; nothing is written. The schema needs a role."""

import json

import pytest

from accounts.models import Account
from core.models import IdempotencyKey

pytestmark = pytest.mark.django_db
API = "/api/v1/"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "k-1"}])
def test_a_six_megabyte_body_is_413_in_the_error_shape(ops, world, headers):
    body = json.dumps({"name": "x" * 6_000_000, "currency": "USD"})
    response = ops.generic(
        "POST", API + "accounts/", body, content_type="application/json", **headers
    )
    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "message": "The request body is larger than the 5,242,880 bytes an API request may "
        "carry; send less at once (e.g. one invoice per ingest request).",
        "details": {"max_bytes": 5242880},
    }
    assert Account.objects.count() == 1 and not IdempotencyKey.objects.exists()


def test_the_body_limit_is_a_setting(ops, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 1000, "currency": "USD"})
    response = ops.generic("POST", API + "accounts/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["details"] == {"max_bytes": 1000}
    small = ops.post(API + "accounts/", {"name": "Small Ltd", "currency": "USD"}, format="json")
    assert small.status_code == 201


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "k-2"}])
@pytest.mark.parametrize("path", ["accounts/", "invoices/ingest", "orders/"])
def test_json_nested_ten_thousand_deep_is_400(ops, world, headers, path):
    response = ops.generic(
        "POST", API + path, nested(10_000), content_type="application/json", **headers
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The JSON body nests arrays and objects more than 32 levels deep; no API "
        "input is nested that deep.",
        "details": {"non_field_errors": ["Nested 10000 levels deep."]},
    }
    assert Account.objects.count() == 1 and not IdempotencyKey.objects.exists()


def test_the_depth_counts_brackets_outside_strings_only(ops, world):
    name = "[" * 100 + "Acme {nested} Ltd" + "]" * 100
    response = ops.post(API + "accounts/", {"name": name[:200], "currency": "USD"}, format="json")
    assert response.status_code == 201, response.content
    at_limit = ops.generic("POST", API + "accounts/", nested(32), content_type="application/json")
    assert at_limit.status_code == 400
    assert "levels deep" not in at_limit.json()["message"]  # the serializer's own answer
    over = ops.generic("POST", API + "accounts/", nested(33), content_type="application/json")
    assert "33 levels deep" in str(over.json()["details"])


def test_the_schema_needs_a_role(client, reader, token_client):
    response = client.get("/api/schema/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert client.get("/api/docs/").status_code == 401
    nobody = token_client("nobody")
    assert nobody.get("/api/schema/").status_code == 403
    schema = reader.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi:" in schema.content
