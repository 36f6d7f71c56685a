"""The void page and the invoice page know the void's refusals before the click (issue 12,
point 14): a paid invoice, a credited one and one that is not the newest of its schedule show
why void is not offered, with no Void link and no Void button, and a POST changes nothing.
Nothing tells staff to "refund the payments first": no refund exists to point at."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import CreditMemo, Invoice
from invoicing.services.payments import payment_record
from tests.support.invoicing import credit_applied, generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def main(page: str) -> str:
    return page.split('id="main"')[1].split("</main>")[0]


def refused_everywhere(client, invoice: Invoice, message: str) -> None:
    """The invoice page names the refusal and offers no Void; the void page says it cannot be
    voided, why, and has no button; a POST anyway changes nothing and says the same."""
    void_url = reverse("web:invoice_void", args=[invoice.pk])

    detail = main(client.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode())
    assert f'href="{void_url}"' not in detail
    assert "Void is not offered:</strong> " + message in detail

    page = main(client.get(void_url).content.decode())
    assert f"<h1>{invoice} cannot be voided</h1>" in page
    assert re.search(r"data-void-refusal>\s*" + re.escape(message), page)
    assert "<button" not in page and "<form" not in page

    before = snapshot()
    html = client.post(void_url, {"reason": "Try anyway"}, follow=True).content.decode()
    assert message in html
    assert snapshot() == before
    invoice.refresh_from_db()
    assert invoice.status == "posted"
    assert not CreditMemo.objects.filter(invoice=invoice, reason="Try anyway").exists()
    assert "refund the payments" not in (detail + page + html).lower()


def test_a_paid_invoice_is_not_offered_for_void(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    payment_record(invoice_id=invoice.pk, amount="10.00", payment_date=d(2026, 2, 3))
    refused_everywhere(
        ops,
        invoice,
        "Invoice INV-0001 cannot be voided: payments settled 10.00 USD of it. A void credits "
        "the whole invoice, so it is only possible while nothing is paid; correct the part "
        "that is wrong with a credit memo instead.",
    )


def test_a_credited_invoice_is_not_offered_for_void(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    credit_applied(invoice, "5.00", d(2026, 2, 2))
    assert invoice.balance == D("48.13")
    refused_everywhere(
        ops,
        invoice,
        "Invoice INV-0001 cannot be voided: credit memos settled 5.00 USD of it. Issue a "
        "further credit memo for the remaining balance instead, or unapply those credits first "
        "(their amounts become unapplied credit again).",
    )


def test_an_invoice_that_is_not_the_newest_is_not_offered_for_void(ops, billed):
    january = generate(billed, d(2026, 1, 31))
    february = generate(billed, d(2026, 2, 28))
    detail = ops.get(reverse("web:invoice_detail", args=[january.pk])).content.decode()
    message = re.search(r"Void is not offered:</strong> ([^<]+)</p>", detail).group(1)
    assert "INV-0002" in message  # names the newer invoice to void first
    refused_everywhere(ops, january, message)

    # The newest one is offered, with its consequences, and voids.
    void_url = reverse("web:invoice_void", args=[february.pk])
    assert f'href="{void_url}"' in main(
        ops.get(reverse("web:invoice_detail", args=[february.pk])).content.decode()
    )
    page = main(ops.get(void_url).content.decode())
    assert "<h1>Void invoice INV-0002?</h1>" in page and "Void invoice INV-0002</button>" in page
