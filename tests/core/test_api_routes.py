"""Every route of /api/v1/ (config/api_urls.py) against the slash rule and the error shape.

The rule (../shared/API.md): a collection ends with a slash (`invoices/`); an item and an action
do not (`invoices/12`, `invoices/12/post`, `invoices/generate`). Routes, their names and the
schema's paths are written that way; the other form answers the same (never a redirect, never
an HTML 404), and every error on either form is `{"code", "message", "details"}` JSON.
"""

import datetime as dt
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from freezegun import freeze_time
from rest_framework.test import APIClient

from config import api_urls
from invoicing.services.generation import invoices_generate

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1/"
UNKNOWN_ID = "999999"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
ROUTES: list[tuple[str, URLPattern]] = [(str(p.pattern), p) for p in api_urls.routes]


def other_form(route: str) -> str:
    return route[:-1] if route.endswith("/") else f"{route}/"


def with_ids(route: str, value: str) -> str:
    return PREFIX + PARAM.sub(value, route)


def allowed_methods(pattern: URLPattern) -> list[str]:
    cls = pattern.callback.cls
    return [m for m in METHODS if m.lower() in cls.http_method_names and hasattr(cls, m.lower())]


def call(client: APIClient, method: str, path: str):
    if method in ("POST", "PUT", "PATCH"):
        return getattr(client, method.lower())(path, {}, format="json")
    return getattr(client, method.lower())(path)


def answer(response) -> tuple[int, str, object]:
    """Status, content type and body (JSON decoded) of a response."""
    content_type = response.get("Content-Type", "")
    body = response.json() if content_type.startswith("application/json") else response.content
    return response.status_code, content_type, body


def shape_problem(response) -> str | None:
    """What is wrong with an error response, or None: JSON {"code", "message", "details"}."""
    status, content_type, body = answer(response)
    if not content_type.startswith("application/json"):
        return f"{status} is {content_type or 'no content type'}, not JSON"
    if not (isinstance(body, dict) and set(body) == {"code", "message", "details"}):
        return f"{status} body is not the error shape: {str(body)[:200]}"
    if not (body["code"] and body["message"] and isinstance(body["details"], dict)):
        return f"{status} error shape with empty parts: {body}"
    return None


