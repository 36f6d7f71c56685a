"""Login, roles, and that a read-only user sees every page but no action: no action button,
and a forged POST to any action answers 403 and changes nothing."""

import datetime as dt

import pytest
from django.urls import reverse

from billing.models import BillingSchedule, Order
from invoicing.models import Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.generation import invoices_generate
from tests.factories import InvoiceBatchRunFactory, InvoiceSchedulerFactory
from web.roles import ADMIN, OPERATIONS, READ_ONLY_ROLE, can_act, user_role

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def things(billed):
    """One of every record an action works on."""
    result = invoices_generate(account_id=billed.account.pk, target_date=d(2026, 2, 15))
    billed.draft = Invoice.objects.get(pk=result.invoice_ids[0])
    billed.run = InvoiceBatchRunFactory(status="completed", stage="done", progress=100)
    billed.scheduler = InvoiceSchedulerFactory(name="Monthly", start_date=d(2026, 1, 1))
    return billed


def action_urls(t) -> list[str]:
    inv, run, sch = t.draft.pk, t.run.pk, t.scheduler.pk
    return [
        reverse("web:account_generate", args=[t.account.pk]),
        reverse("web:order_activate", args=[t.order.pk]),
        reverse("web:order_generate", args=[t.order.pk]),
        reverse("web:invoice_post", args=[inv]),
        reverse("web:invoice_void", args=[inv]),
        reverse("web:invoice_email", args=[inv]),
        reverse("web:invoice_payment", args=[inv]),
        reverse("web:invoice_edit", args=[inv]),
        reverse("web:invoice_adjustment_add", args=[inv]),
        reverse("web:invoice_adjustment_remove", args=[inv, 1]),
        reverse("web:invoice_delete", args=[inv]),
        reverse("web:run_start"),
        reverse("web:run_recover", args=[run]),
        reverse("web:run_draft_to_posted", args=[run]),
        reverse("web:run_send_emails", args=[run]),
        reverse("web:scheduler_new"),
        reverse("web:scheduler_edit", args=[sch]),
        reverse("web:scheduler_run_now", args=[sch]),
        reverse("web:scheduler_status", args=[sch, "activate"]),
        reverse("web:scheduler_status", args=[sch, "deactivate"]),
        reverse("web:scheduler_status", args=[sch, "cancel"]),
    ]


def page_urls(t) -> list[str]:
    return [
        reverse("web:dashboard"),
        reverse("web:account_list"),
        reverse("web:account_detail", args=[t.account.pk]),
        reverse("web:order_list"),
        reverse("web:order_detail", args=[t.order.pk]),
        reverse("web:schedule_list"),
        reverse("web:schedule_detail", args=[t.schedule.pk]),
        reverse("web:invoice_list"),
        reverse("web:invoice_detail", args=[t.draft.pk]),
        reverse("web:invoice_pdf", args=[t.draft.pk]),
        reverse("web:run_list"),
        reverse("web:run_detail", args=[t.run.pk]),
        reverse("web:run_progress", args=[t.run.pk]),
        reverse("web:scheduler_list"),
        reverse("web:scheduler_edit", args=[t.scheduler.pk]),
        reverse("web:error_list"),
    ]


def snapshot() -> tuple:
    return (
        list(Invoice.objects.order_by("id").values_list("id", "status", "number", "total")),
        list(Order.objects.values_list("id", "status")),
        list(BillingSchedule.objects.values_list("id", "status", "next_billing_date")),
        InvoiceBatchRun.objects.count(),
        list(InvoiceScheduler.objects.values_list("id", "status", "name")),
    )


def test_every_page_needs_a_login(client, things):
    for url in [*page_urls(things), *action_urls(things)]:
        response = client.get(url) if "generate" not in url else client.post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:login") + "?next="), url


