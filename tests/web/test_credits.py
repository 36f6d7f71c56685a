"""Applying a credit memo to an invoice from its page, and unapplying it (issue 13, points 2
and 8): the invoice page offers "Apply credit" only where a posted memo with credit left could
go; the form applies through credit_memo_apply with who and when; a refusal shows at its field
and changes nothing; the applications table unapplies; read-only users change nothing."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import CreditMemo, CreditMemoApplication, DebitMemo
from invoicing.services.memos import credit_memo_create, credit_memo_post
from tests.support.confirm import confirmation_of
from tests.support.invoicing import credit_memo, generate, snapshot
from tests.support.pages import field_error

pytestmark = pytest.mark.django_db
d = dt.date


def goodwill(account, amount: str, *, currency="USD", post=True) -> CreditMemo:
    return credit_memo(
        account, amount, on=d(2026, 2, 1), currency=currency, reason="Outage", post=post
    )


def main(client, invoice) -> str:
    page = client.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()
    return page.split('id="main"')[1].split("</main>")[0]


def test_apply_a_credit_from_the_invoice_page_and_unapply_it(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))  # INV-0001, 53.13 USD
    credit_url = reverse("web:invoice_credit", args=[invoice.pk])
    assert f'href="{credit_url}"' not in main(ops, invoice)  # no memo yet: not offered
    goodwill(billed.account, "5.00", post=False)  # a draft is not offered either
    goodwill(billed.account, "10.00", currency="EUR")  # nor another currency
    assert f'href="{credit_url}"' not in main(ops, invoice)
    memo = goodwill(billed.account, "20.00")
    assert f'href="{credit_url}"' in main(ops, invoice)

    form = ops.get(credit_url).content.decode()
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', form)
    assert options == [(str(memo.pk), f"Credit memo #{memo.pk} · 20.00 USD left · Outage")]
    amount = re.search(r'<input type="number" name="amount"[^>]*>', form).group(0)
    assert 'min="0.01"' in amount and 'max="53.13"' in amount and "required" not in amount

    response = ops.post(
        credit_url,
        {"credit_memo": str(memo.pk), "amount": "12.50", "applied_date": "2026-02-03"},
        follow=True,
    )
    html = response.content.decode()
    assert f"12.50 USD of Credit memo #{memo.pk} applied to INV-0001." in html
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status, memo.balance) == (
        D("40.63"),
        "partially_settled",
        D("7.50"),
    )
    row = CreditMemoApplication.objects.get()
    assert (row.applied_by, row.applied_date) == ("olga", d(2026, 2, 3))
    table = html.split('id="credit-applications"')[1].split("</table>")[0]
    assert f"Credit memo #{memo.pk}" in table and "2026-02-03" in table and "olga" in table
    assert "12.50 USD" in table

    unapply_url = reverse("web:credit_application_unapply", args=[row.pk])
    assert f'action="{unapply_url}"' in table
    html = ops.post(unapply_url, follow=True).content.decode()
    assert (
        f"12.50 USD of Credit memo #{memo.pk} unapplied from INV-0001: it is open on the invoice "
        "and credit left on the memo again." in html
    )
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status, memo.balance) == (
        D("53.13"),
        "not_settled",
        D("20.00"),
    )
    table = html.split('id="credit-applications"')[1].split("</table>")[0]
    assert "(unapplied " in table and "by olga" in table and "<s>12.50 USD</s>" in table
    assert f'action="{unapply_url}"' not in table  # done once

    # Unapplying again (a stale page) says why and changes nothing.
    before = snapshot()
    html = ops.post(unapply_url, follow=True).content.decode()
    assert "was already unapplied on " in html
    assert snapshot() == before


def test_a_refused_credit_shows_at_its_field_and_changes_nothing(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    memo = goodwill(billed.account, "100.00")
    url = reverse("web:invoice_credit", args=[invoice.pk])
    before = snapshot()

    page = ops.post(
        url, {"credit_memo": str(memo.pk), "amount": "0", "applied_date": "2026-02-03"}
    ).content.decode()
    assert field_error(page, "amount") == "A credit is more than zero: at least 0.01 USD."

    page = ops.post(
        url, {"credit_memo": str(memo.pk), "amount": "60.00", "applied_date": "2026-02-03"}
    ).content.decode()
    assert (
        "60.00 USD is more than the 53.13 USD open on invoice INV-0001. Apply at most the open "
        "balance." in page
    )

    page = ops.post(
        url, {"credit_memo": str(memo.pk), "amount": "", "applied_date": "2026-01-15"}
    ).content.decode()
    assert field_error(page, "applied_date") == (
        f"Credit memo #{memo.pk} is dated 2026-02-01; apply it on or after that date."
    )
    assert snapshot() == before
    assert not CreditMemoApplication.objects.exists()


def test_an_empty_amount_applies_as_much_as_both_allow(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    memo = goodwill(billed.account, "100.00")
    ops.post(
        reverse("web:invoice_credit", args=[invoice.pk]),
        {"credit_memo": str(memo.pk), "amount": "", "applied_date": "2026-02-03"},
    )
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status, memo.balance) == (
        D("0.00"),
        "settled",
        D("46.87"),
    )


def test_read_only_users_see_credits_and_change_nothing(ops, ro, billed):
    invoice = generate(billed, d(2026, 1, 31))
    memo = goodwill(billed.account, "20.00")
    ops.post(
        reverse("web:invoice_credit", args=[invoice.pk]),
        {"credit_memo": str(memo.pk), "amount": "5.00", "applied_date": "2026-02-03"},
    )
    row = CreditMemoApplication.objects.get()
    page = main(ro, invoice)
    assert 'id="credit-applications"' in page and "Unapply" not in page
    assert "Apply credit" not in page
    before = snapshot()
    assert ro.post(reverse("web:credit_application_unapply", args=[row.pk])).status_code == 403
    response = ro.post(
        reverse("web:invoice_credit", args=[invoice.pk]),
        {"credit_memo": str(memo.pk), "amount": "5.00", "applied_date": "2026-02-03"},
    )
    assert response.status_code == 403
    assert snapshot() == before
    assert CreditMemoApplication.objects.count() == 1


def test_void_an_unapplied_credit_memo_from_the_invoice_page(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    memo = credit_memo_create(
        account_id=billed.account.pk,
        invoice_id=invoice.pk,
        memo_date=d(2026, 2, 1),
        lines=[{"name": "Goodwill", "unit_price": "10.00"}],
    )
    memo = credit_memo_post(credit_memo_id=memo.pk, posted_date=d(2026, 2, 1))
    url = reverse("web:credit_memo_void", args=[memo.pk])
    assert f'action="{url}"' in main(ops, invoice)
    before = snapshot()
    response = ops.post(url)
    assert f"<h1>Void {memo} of 10.00 USD?</h1>" in response.content.decode()
    assert snapshot() == before
    html = ops.post(url, {"confirm": confirmation_of(response)}, follow=True).content.decode()
    debit = DebitMemo.objects.get()
    assert f"{memo} voided; offsetting debit memo {debit} recorded." in html
    memo.refresh_from_db()
    assert (memo.status, debit.status, debit.total) == ("voided", "offset", D("10.00"))
    assert f'action="{url}"' not in main(ops, invoice)


def test_a_standalone_credit_memo_from_the_account_page_then_applied(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    url = reverse("web:credit_memo_new", args=[billed.account.pk])
    account_page = ops.get(reverse("web:account_detail", args=[billed.account.pk])).content
    assert f'href="{url}"'.encode() in account_page
    data = {
        "reason_code": "goodwill",
        "note": "Outage on 3 February",
        "credit_date": "2026-02-04",
        "action": "posted",
        "name_1": "Goodwill credit",
        "amount_1": "15.00",
        "name_2": "",
        "amount_2": "",
    }
    before = snapshot()
    page = ops.post(url, {**data, "amount_1": ""}).content.decode()
    assert field_error(page, "amount_1") == "Give the amount of this line."
    assert snapshot() == before
    html = ops.post(url, data, follow=True).content.decode()
    memo = CreditMemo.objects.get()
    assert f"{memo} of 15.00 USD posted: apply it from an invoice" in html
    assert (memo.status, memo.reason_code, memo.reason, memo.source, memo.total) == (
        "posted",
        "goodwill",
        "Outage on 3 February",
        "standalone",
        D("15.00"),
    )
    ops.post(
        reverse("web:invoice_credit", args=[invoice.pk]),
        {"credit_memo": str(memo.pk), "amount": "", "applied_date": "2026-02-05"},
    )
    invoice.refresh_from_db()
    assert invoice.balance == D("38.13")


def test_a_draft_credit_memo_is_posted_from_the_account_page(ops, billed):
    memo = credit_memo(billed.account, "12.00", on=d(2026, 2, 1), post=False)
    page = ops.get(reverse("web:account_detail", args=[billed.account.pk])).content.decode()
    url = reverse("web:credit_memo_post", args=[memo.pk])
    assert f'action="{url}"' in page
    before = snapshot()
    response = ops.post(url)
    assert f"<h1>Post {memo} of 12.00 USD?</h1>" in response.content.decode()
    assert snapshot() == before
    html = ops.post(url, {"confirm": confirmation_of(response)}, follow=True).content.decode()
    memo.refresh_from_db()
    assert (memo.status, memo.balance) == ("posted", D("12.00"))
    assert f"{memo} posted: 12.00 USD." in html
