"""Invoices: list with filters and number search; detail; post, void (confirmation first),
send email, record payment, PDF, edit draft (header, adjustments, delete)."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse
from freezegun import freeze_time

from billing.services.orders import order_activate, order_create
from invoicing.models import CreditMemo, Invoice, InvoiceEmail, Payment
from invoicing.services.generation import invoices_generate
from invoicing.services.hosted_links import hosted_document_resolve
from invoicing.services.posting import invoice_post
from tests.factories import InvoiceBatchRunFactory, make_account
from tests.support.confirm import post_confirmed

pytestmark = pytest.mark.django_db
d = dt.date


def generate(account, target, **kw) -> Invoice:
    result = invoices_generate(account_id=account.pk, target_date=target, **kw)
    (invoice_id,) = result.invoice_ids
    return Invoice.objects.get(pk=invoice_id)


@pytest.fixture
def draft(billed) -> Invoice:
    """Acme's January and February seats: 2 lines of 50.00, tax 3.13 each, total 106.26."""
    return generate(billed.account, d(2026, 2, 15), invoice_date=d(2026, 2, 16))


@pytest.fixture
def posted(billed) -> Invoice:
    """Acme's January seats, posted as INV-0001: 50.00 + 3.13 tax = 53.13."""
    return generate(billed.account, d(2026, 1, 31), action="posted")


