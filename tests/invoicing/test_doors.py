"""The same generation and posting services through every door: commands, API, admin."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from billing.services.orders import order_activate, order_create
from invoicing.management.commands import post_invoices
from invoicing.models import BillingPeriodItem, Invoice, SequencePolicy, TaxRate

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def billed_world(world):
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    TaxRate.objects.create(name="TX sales tax", rate=D("6.25"), country="US", region="TX")
    world.order = order_create(
        account=world.account,
        items=[
            {
                "product": world.seat,
                "quantity": D("10"),
                "unit_price": D("5.00"),
                "pricing_term": "month",
                "start_date": d(2026, 1, 1),
                "end_date": d(2026, 12, 31),
                "billing_frequency": "monthly",
            }
        ],
    )
    order_activate(order_id=world.order.pk)
    return world


@pytest.fixture
def api(db):
    user = User.objects.create_user("ops", password="x", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_generate_command_posts_and_prints(billed_world):
    out, err = StringIO(), StringIO()
    call_command(
        "generate_invoices",
        "--account",
        str(billed_world.account.pk),
        "--target-date",
        "2026-02-15",
        "--post",
        stdout=out,
        stderr=err,
    )
    # Piped: one summary line, no bar, no escape codes.
    (line,) = out.getvalue().splitlines()
    request_id = line.rsplit(" ", 1)[-1]  # random: read back
    assert line == (
        "1 posted invoice(s) from 1 schedule(s): 106.26 USD; 0 schedule error(s); "
        f"request {request_id}"
    )
    assert len(request_id) == 32 and "\x1b" not in line and err.getvalue() == ""
    invoice = Invoice.objects.get()
    # Jan + Feb at 50.00, 6.25% TX tax: 3.13 per line.
    assert (invoice.status, invoice.total_charges, invoice.total_tax, invoice.total) == (
        "posted",
        D("100.00"),
        D("6.26"),
        D("106.26"),
    )


def test_generate_command_all_and_bad_date(billed_world):
    with pytest.raises(CommandError, match="not a date"):
        call_command("generate_invoices", "--all", "--target-date", "31/01/2026")
    out = StringIO()
    call_command(
        "generate_invoices", "--all", "--target-date", "2026-01-31", stdout=out, verbosity=2
    )
    invoice = Invoice.objects.get()
    assert invoice.status == "draft"
    # -v 2: a line per invoice, then the summary.
    listed, summary = out.getvalue().splitlines()
    assert listed.split() == [
        "draft",
        f"#{invoice.pk}",
        *billed_world.account.name.split(),
        "53.13",
        "USD",
    ]
    assert summary.startswith("1 draft invoice(s) from 1 schedule(s): 53.13 USD; 0 schedule ")


def test_generate_command_refuses_unknown_references(billed_world):
    with pytest.raises(CommandError, match="^Account 999999 does not exist.$"):
        call_command("generate_invoices", "--account", "999999", "--target-date", "2026-01-31")
    with pytest.raises(CommandError, match="^Billing schedules 999998, 999999 do not exist.$"):
        call_command(
            "generate_invoices", "--schedules", "999999", "999998", "--target-date", "2026-01-31"
        )
    assert (Invoice.objects.count(), BillingPeriodItem.objects.count()) == (0, 0)


def test_post_invoices_command(billed_world):
    call_command("generate_invoices", "--all", "--target-date", "2026-01-31", stdout=StringIO())
    invoice = Invoice.objects.get()
    out = StringIO()
    call_command("post_invoices", "--ids", str(invoice.pk), stdout=out)
    invoice.refresh_from_db()
    assert invoice.number == "INV-0001" and "1 posted, 0 failed." in out.getvalue()
    out = StringIO()
    call_command("post_invoices", "--all", stdout=out)
    assert "No draft invoices to post." in out.getvalue()


def test_post_invoices_command_posts_in_batches_in_id_order(billed_world, monkeypatch):
    for target in ("2026-01-31", "2026-02-28"):
        call_command("generate_invoices", "--all", "--target-date", target, stdout=StringIO())
    january, february = Invoice.objects.order_by("id")
    monkeypatch.setattr(post_invoices, "BATCH", 1)  # one transaction per draft
    out, err = StringIO(), StringIO()
    call_command("post_invoices", "--all", stdout=out, stderr=err, verbosity=2)
    assert out.getvalue().splitlines() == [
        f"posted INV-0001                 (invoice {january.pk})",
        f"posted INV-0002                 (invoice {february.pk})",
        "2 posted, 0 failed.",
    ]
    assert err.getvalue() == ""


def test_api_generate_preview_post(billed_world, api):
    url = reverse("invoice-generate")
    response = api.post(
        url,
        {"account": billed_world.account.pk, "target_date": "2026-01-31", "action": "draft"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["request_id"]) == 32
    (invoice,) = body["invoices"]
    assert invoice["status"] == "draft" and invoice["number"] is None
    assert invoice["total"] == "53.13"
    (line,) = invoice["lines"]
    assert (line["quantity"], line["unit"], line["amount"], line["period_start"]) == (
        "10.000000",
        billed_world.each.pk,
        "50.00",
        "2026-01-01",
    )
    assert line["taxes"][0]["status"] == "estimated" and line["taxes"][0]["amount"] == "3.13"
    assert body["errors"] == []

    posted = api.post(reverse("invoice-post", args=[invoice["id"]]))
    assert posted.status_code == 200, posted.content
    assert posted.json()["number"] == "INV-0001"
    assert posted.json()["lines"][0]["taxes"][0]["status"] == "posted"

    again = api.post(reverse("invoice-post", args=[invoice["id"]]))
    assert again.status_code == 409
    assert again.json()["code"] == "invoice_not_draft"

    preview = api.post(
        reverse("invoice-preview"),
        {"order": billed_world.order.pk, "periods": 2, "preview_date": "2026-02-01"},
        format="json",
    )
    assert preview.status_code == 200
    (p,) = preview.json()["invoices"]
    assert [(x["period_start"], x["amount"]) for x in p["lines"]] == [
        ("2026-02-01", "50.00"),
        ("2026-03-01", "50.00"),
    ]
    assert (p["number"], p["total"]) == (None, "106.26")
    # A preview stores nothing and uses no number.
    assert Invoice.objects.count() == 1
    assert BillingPeriodItem.objects.count() == 1
    assert SequencePolicy.objects.get().next_value == 2


def test_api_errors(billed_world, api):
    bad = api.post(reverse("invoice-generate"), {"target_date": "2026-01-31"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert "Name one of order, account" in bad.json()["message"]
    assert api.post(reverse("invoice-post", args=[999999])).status_code == 404
    anonymous = APIClient().post(reverse("invoice-generate"), {}, format="json")
    assert anonymous.status_code in (401, 403)
    assert Invoice.objects.count() == 0


@pytest.fixture
def admin_client_logged(client, db):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_generate_action_asks_then_generates(billed_world, admin_client_logged):
    url = reverse("admin:accounts_account_changelist")
    data = {"action": "generate_invoices", "_selected_action": [billed_world.account.pk]}
    form = admin_client_logged.post(url, data)
    assert form.status_code == 200
    assert b"Generate invoices" in form.content and b"target_date" in form.content
    assert Invoice.objects.count() == 0
    done = admin_client_logged.post(
        url, {**data, "apply": "1", "target_date": "2026-01-31", "output": "posted"}, follow=True
    )
    assert done.status_code == 200
    assert "1 invoice(s) generated: INV-0001" in done.content.decode()
    assert Invoice.objects.get().status == "posted"


def test_admin_order_activate_and_invoice_post(world, admin_client_logged):
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    order = order_create(
        account=world.account,
        items=[
            {
                "product": world.setup,
                "quantity": D("1"),
                "unit_price": D("500"),
                "pricing_term": "one_time",
                "billing_frequency": "one_time",
                "start_date": d(2026, 1, 5),
            }
        ],
    )
    url = reverse("admin:billing_order_changelist")
    admin_client_logged.post(url, {"action": "activate_orders", "_selected_action": [order.pk]})
    order.refresh_from_db()
    assert order.status == "activated"
    again = admin_client_logged.post(
        url, {"action": "activate_orders", "_selected_action": [order.pk]}, follow=True
    )
    assert "only a draft order can be activated" in again.content.decode()

    admin_client_logged.post(
        url,
        {
            "action": "generate_invoices",
            "_selected_action": [order.pk],
            "apply": "1",
            "target_date": "2026-01-31",
            "output": "draft",
        },
    )
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.total) == ("draft", D("500.00"))
    admin_client_logged.post(
        reverse("admin:invoicing_invoice_changelist"),
        {"action": "post_invoices", "_selected_action": [invoice.pk]},
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("posted", "INV-0001")
