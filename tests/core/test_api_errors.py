"""Every /api/ error is `{"code", "message", "details"}` JSON whatever DEBUG is: unknown paths and
ids (404), errors inside the API views (the REST framework's handler, core/api.py) and outside
them (Django's handler404/handler500/handler403, config/urls.py); pages outside /api/ keep
Django's HTML."""

import pytest
from django.test import Client

from accounts.api.setup import LegalEntityListCreateApi
from core.idempotency import IdempotencyMiddleware

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is the API error shape, as JSON, with this status (and code)."""
    content = response.content.decode()
    assert response.status_code == status, (response.status_code, content[:300])
    assert response["Content-Type"].startswith("application/json"), content[:300]
    assert "<html" not in content.lower()
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/v1/nope/",
        "/api/v1/invoices/abc",
        "/api/v1/invoices/1/nope",
        "/api/v1/",
        "/api/v1",
        "/api/nope",
        "/api/",
        "/api",
    ],
)
def test_an_unknown_api_path_is_a_json_404(debug, admin, path):
    body = assert_error(admin.get(path), 404, "not_found")
    assert body["details"] == {"path": path}
    # Another method, and no credentials, are the same 404 (not 403, 405 or a CSRF page).
    assert_error(admin.post(path, {}), 404, "not_found")
    assert_error(Client().post(path, {}), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/invoices/2/", "/api/v1/invoices/2", "/api/v1/accounts/1/", "/api/v1/accounts/1"],
)
def test_an_unknown_id_is_a_json_404(debug, admin, path):
    assert_error(admin.get(path), 404, "not_found")


def test_a_wrong_method_is_a_json_405(debug, admin):
    body = assert_error(admin.delete("/api/v1/accounts/"), 405, "method_not_allowed")
    assert body["message"] == 'Method "DELETE" not allowed.'


def test_an_error_inside_an_api_view_is_a_json_500(debug, admin, monkeypatch):
    def broken(self):
        raise RuntimeError("a secret detail that must not leak")

    monkeypatch.setattr(LegalEntityListCreateApi, "get_queryset", broken)
    client = Client(raise_request_exception=False)
    auth = admin._credentials["HTTP_AUTHORIZATION"]
    for path in ("/api/v1/legal-entities/", "/api/v1/legal-entities"):
        response = client.get(path, HTTP_AUTHORIZATION=auth)
        assert_error(response, 500, "server_error")
        assert "secret detail" not in response.content.decode()


@pytest.mark.urls("tests.core.raising_urls")
def test_errors_outside_the_api_views_are_json_under_api_only(settings):
    """Django's handlers (used with DEBUG off) answer JSON under /api/, HTML elsewhere."""
    settings.DEBUG = False
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/test-plain/boom")
    assert_error(response, 500, "server_error")
    assert "secret detail" not in response.content.decode()
    assert_error(client.get("/api/v1/test-plain/missing"), 404, "not_found")
    assert_error(client.get("/api/v1/test-plain/forbidden"), 403, "permission_denied")

    for path, status in (("/test-plain/boom", 500), ("/test-plain/missing", 404)):
        page = client.get(path)
        assert page.status_code == status
        assert page["Content-Type"].startswith("text/html")


def test_pages_outside_the_api_keep_their_html_404(settings, client):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_error_raised_in_a_middleware_is_json_with_debug_on_too(debug, admin, monkeypatch):
    """Django answers an exception raised in a middleware with its HTML debug page when DEBUG
    is on (handler500 is not used): under /api/ it is the error shape, with no traceback."""

    def broken(self, request):
        raise RuntimeError("a secret detail that must not leak")

    monkeypatch.setattr(IdempotencyMiddleware, "__call__", broken)
    client = Client(raise_request_exception=False)
    response = client.get(
        "/api/v1/accounts/", HTTP_AUTHORIZATION=admin._credentials["HTTP_AUTHORIZATION"]
    )
    assert_error(response, 500, "server_error")
    assert "secret detail" not in response.content.decode()
    # Outside /api/ Django's page stays.
    page = client.get("/accounts/")
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


def test_a_refused_host_is_json_under_api(debug, admin):
    response = admin.get("/api/v1/accounts/", HTTP_HOST="evil.example")
    assert_error(response, 400, "bad_request")


def test_a_csrf_failure_of_a_session_client_is_json(debug, django_user_model):
    user = django_user_model.objects.create_superuser("sess", password="pw-sess-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/legal-entities/", {"name": "X"})
    assert_error(response, 403)
