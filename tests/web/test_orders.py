"""Orders: list, detail with items (bundles nested), activation, generation, preview."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.models import BillingSchedule, Order
from billing.services.orders import order_create
from invoicing.models import Invoice

pytestmark = pytest.mark.django_db
d = dt.date


def seats(world, **kw):
    item = {
        "product": world.seat,
        "quantity": D("10"),
        "unit_price": D("5.00"),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
    }
    item.update(kw)
    return item


@pytest.fixture
def bundle_order(billed):
    """A draft order: a suite bundle (100.00 a month) with 10 included seats and premium
    support not included (60.00 a quarter)."""
    return order_create(
        account=billed.account,
        description="Suite",
        items=[
            seats(billed, product=billed.suite, quantity=D("1"), unit_price=D("100")),
            seats(billed, parent_item=0, bundle_pricing="included", unit_price=D("0")),
            seats(
                billed,
                product=billed.support,
                parent_item=0,
                bundle_pricing="not_included",
                quantity=D("1"),
                unit_price=D("60"),
                pricing_term="quarter",
                billing_frequency="quarterly",
            ),
        ],
    )


def test_order_list_filters(ops, billed, bundle_order):
    page = ops.get(reverse("web:order_list")).content.decode()
    assert billed.order.number in page and bundle_order.number in page
    drafts = ops.get(reverse("web:order_list"), {"status": "draft"}).content.decode()
    assert bundle_order.number in drafts and billed.order.number not in drafts
    found = ops.get(reverse("web:order_list"), {"q": "suite"}).content.decode()
    assert bundle_order.number in found and billed.order.number not in found


def test_draft_order_detail_nests_bundle_children_and_offers_activation(ops, bundle_order):
    page = ops.get(reverse("web:order_detail", args=[bundle_order.pk])).content.decode()
    assert "Activate order</button>" in page
    rows = re.findall(r'<tr class="depth-(\d)">\s*<td>(\d)</td>', page)
    assert rows == [("0", "1"), ("1", "2"), ("1", "3")]  # lines 2 and 3 under the bundle
    assert "Suite bundle" in page and "bundle</span>" in page
    assert "included in bundle price" in page and "not included in bundle price" in page
    assert "No schedule yet: activate the order." in page
    assert "Generate invoices</button>" not in page  # a draft order has nothing to bill


def test_activate_creates_the_schedules(ops, bundle_order):
    response = ops.post(reverse("web:order_activate", args=[bundle_order.pk]), follow=True)
    bundle_order.refresh_from_db()
    assert bundle_order.status == Order.Status.ACTIVATED
    assert BillingSchedule.objects.filter(order=bundle_order).count() == 3
    html = response.content.decode()
    assert f"Order {bundle_order.number} activated" in html
    assert "Activate order</button>" not in html


def test_activating_twice_shows_the_service_message(ops, billed):
    response = ops.post(reverse("web:order_activate", args=[billed.order.pk]), follow=True)
    html = response.content.decode()
    assert f"Order {billed.order.number} is already activated; only a draft order can be" in html
    assert 'class="msg msg-error"' in html


def test_generate_for_an_order(ops, billed, bundle_order):
    ops.post(reverse("web:order_activate", args=[bundle_order.pk]))
    response = ops.post(
        reverse("web:order_generate", args=[bundle_order.pk]),
        {"target_date": "2026-01-15", "invoice_date": "2026-01-15", "action": "draft"},
    )
    invoice = Invoice.objects.get()
    assert invoice.total == D("170.00")
    page = ops.get(response["Location"]).content.decode()
    assert "1 invoice created for " + bundle_order.number in page
    assert "170.00 USD" in page
    # The seats order of the same account was not billed: generation was for this order.
    billed.schedule.refresh_from_db()
    assert billed.schedule.next_billing_date == d(2026, 1, 1)
    detail = ops.get(reverse("web:order_detail", args=[bundle_order.pk])).content.decode()
    assert f"Draft #{invoice.pk}" in detail


def test_preview_of_the_next_periods(ops, billed):
    page = ops.get(
        reverse("web:order_detail", args=[billed.order.pk]),
        {"periods": "2", "preview_date": "2026-01-01"},
    ).content.decode()
    assert "Invoice dated 2026-01-01, due 2026-01-31 · 106.26 USD" in page
    assert "2026-01-01 – 2026-01-31" in page and "2026-02-01 – 2026-02-28" in page
    assert "Estimated tax 6.26 USD" in page
    assert not Invoice.objects.exists()  # nothing stored
    three = ops.get(
        reverse("web:order_detail", args=[billed.order.pk]),
        {"periods": "3", "preview_date": "2026-01-01"},
    ).content.decode()
    assert "159.39 USD" in three


def test_preview_rejects_a_bad_period_count(ops, billed):
    page = ops.get(
        reverse("web:order_detail", args=[billed.order.pk]), {"periods": "99"}
    ).content.decode()
    assert "Ensure this value is less than or equal to 24." in page


def test_preview_nests_bundle_children(ops, bundle_order):
    ops.post(reverse("web:order_activate", args=[bundle_order.pk]))
    page = ops.get(
        reverse("web:order_detail", args=[bundle_order.pk]),
        {"periods": "1", "preview_date": "2026-01-01"},
    ).content.decode()
    preview = page.split('id="preview"')[1]
    assert re.findall(r'<tr class="depth-(\d)', preview) == ["0", "1", "1"]
    assert "170.00 USD" in preview