def url_conf_routes(patterns=None, prefix: str = ""):
    """(route, pattern) of every route of the project's URL conf, includes unfolded."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_conf_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def test_the_walked_routes_are_every_route_of_the_url_conf_under_api_v1():
    """Every /api/v1/ route of the URL conf is a contract route (a REST framework view) or the
    other slash form of one; the tests below walk the former on both forms."""
    views, others = set(), set()
    for route, pattern in url_conf_routes():
        if route.startswith("api/v1/"):
            kind = views if hasattr(pattern.callback, "cls") else others
            kind.add(route.removeprefix("api/v1/"))
    assert views == {route for route, _ in ROUTES}
    assert others == {other_form(route) for route, _ in ROUTES}


def test_routes_follow_the_slash_rule_under_their_names():
    assert len(ROUTES) >= 40
    written = {route for route, _ in ROUTES}
    for route, pattern in ROUTES:
        collection = re.fullmatch(r"[a-z-]+/", route) is not None
        assert route.endswith("/") == collection, f"{route}: collections only end with a slash"
        assert other_form(route) not in written, route
        assert pattern.name, f"{route} has no name"
        kwargs = dict.fromkeys(PARAM.findall(route), 7)
        assert reverse(pattern.name, kwargs=kwargs) == with_ids(route, "7"), route
        # The other form is the same view under the same name (so the same permissions).
        match = resolve(with_ids(other_form(route), "7"))
        assert match.url_name == pattern.name, route
        assert match.func.__doc__ == f"{route}, written {other_form(route)}"


def test_the_schema_lists_each_route_once_as_written():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema_paths = {path for path in schema["paths"] if path.startswith(PREFIX)}
    expected = {
        PREFIX + PARAM.sub(lambda m: "{id}" if m[1] == "pk" else f"{{{m[1]}}}", route)
        for route, _ in ROUTES
    }
    assert schema_paths == expected
    assert "/api/v1/credit-memos/{id}" in schema_paths
    assert "/api/v1/credit-memos/{id}/" not in schema_paths


@pytest.fixture
def invoiced(api_world):
    """The API world with a posted invoice (February) and a draft (March)."""
    invoices_generate(
        account_id=api_world.account.pk, target_date=dt.date(2026, 2, 1), action="posted"
    )
    invoices_generate(account_id=api_world.account.pk, target_date=dt.date(2026, 3, 1))
    return api_world


@freeze_time("2026-11-24 12:00:00")  # answers embed signed, timestamped links (hosted_url)
def test_every_route_answers_both_slash_forms_and_errors_in_one_shape(admin, invoiced):
    problems: list[str] = []
    anonymous = APIClient()
    for route, pattern in ROUTES:
        methods = allowed_methods(pattern)
        has_id = bool(PARAM.search(route))
        wrong = next(m for m in METHODS if m not in methods)
        answers: dict[str, list] = {}
        for form in (route, other_form(route)):
            path = with_ids(form, UNKNOWN_ID)
            seen = answers.setdefault(form, [])
            for method in methods:
                if not has_id and method != "GET" and method != "POST":
                    continue
                response = call(admin, method, path)
                status = response.status_code
                seen.append((method, *answer(response)))
                if not has_id and method == "GET":
                    if status != 200:
                        problems.append(f"GET {path}: {status}, not 200")
                    continue
                # An unknown id (or, without an id, an empty POST): a 404 or a 400, in shape.
                if status not in (400, 404):
                    problems.append(f"{method} {path}: {status}, not 404/400")
                if problem := shape_problem(response):
                    problems.append(f"{method} {path}: {problem}")
            response = call(admin, wrong, path)
            seen.append((wrong, *answer(response)))
            if response.status_code != 405:
                problems.append(f"{wrong} {path}: {response.status_code}, not 405")
            elif problem := shape_problem(response):
                problems.append(f"{wrong} {path}: {problem}")
            response = call(anonymous, methods[0], path)
            if response.status_code != 401:
                problems.append(f"anonymous {methods[0]} {path}: {response.status_code}, not 401")
            elif problem := shape_problem(response):
                problems.append(f"anonymous {methods[0]} {path}: {problem}")
        if answers[route] != answers[other_form(route)]:
            problems.append(f"{route} and {other_form(route)} answer differently")
    assert not problems, "\n".join(problems)


# Item routes that answer only for a posted document (the first row may be a draft).
POSTED_ONLY = {"invoices/<int:pk>/einvoice", "credit-memos/<int:pk>/einvoice"}


def test_an_existing_item_answers_on_both_slash_forms(admin, invoiced):
    """Each item route with a GET, on the first row of its collection, answers 200 and the same
    on both forms (the other form is the resource, not a redirect)."""
    written = {route for route, _ in ROUTES}
    checked = []
    for route, pattern in ROUTES:
        if PARAM.findall(route) != ["pk"] or "GET" not in allowed_methods(pattern):
            continue
        collection = route.split("<", 1)[0]
        if collection not in written:
            continue
        rows = admin.get(PREFIX + collection).json()["results"]
        if not rows:
            continue
        item = str(rows[0]["id"])
        first = admin.get(with_ids(route, item))
        second = admin.get(with_ids(other_form(route), item))
        if route in POSTED_ONLY and rows[0]["status"] == "draft":
            # A draft has no e-invoice: the same refusal on both forms.
            assert first.status_code == second.status_code == 409, route
            assert first.json() == second.json(), route
            checked.append(route)
            continue
        assert first.status_code == second.status_code == 200, route
        if first["Content-Type"].startswith("application/json"):
            assert first.json() == second.json(), route
        else:
            assert first["Content-Type"] == second["Content-Type"], route
        checked.append(route)
    assert {"invoices/<int:pk>", "invoices/<int:pk>/pdf", "accounts/<int:pk>"} <= set(checked)