def test_login_page_and_login_lands_on_the_dashboard(client, ops_user):
    page = client.get(reverse("web:login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b"csrfmiddlewaretoken" in page.content
    bad = client.post(reverse("web:login"), {"username": "olga", "password": "wrong"})
    assert bad.status_code == 200
    assert b"did not match" in bad.content
    good = client.post(reverse("web:login"), {"username": "olga", "password": "pw-olga"})
    assert good.status_code == 302 and good["Location"] == reverse("web:dashboard")
    assert client.get(reverse("web:dashboard")).status_code == 200


def test_logout_is_a_post(ops):
    response = ops.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert ops.get(reverse("web:dashboard")).status_code == 302


def test_roles(admin_user, billing_admin, ops_user, ro_user, nogroup_user):
    assert user_role(admin_user) == ADMIN
    assert user_role(billing_admin) == ADMIN
    assert user_role(ops_user) == OPERATIONS
    assert user_role(ro_user) == READ_ONLY_ROLE
    assert user_role(nogroup_user) == READ_ONLY_ROLE  # no ops/admin group: read-only
    assert [can_act(u) for u in (admin_user, billing_admin, ops_user, ro_user, nogroup_user)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_read_only_user_sees_every_page(ro, things):
    for url in page_urls(things):
        assert ro.get(url).status_code == 200, url


def test_read_only_user_sees_no_action_button(ro, ops, things):
    pages = {
        reverse("web:account_detail", args=[things.account.pk]): "Generate invoices</button>",
        reverse("web:order_detail", args=[things.order.pk]): "Generate invoices</button>",
        reverse("web:invoice_detail", args=[things.draft.pk]): "Post invoice</button>",
        reverse("web:run_list"): "Start a run</a>",
        reverse("web:scheduler_list"): "Run now</button>",
        reverse("web:scheduler_edit", args=[things.scheduler.pk]): "Save scheduler</button>",
    }
    for url, button in pages.items():
        assert button in ops.get(url).content.decode(), url
        html = ro.get(url).content.decode()
        assert button not in html, url
        assert '<form method="post" action="/' not in html.replace(
            f'<form method="post" action="{reverse("web:logout")}"', ""
        ), url


@pytest.mark.parametrize("who", ["ro", "nogroup"])
def test_forged_post_by_a_read_only_user_is_403_and_changes_nothing(who, ro, nogroup_user, things):
    from django.test import Client

    client = ro
    if who == "nogroup":
        client = Client()
        client.force_login(nogroup_user)
    before = snapshot()
    data = {
        "target_date": "2026-12-31",
        "action": "posted",
        "name": "Hacked",
        "status": "active",
        "start_date": "2026-01-01",
        "cadence": "daily",
        "time": "02:00",
        "timezone": "UTC",
        "invoice_status": "posted",
        "amount": "1.00",
        "payment_date": "2026-02-20",
        "invoice_date": "2026-02-01",
        "unit_price": "-5",
        "quantity": "1",
        "save": "1",
    }
    for url in action_urls(things):
        response = client.post(url, data)
        assert response.status_code == 403, url
    assert snapshot() == before


def test_forms_of_actions_are_403_for_read_only_users(ro, things):
    for url in (
        reverse("web:invoice_void", args=[things.draft.pk]),
        reverse("web:invoice_payment", args=[things.draft.pk]),
        reverse("web:invoice_edit", args=[things.draft.pk]),
        reverse("web:run_start"),
        reverse("web:scheduler_new"),
    ):
        assert ro.get(url).status_code == 403, url


def test_actions_refuse_get(ops, things):
    for url in (
        reverse("web:invoice_post", args=[things.draft.pk]),
        reverse("web:account_generate", args=[things.account.pk]),
        reverse("web:run_recover", args=[things.run.pk]),
    ):
        assert ops.get(url).status_code == 405, url


def test_actions_need_the_csrf_token(ops_user, things):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(ops_user)
    response = client.post(reverse("web:invoice_post", args=[things.draft.pk]))
    assert response.status_code == 403
    assert Invoice.objects.get(pk=things.draft.pk).status == "draft"
