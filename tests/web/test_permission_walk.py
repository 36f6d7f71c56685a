"""The permission walk of the staff UI and the Django admin: every view of the URL conf, found by
walking it (so a view added later is walked too), refuses an anonymous visitor (to the login
page), a signed-in user without a role (403) and, for every write, a read-only user (403).
Only the sign-in pages and the customers' hosted pages (their token is their key) are open."""

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.regex_helper import normalize

from core.permissions import READ_ONLY
from invoicing.services.generation import invoices_generate

pytestmark = pytest.mark.django_db

# Views open to anyone, by (namespace, url name), and why.
OPEN_VIEWS = {
    ("web", "login"): "the sign-in page",
    ("web", "logout"): "signing out",
    ("admin", "login"): "the admin's sign-in page",
    ("admin", "logout"): "signing out",
    ("admin", "jsi18n"): "the admin's translations script (sends the visitor to sign in)",
}
# Admin pages any signed-in staff member sees, showing nothing it may not read.
ADMIN_STAFF_PAGES = {"index", "app_list", "password_change", "password_change_done", "jsi18n"}
OPEN_NAMESPACES = {"portal": "customers' hosted pages: the signed token in the URL is the key"}


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, regex, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield regex, pattern, namespace


def _example(regex: str, name: str) -> str:
    """A value of the URL argument `name`: the first word a `(?P<name>a|b|c)` group allows,
    else 1."""
    group = re.search(rf"\(\?P<{name}>([\w|]+)\)", regex)
    return group.group(1).split("|")[0] if group else "1"


def routes(namespace: str, values: dict[str, str] | None = None) -> list[tuple[str, str, type]]:
    """(path, url name, view class or function) of every route of the namespace, each URL
    argument set from `values` (by name) or to an example value."""
    values = values or {}
    out = []
    for regex, pattern, ns in _walk(get_resolver().url_patterns):
        if ns != namespace:
            continue
        fmt, params = normalize(regex)[0]
        path = "/" + fmt % {name: values.get(name) or _example(regex, name) for name in params}
        view = getattr(pattern.callback, "view_class", pattern.callback)
        out.append((path, pattern.name or "", view))
    return out


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _accepts_post(view) -> bool:
    return hasattr(view, "post") and "post" in getattr(view, "http_method_names", ())


def test_every_namespace_is_walked():
    namespaces = {ns for _regex, _pattern, ns in _walk(get_resolver().url_patterns)}
    # None: /api/ (walked by tests/core/test_permissions.py).
    assert namespaces == {"web", "admin", "portal", None}, namespaces
    assert set(OPEN_NAMESPACES) == {"portal"}
    assert len(routes("web")) >= 60


@pytest.fixture
def things(billed):
    invoices_generate(account_id=billed.account.pk, target_date=dt.date(2026, 2, 15))
    return billed


# --- the staff UI ------------------------------------------------------------------------------


def test_every_ui_view_sends_an_anonymous_visitor_to_sign_in(client, things):
    passed = []
    for path, name, _view in routes("web"):
        if ("web", name) in OPEN_VIEWS:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            location = response.get("Location", "")
            if response.status_code != 302 or not location.startswith(reverse("web:login")):
                passed.append((method, path, response.status_code))
    assert passed == []


@pytest.mark.parametrize("flags", [{}, {"is_staff": True}])
def test_every_ui_view_refuses_a_user_without_role(things, flags):
    client = _client(User.objects.create_user("nobody", **flags))
    passed = []
    for path, name, _view in routes("web"):
        if ("web", name) in OPEN_VIEWS:
            continue
        for method in ("get", "post"):
            status = getattr(client, method)(path).status_code
            if status != 403:
                passed.append((method, path, status))
    assert passed == []


def test_every_ui_write_refuses_a_read_only_user(things, ro_user):
    client = _client(ro_user)
    writes = [(path, name) for path, name, view in routes("web") if _accepts_post(view)]
    passed = []
    for path, name in writes:
        if ("web", name) in OPEN_VIEWS:
            continue
        status = client.post(path, {"name": "x", "amount": "1.00"}).status_code
        if status != 403:
            passed.append((path, status))
    assert passed == []
    assert len(writes) >= 40


# --- the Django admin ----------------------------------------------------------------------------


@pytest.fixture
def staff(roles):
    """Staff users: one in no role group, one read-only (the admin needs the staff flag)."""
    nobody = User.objects.create_user("nobody", is_staff=True)
    reader = User.objects.create_user("reader", is_staff=True)
    reader.groups.add(Group.objects.get(name=READ_ONLY))
    return nobody, reader


def _admin_routes() -> list[tuple[str, str, str]]:
    """(path, url name, model label or "") of every admin route, object ids set to the first
    row of the model when there is one (so a view that finds the row must refuse)."""
    out = []
    for model in admin.site._registry:
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for path, name, _view in routes("admin", {"object_id": str(first or 1)}):
            if name.startswith(prefix):
                out.append((path, name, model._meta.label if first else ""))
    model_names = {name for _path, name, _label in out}
    for path, name, _view in routes("admin"):
        if name not in model_names:
            out.append((path, name, ""))
    return out


def test_every_admin_view_sends_an_anonymous_visitor_to_sign_in(client, things):
    passed = []
    for path, name, _label in _admin_routes():
        if ("admin", name) in OPEN_VIEWS:
            continue
        response = client.get(path)
        if response.status_code != 302 or "/admin/login/" not in response.get("Location", ""):
            passed.append((path, response.status_code))
    assert passed == []


def test_every_admin_view_refuses_staff_without_role(things, staff):
    nobody, _reader = staff
    client = _client(nobody)
    passed = []
    for path, name, label in _admin_routes():
        if ("admin", name) in OPEN_VIEWS or name in ADMIN_STAFF_PAGES:
            continue
        status = client.get(path).status_code
        # A row that does not exist is reported as missing (302 to the index, 404) before
        # any permission is asked: only the walk of existing rows proves the refusal.
        if status != 403 and (label or status not in (302, 404)):
            passed.append((path, status))
    assert passed == []
    index = client.get(reverse("admin:index"))
    assert "have permission to view or edit anything" in index.content.decode()


def test_every_admin_write_refuses_a_read_only_user(things, staff):
    _nobody, reader = staff
    client = _client(reader)
    passed = []
    for path, name, label in _admin_routes():
        if not name.endswith(("_add", "_change", "_delete")) or not name.startswith(
            ("accounts_", "billing_", "invoicing_", "dunning_")
        ):
            continue
        if name.endswith("_add") or label:
            status = client.post(path, {}).status_code
            if status != 403:
                passed.append((path, status))
    assert passed == []
