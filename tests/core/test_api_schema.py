"""The OpenAPI schema: it validates without warnings, has the examples, and the API answers
as it says (schemathesis against the Django WSGI app, bounded: no 500s, responses match the
schema), reads and writes. The schema itself needs a role (it is loaded with a token)."""

import datetime as dt
import re
from io import StringIO

import pytest
import schemathesis
import yaml
from django.apps import apps
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, models
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from werkzeug.test import Client as WsgiClient

from invoicing.services.generation import invoices_generate

pytestmark = pytest.mark.django_db

# POSTs the fuzzing may send: they read (preview) or are all-or-nothing and validated (ingest).
FUZZED_POSTS = {"/api/v1/invoices/preview", "/api/v1/invoices/ingest"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def schema_document(tmp_path) -> dict:
    path = tmp_path / "schema.yaml"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(path), stderr=StringIO()
    )
    return yaml.safe_load(path.read_text())


def test_the_schema_validates_without_warnings(schema_document):
    paths = schema_document["paths"]
    for path in (
        "/api/v1/legal-entities/",
        "/api/v1/accounts/{id}",
        "/api/v1/orders/{id}/activate",
        "/api/v1/billing-schedules/",
        "/api/v1/invoices/",
        "/api/v1/invoices/ingest",
        "/api/v1/invoices/generate",
        "/api/v1/error-logs/",
    ):
        assert path in paths, path
    assert {"tokenAuth", "cookieAuth"} <= set(schema_document["components"]["securitySchemes"])


def test_generate_and_ingest_have_examples(schema_document):
    for path in ("/api/v1/invoices/generate", "/api/v1/invoices/ingest"):
        content = schema_document["paths"][path]["post"]["requestBody"]["content"]
        examples = content["application/json"]["examples"]
        assert examples, path
    ingest = schema_document["paths"]["/api/v1/invoices/ingest"]["post"]
    assert {"200", "201"} <= set(ingest["responses"])
    names = {p["name"] for p in ingest["parameters"]}
    assert "Idempotency-Key" in names


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, called in the test's thread and transaction. Like Django's test
    client, keep the request signals from closing the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _first_id(app, auth: dict, path: str) -> int | None:
    """The id of the first row of the path's list (through the same WSGI app: Django's test
    client would reconnect the signals the fixture disconnected)."""
    response = WsgiClient(app).get(path.split("{id}")[0], headers=auth)
    if response.status_code != 200:
        return None
    results = response.get_json().get("results") or []
    return results[0]["id"] if results else None


def _first_lines(exc: BaseException) -> str:
    text = str(exc) if not hasattr(exc, "exceptions") else str(exc.exceptions[0])
    text = getattr(exc, "message", None) or text
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    keep = [ln for ln in lines if not ln.startswith(("{", "}", '"', "//", "Schema:", "Value:"))]
    return "\n    ".join(keep[:12])


def test_the_api_answers_as_its_schema_says(wsgi_app, admin, api_world):
    invoices_generate(
        account_id=api_world.account.pk, target_date=dt.date(2026, 2, 1), action="posted"
    )
    invoices_generate(account_id=api_world.account.pk, target_date=dt.date(2026, 3, 1))
    auth = {"Authorization": admin._credentials["HTTP_AUTHORIZATION"]}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=auth)
    tested, failures = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if not (method == "GET" or (method == "POST" and path in FUZZED_POSTS)):
            continue
        strategies = [(operation.as_strategy(headers=auth), 8)]
        if method == "GET" and re.fullmatch(r"[^{]*\{id\}[^{]*", path):
            real = _first_id(wsgi_app, auth, path)
            if real is not None:
                strategies.append(
                    (operation.as_strategy(headers=auth, path_parameters={"id": real}), 3)
                )
        for strategy, examples in strategies:

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case):
                case.call_and_validate(checks=CHECKS)

            try:
                check()
            except BaseException as exc:  # collect every operation's failure, then report all
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                failures.append(f"{method} {path}: {_first_lines(exc)}")
        tested.append(f"{method} {path}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    assert "GET /api/v1/invoices/" in tested and "POST /api/v1/invoices/ingest" in tested
    assert len(tested) >= 25


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NOT_XML_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _stored_texts_with_control_characters() -> list[tuple[str, str, int]]:
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                for pk, value in model._default_manager.values_list("pk", field.attname):
                    if value and NOT_XML_TEXT.search(value):
                        found.append((model._meta.label, field.name, pk))
    return found


def test_every_write_answers_without_a_server_error(wsgi_app, admin, api_world):
    """Every POST, PUT, PATCH and DELETE of the schema, fuzzed (bounded: a few schema-valid
    cases with generated ids, a few on real rows, a few schema-invalid ones): no 500, every
    response as the schema says, and nothing stored that an e-invoice or a PDF cannot hold."""
    invoices_generate(
        account_id=api_world.account.pk, target_date=dt.date(2026, 2, 1), action="posted"
    )
    invoices_generate(account_id=api_world.account.pk, target_date=dt.date(2026, 3, 1))
    auth = {"Authorization": admin._credentials["HTTP_AUTHORIZATION"]}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=auth)
    tested, failures = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if method not in WRITE_METHODS:
            continue
        strategies = [(operation.as_strategy(headers=auth), 5)]
        real = None
        if "{id}" in path:
            real = _first_id(wsgi_app, auth, path.split("{id}")[0] + "{id}")
        ids = {"id": real} if real is not None else None
        if ids:
            strategies.append((operation.as_strategy(headers=auth, path_parameters=ids), 5))
        if len(operation.body):  # schema-invalid bodies (a DELETE has nothing to break)
            negative = operation.as_strategy(
                GenerationMode.NEGATIVE, headers=auth, path_parameters=ids
            )
            strategies.append((negative, 3))
        for strategy, examples in strategies:

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case):
                case.call_and_validate(checks=CHECKS)

            try:
                check()
            except BaseException as exc:  # collect every operation's failure, then report all
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                failures.append(f"{method} {path}: {_first_lines(exc)}")
        tested.append(f"{method} {path}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    assert {"POST /api/v1/accounts/", "POST /api/v1/orders/{id}/activate"} <= set(tested)
    assert len(tested) >= 80
    assert _stored_texts_with_control_characters() == []
