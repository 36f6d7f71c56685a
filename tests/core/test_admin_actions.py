"""Every admin of accounts, billing and invoicing (core/admin_actions.py is their base): each
model is registered once, every page renders, changelists make a fixed number of queries,
records written only by services have no add page, a service's refusal is shown on the form.
"""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin_actions import ServiceAdmin
from tests import factories

APPS = ("accounts", "billing", "invoicing")
MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label in APPS),
    key=lambda m: m._meta.label,
)
# Written only by the services (or with their parent, on the parent's page): no add page.
SERVICE_ONLY = {
    "BillingPeriodItem",
    "BillingSchedule",
    "BillingScheduleGroup",
    "CreditMemoApplication",
    "CreditMemoLine",
    "CreditMemoLineTax",
    "DebitMemoLine",
    "InvoiceBatchRun",
    "InvoiceBatchRunKey",
    "InvoiceDocument",
    "InvoiceEmail",
    "InvoiceLineTax",
    "OrderItem",
    "Receipt",
    "Refund",
}
pytestmark = pytest.mark.django_db


def _factory(model):
    return getattr(factories, f"{model.__name__}Factory")


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_every_model_of_the_apps_is_registered_once_through_a_service_admin():
    models = {m for label in APPS for m in apps.get_app_config(label).get_models()}
    assert models - set(admin.site._registry) == set()
    assert len(MODELS) == 38
    assert [
        m.__name__ for m in MODELS if not isinstance(admin.site._registry[m], ServiceAdmin)
    ] == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_renders(staff_client, model):
    _factory(model)()

    response = staff_client.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == model.objects.count()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
@pytest.mark.parametrize("term", ["abc", "1", "INV-000001"])
def test_changelist_search_accepts_any_term(staff_client, model, term):
    _factory(model)()

    response = staff_client.get(_url(model, "changelist"), {"q": term})

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_queries_do_not_grow_with_rows(staff_client, model):
    factory = _factory(model)
    factory()
    staff_client.get(_url(model, "changelist"))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as one_row:
        staff_client.get(_url(model, "changelist"))
    factory.create_batch(3)

    with CaptureQueriesContext(connection) as four_rows:
        response = staff_client.get(_url(model, "changelist"))

    assert response.context["cl"].result_count == model.objects.count()
    assert len(four_rows) == len(one_row), [q["sql"] for q in four_rows.captured_queries]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_add_page_renders(staff_client, model):
    response = staff_client.get(_url(model, "add"))

    assert response.status_code == (403 if model.__name__ in SERVICE_ONLY else 200)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_change_page_renders(staff_client, model):
    obj = _factory(model)()

    response = staff_client.get(_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert response.context["original"] == obj


@pytest.mark.parametrize("model", sorted(SERVICE_ONLY), ids=str)
def test_service_only_records_refuse_add_change_and_delete(staff_client, model):
    model = next(m for m in MODELS if m.__name__ == model)
    obj = _factory(model)()
    before = model.objects.values().get(pk=obj.pk)

    add = staff_client.post(_url(model, "add"), {})
    change = staff_client.post(_url(model, "change", obj.pk), {})
    delete = staff_client.post(_url(model, "delete", obj.pk), {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert model.objects.values().get(pk=obj.pk) == before