def detail(client, invoice) -> str:
    response = client.get(reverse("web:invoice_detail", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- list -------------------------------------------------------------------------------------


def listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-invoice="(\d+)">', page)]


def test_invoice_list_filters_and_number_search(ops, billed):
    posted = generate(billed.account, d(2026, 1, 31), action="posted")
    globex = make_account("Globex Ltd", seller=billed.seller, currency="EUR")
    order = order_create(
        account=globex,
        items=[
            {
                "product": billed.setup,
                "quantity": D("1"),
                "unit_price": D("250.00"),
                "pricing_term": "one_time",
                "start_date": d(2026, 3, 10),
                "billing_frequency": "one_time",
            }
        ],
    )
    order_activate(order_id=order.pk)
    run = InvoiceBatchRunFactory()
    eur = generate(globex, d(2026, 3, 31))
    Invoice.objects.filter(pk=eur.pk).update(batch_run=run)
    draft = generate(billed.account, d(2026, 2, 28))
    url = reverse("web:invoice_list")

    def get(**params):
        return listed(ops.get(url, params).content.decode())

    assert get() == [draft.pk, eur.pk, posted.pk]
    assert get(number="0001") == [posted.pk]
    assert get(number="INV-9") == []
    assert get(status="draft") == [draft.pk, eur.pk]
    assert get(status="posted") == [posted.pk]
    assert get(account="globex") == [eur.pk]
    assert get(account=str(billed.account.pk)) == [draft.pk, posted.pk]
    assert get(currency="eur") == [eur.pk]
    assert get(run=str(run.pk)) == [eur.pk]
    assert get(date_from="2026-02-01") == [draft.pk, eur.pk]
    assert get(date_to="2026-02-28") == [draft.pk, posted.pk]
    page = ops.get(url).content.decode()
    assert "53.13 USD" in page and "265.63 EUR" in page and "3 in all" in page


# --- detail -----------------------------------------------------------------------------------


def test_draft_detail_lines_taxes_totals(ops, draft):
    page = detail(ops, draft)
    assert f"Draft invoice #{draft.pk}" in page
    assert page.count("2026-01-01 – 2026-01-31") == 1 and "2026-02-01 – 2026-02-28" in page
    assert page.count("TX sales tax 6.25%: 3.13 USD") == 2
    taxes = page.split('id="taxes"')[1].split("</table>")[0]
    assert "TX sales tax" in taxes and "6.25%" in taxes
    assert "100.00 USD" in taxes and "6.26 USD" in taxes and "estimated" in taxes
    totals = page.split('aria-label="Totals"')[1].split("</table>")[0]
    assert 'Charges</th><td class="num">100.00 USD' in totals
    assert 'Tax (estimated)</th><td class="num">6.26 USD' in totals
    assert '<td class="num" data-total>106.26 USD' in totals
    assert '<td class="num" data-balance>106.26 USD' in totals
    assert "2026-03-18" in page  # due date: net 30 from 2026-02-16
    assert "Billing address" in page and "5 Main St" in page
    assert "Post invoice</button>" in page and "Edit draft</a>" in page
    assert "Void…" not in page and "Record payment" not in page


def test_detail_nests_bundle_lines_and_shows_usage(ops, billed):
    from billing.models import UsageSummary

    order = order_create(
        account=billed.account,
        items=[
            {
                "product": billed.suite,
                "quantity": D("1"),
                "unit_price": D("100"),
                "pricing_term": "month",
                "start_date": d(2026, 1, 1),
                "end_date": d(2026, 12, 31),
                "billing_frequency": "monthly",
            },
            {
                "product": billed.seat,
                "parent_item": 0,
                "bundle_pricing": "included",
                "quantity": D("10"),
                "unit_price": D("0"),
                "pricing_term": "month",
                "start_date": d(2026, 1, 1),
                "end_date": d(2026, 12, 31),
                "billing_frequency": "monthly",
            },
            {
                "product": billed.storage,
                "quantity": D("1"),
                "unit_price": D("0"),
                "included_quantity": D("100"),
                "overage_unit_price": D("0.50"),
                "pricing_term": "month",
                "start_date": d(2026, 1, 1),
                "end_date": d(2026, 12, 31),
                "billing_frequency": "monthly",
                "billing_type": "arrears",
            },
        ],
    )
    order_activate(order_id=order.pk)
    usage_item = order.items.get(line_number=3)
    UsageSummary.objects.create(
        account=billed.account,
        order_item=usage_item,
        period_start=d(2026, 1, 1),
        period_end=d(2026, 1, 31),
        quantity=D("130.5"),
    )
    result = invoices_generate(order_id=order.pk, target_date=d(2026, 1, 31))
    invoice = Invoice.objects.get(pk=result.invoice_ids[0])
    page = detail(ops, invoice)
    lines = page.split('id="lines"')[1].split("</table>")[0]
    depths = re.findall(r'<tr class="depth-(\d)', lines)
    assert depths.count("1") == 1  # the seats under the suite
    assert "Usage: consumed 130.5, included 100, overage 30.5 GB" in lines
    assert "15.25 USD" in lines  # 30.5 GB over × 0.50


def test_read_only_sees_no_action_on_an_invoice(ro, draft):
    page = detail(ro, draft)
    assert "Post invoice" not in page and "Edit draft" not in page
    assert "View PDF</a>" in page  # reading the PDF is not an action


# --- post -------------------------------------------------------------------------------------


def test_post_numbers_the_draft(ops, draft, ops_user):
    response = post_confirmed(ops, reverse("web:invoice_post", args=[draft.pk]), follow=True)
    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.posted_by) == ("posted", "INV-0001", "olga")
    html = response.content.decode()
    assert "Invoice posted as INV-0001." in html
    assert "Invoice INV-0001" in html and "Void…" in html and "Record payment" in html


def test_posting_a_posted_invoice_shows_the_service_message(ops, posted):
    response = ops.post(reverse("web:invoice_post", args=[posted.pk]), follow=True)
    html = response.content.decode()
    assert "Invoice INV-0001 is posted; only a draft invoice can be posted." in html
    assert 'class="msg msg-error"' in html


def test_posting_without_a_sequence_policy_leaves_the_draft(ops, draft):
    from invoicing.models import SequencePolicy

    SequencePolicy.objects.all().delete()
    response = ops.post(reverse("web:invoice_post", args=[draft.pk]), follow=True)
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.number is None
    html = response.content.decode()
    assert 'class="msg msg-error"' in html
    assert "sequence" in html.lower()


# --- void -------------------------------------------------------------------------------------


def test_void_confirmation_states_the_consequences(ops, posted):
    page = ops.get(reverse("web:invoice_void", args=[posted.pk])).content.decode()
    assert "Void invoice INV-0001?" in page
    assert "credit memo of 53.13 USD" in page
    assert "balance becomes 0.00 USD" in page
    assert "1 billed period of 1 billing schedule roll back" in page
    assert "the next generation bills those periods again" in page
    assert "This cannot be undone." in page
    posted.refresh_from_db()
    assert posted.status == "posted"  # the page alone changes nothing


def test_void_voids_and_credits(ops, billed, posted):
    response = ops.post(
        reverse("web:invoice_void", args=[posted.pk]), {"reason": "Wrong seats"}, follow=True
    )
    posted.refresh_from_db()
    assert (posted.status, posted.balance) == ("voided", D("0.00"))
    memo = CreditMemo.objects.get(invoice=posted)
    assert (memo.total, memo.reason) == (D("53.13"), "Wrong seats")
    html = response.content.decode()
    assert f"Invoice INV-0001 voided; credit memo {memo} credits it in full." in html
    credits = html.split('id="credits"')[1].split("</table>")[0]
    assert "53.13 USD" in credits and "Wrong seats" in credits
    billed.schedule.refresh_from_db()
    assert billed.schedule.next_billing_date == d(2026, 1, 1)  # January is due again


def test_void_refusal_shows_the_service_message(ops, posted):
    Payment.objects.create(
        invoice=posted,
        account=posted.account,
        amount=D("10.00"),
        currency="USD",
        payment_date=d(2026, 2, 1),
    )
    Invoice.objects.filter(pk=posted.pk).update(balance=D("43.13"))
    response = ops.post(reverse("web:invoice_void", args=[posted.pk]), follow=True)
    html = response.content.decode()
    assert "Invoice INV-0001 cannot be voided: payments settled 10.00 USD of it." in html
    posted.refresh_from_db()
    assert posted.status == "posted" and not CreditMemo.objects.exists()


def test_void_of_a_draft_says_only_posted(ops, draft):
    page = ops.get(reverse("web:invoice_void", args=[draft.pk])).content.decode()
    assert (
        f"Only a posted invoice can be voided; draft invoice #{draft.pk} is not posted. "
        "Delete the draft instead." in page
    )
    assert f"<h1>Draft invoice #{draft.pk} cannot be voided</h1>" in page
    assert "<button" not in page.split('id="main"')[1].split("</main>")[0]


# --- payments ---------------------------------------------------------------------------------


def test_record_a_payment(ops, posted):
    form = ops.get(reverse("web:invoice_payment", args=[posted.pk])).content.decode()
    assert "Open balance <strong data-balance>53.13 USD</strong>" in form
    assert "Visa •••• 4242" in form
    assert 'name="amount" value="53.13"' in form  # the open balance, in cents
    method = posted.account.payment_methods.get()
    response = ops.post(
        reverse("web:invoice_payment", args=[posted.pk]),
        {
            "amount": "20.00",
            "payment_date": "2026-02-10",
            "saved_payment_method": str(method.pk),
            "reference": "WIRE-1",
        },
        follow=True,
    )
    posted.refresh_from_db()
    assert (posted.balance, posted.settlement_status) == (D("33.13"), "partially_settled")
    payment = Payment.objects.get()
    assert (payment.amount, payment.reference, payment.recorded_by) == (
        D("20.00"),
        "WIRE-1",
        "olga",
    )
    html = response.content.decode()
    assert "Payment of 20.00 USD recorded." in html
    assert '<td class="num" data-balance>33.13 USD' in html
    payments = html.split('id="payments"')[1].split("</table>")[0]
    assert "2026-02-10" in payments and "WIRE-1" in payments and "20.00 USD" in payments


def test_overpayment_is_refused_with_the_service_message(ops, posted):
    response = ops.post(
        reverse("web:invoice_payment", args=[posted.pk]),
        {"amount": "60.00", "payment_date": "2026-02-10"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "A payment of 60.00 USD is more than the 53.13 USD open on invoice INV-0001." in html
    assert not Payment.objects.exists()


# --- email ------------------------------------------------------------------------------------


def test_send_email(ops, posted):
    response = ops.post(reverse("web:invoice_email", args=[posted.pk]), {"to": ""}, follow=True)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ap@example.com"]
    email = InvoiceEmail.objects.get()
    assert email.status == "sent"
    html = response.content.decode()
    assert "Email to ap@example.com: sent." in html
    history = html.split('id="emails"')[1].split("</table>")[0]
    assert "ap@example.com" in history and "Sent" in history


def test_send_email_to_another_address(ops, posted):
    ops.post(reverse("web:invoice_email", args=[posted.pk]), {"to": "boss@example.com"})
    assert mail.outbox[0].to == ["boss@example.com"]


def test_send_email_of_a_draft_shows_the_service_message(ops, draft):
    response = ops.post(reverse("web:invoice_email", args=[draft.pk]), follow=True)
    assert "Only a posted invoice can be emailed" in response.content.decode()
    assert not mail.outbox


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_inline_and_download(ops, posted, draft):
    inline = ops.get(reverse("web:invoice_pdf", args=[posted.pk]))
    assert inline.status_code == 200 and inline["Content-Type"] == "application/pdf"
    assert inline.content.startswith(b"%PDF")
    assert inline["Content-Disposition"] == 'inline; filename="INV-0001.pdf"'
    download = ops.get(reverse("web:invoice_pdf", args=[posted.pk]), {"download": "1"})
    assert download["Content-Disposition"] == 'attachment; filename="INV-0001.pdf"'
    assert posted.documents.filter(status="ready").count() == 1  # stored once, served twice
    on_the_fly = ops.get(reverse("web:invoice_pdf", args=[draft.pk]))
    assert on_the_fly.content.startswith(b"%PDF")
    assert f'filename="draft-invoice-{draft.pk}.pdf"' in on_the_fly["Content-Disposition"]
    page = detail(ops, posted)
    assert "v1" in page.split('id="documents"')[1]


def test_customer_link_of_a_posted_invoice(ro, posted, draft):
    with freeze_time("2026-02-01 09:00"):
        page = detail(ro, posted)
        (url,) = re.findall(
            r'value="([^"]+)" aria-label="Customer link[^"]*" data-hosted-url', page
        )
        assert url.startswith("http://127.0.0.1:8000/d/")
        token = url.removeprefix("http://127.0.0.1:8000/d/")[:-1]
        assert hosted_document_resolve(token) == posted
    assert "no login needed; opens until 2026-05-02." in page
    assert "Customer link" not in detail(ro, draft)


# --- edit a draft -----------------------------------------------------------------------------


def test_edit_draft_header(ops, draft):
    form = ops.get(reverse("web:invoice_edit", args=[draft.pk])).content.decode()
    assert 'value="2026-02-16"' in form
    response = ops.post(
        reverse("web:invoice_edit", args=[draft.pk]),
        {
            "invoice_date": "2026-02-20",
            "due_date": "",
            "description": "February seats",
            "bill_to": str(draft.bill_to_id),
        },
        follow=True,
    )
    draft.refresh_from_db()
    assert (draft.invoice_date, draft.due_date, draft.description) == (
        d(2026, 2, 20),
        None,
        "February seats",
    )
    assert "Draft saved; tax and totals recomputed." in response.content.decode()


def test_edit_draft_refusal_shows_the_service_message(ops, draft):
    response = ops.post(
        reverse("web:invoice_edit", args=[draft.pk]),
        {"invoice_date": "2026-02-20", "due_date": "2026-02-01", "description": ""},
    )
    assert response.status_code == 200
    assert "The due date cannot be before the invoice date." in response.content.decode()
    draft.refresh_from_db()
    assert draft.invoice_date == d(2026, 2, 16)


def test_add_and_remove_an_adjustment(ops, draft):
    response = ops.post(
        reverse("web:invoice_adjustment_add", args=[draft.pk]),
        {"name": "Goodwill credit", "quantity": "1", "unit_price": "-10.00", "taxable": "on"},
        follow=True,
    )
    draft.refresh_from_db()
    assert (draft.total_adjustments, draft.total_tax, draft.total) == (
        D("-10.00"),
        D("5.63"),
        D("95.63"),
    )
    html = response.content.decode()
    assert "Adjustment &#x27;Goodwill credit&#x27; added" in html
    assert "Total 95.63 USD" in html
    line = draft.lines.get(type="adjustment")
    response = ops.post(
        reverse("web:invoice_adjustment_remove", args=[draft.pk, line.pk]), follow=True
    )
    draft.refresh_from_db()
    assert draft.total == D("106.26")
    assert "Adjustment removed" in response.content.decode()


def test_adjustment_errors_are_shown(ops, draft):
    response = ops.post(
        reverse("web:invoice_adjustment_add", args=[draft.pk]),
        {"name": "", "quantity": "1", "unit_price": "x"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html and "Enter a number." in html
    assert not draft.lines.filter(type="adjustment").exists()


def test_removing_a_billed_line_shows_the_service_message(ops, draft):
    line = draft.lines.first()
    response = ops.post(
        reverse("web:invoice_adjustment_remove", args=[draft.pk, line.pk]), follow=True
    )
    assert "was billed from a billing schedule; only manual adjustment lines" in (
        response.content.decode()
    )


def test_delete_draft_releases_its_periods(ops, billed, draft):
    response = post_confirmed(ops, reverse("web:invoice_delete", args=[draft.pk]), follow=True)
    assert not Invoice.objects.filter(pk=draft.pk).exists()
    billed.schedule.refresh_from_db()
    assert billed.schedule.next_billing_date == d(2026, 1, 1)
    assert response.redirect_chain[-1][0] == reverse("web:account_detail", args=[billed.account.pk])
    assert f"Draft invoice #{draft.pk} deleted" in response.content.decode()


def test_editing_a_posted_invoice_is_refused(ops, posted):
    page = ops.get(reverse("web:invoice_edit", args=[posted.pk])).content.decode()
    assert "only drafts can be edited" in page
    response = ops.post(reverse("web:invoice_delete", args=[posted.pk]), follow=True)
    assert Invoice.objects.filter(pk=posted.pk).exists()
    assert 'class="msg msg-error"' in response.content.decode()


def test_invoice_post_via_the_service_then_detail_shows_actual_tax(ops, draft):
    invoice_post(invoice_id=draft.pk)
    page = detail(ops, draft)
    assert "Tax</th>" in page and "posted</td>" in page.split('id="taxes"')[1]
