"""The memo and payment admin's doors (invoicing/admin/memos_payments.py), through the
admin's own views: a draft memo is written with its lines by one service, posted memos and
payments are final, refusals change nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    DebitMemo,
    DebitMemoLine,
    Payment,
    Receipt,
)
from invoicing.services.memos import credit_memo_create, credit_memo_post, debit_memo_create
from invoicing.services.payments import payment_receive
from tests import factories
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _rows(prefix: str, rows: list[dict], *, initial: int = 0) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def _credit_memo_form(account, rows, **fields) -> dict:
    return {
        "account": account.pk,
        "legal_entity": account.legal_entity_id,
        "currency": "USD",
        "memo_date": "2026-01-05",
        "reason_code": "goodwill",
        "reason": "Goodwill",
        **fields,
        **_rows("lines", rows),
    }


def _debit_memo_form(account, rows, **fields) -> dict:
    return {
        "account": account.pk,
        "legal_entity": account.legal_entity_id,
        "currency": "USD",
        "memo_date": "2026-01-05",
        "next_billing_date": "2026-01-31",
        "reason": "Late fee",
        **fields,
        **_rows("lines", rows),
    }


# --- credit memos ----------------------------------------------------------------------------


def test_credit_memo_added_with_its_lines_through_the_service(admin_client_logged):
    account = factories.AccountFactory()

    response = admin_client_logged.post(
        _url(CreditMemo, "add"),
        _credit_memo_form(
            account,
            [
                {"name": "Outage credit", "quantity": "3", "unit_price": "4.10", "tax_amount": "0"},
                {"name": "Goodwill", "quantity": "1", "unit_price": "10", "tax_amount": "0.63"},
            ],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    memo = CreditMemo.objects.get(account=account)
    assert (memo.status, memo.number, memo.memo_date, memo.reason) == (
        "draft",
        None,
        d(2026, 1, 5),
        "Goodwill",
    )
    assert list(
        memo.lines.order_by("sort_order").values_list("sort_order", "name", "amount", "tax_amount")
    ) == [(1, "Outage credit", D("12.30"), D("0")), (2, "Goodwill", D("10.00"), D("0.63"))]


def test_a_refused_credit_memo_is_shown_on_the_form_and_nothing_is_written(admin_client_logged):
    account = factories.AccountFactory()

    response = admin_client_logged.post(
        _url(CreditMemo, "add"),
        _credit_memo_form(
            account, [{"name": "Bad", "quantity": "1", "unit_price": "-5", "tax_amount": "0"}]
        ),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "lines[0].unit_price: A credit is a positive unit price."
    ]
    assert not CreditMemo.objects.exists() and not CreditMemoLine.objects.exists()


def test_a_draft_credit_memo_is_changed_then_posted_then_final(admin_client_logged):
    account = factories.AccountFactory()
    admin_client_logged.post(
        _url(CreditMemo, "add"),
        _credit_memo_form(
            account,
            [{"name": "Goodwill", "quantity": "1", "unit_price": "10", "tax_amount": "0"}],
        ),
    )
    memo = CreditMemo.objects.get()
    line = memo.lines.get()

    changed = admin_client_logged.post(
        _url(CreditMemo, "change", memo.pk),
        {
            "memo_date": "2026-01-06",
            "reason_code": "service_issue",
            "reason": "Goodwill (revised)",
            **_rows(
                "lines",
                [
                    {
                        "id": line.pk,
                        "credit_memo": memo.pk,
                        "name": "Goodwill",
                        "quantity": "1",
                        "unit_price": "12.00",
                        "tax_amount": "0",
                    }
                ],
                initial=1,
            ),
        },
    )
    assert changed.status_code == 302, changed.context["adminform"].form.errors
    memo.refresh_from_db()
    assert (memo.memo_date, memo.reason_code, memo.reason) == (
        d(2026, 1, 6),
        "service_issue",
        "Goodwill (revised)",
    )
    assert list(memo.lines.values_list("name", "amount")) == [("Goodwill", D("12.00"))]

    admin_client_logged.post(
        _url(CreditMemo, "changelist"),
        {"action": "post_credit_memos", "_selected_action": [memo.pk]},
    )
    memo.refresh_from_db()
    assert (memo.status, memo.total, memo.balance) == ("posted", D("12.00"), D("12.00"))

    page = admin_client_logged.get(_url(CreditMemo, "change", memo.pk))
    assert 'name="_save"' not in page.content.decode()
    assert page.context["has_delete_permission"] is False
    before = CreditMemo.objects.values().get(pk=memo.pk)
    refused_change = admin_client_logged.post(
        _url(CreditMemo, "change", memo.pk), {"reason": "Edited"}
    )
    refused_delete = admin_client_logged.post(_url(CreditMemo, "delete", memo.pk), {"post": "yes"})
    assert (refused_change.status_code, refused_delete.status_code) == (403, 403)
    assert CreditMemo.objects.values().get(pk=memo.pk) == before


def test_a_draft_credit_memo_is_deleted_through_the_service(admin_client_logged):
    memo = factories.CreditMemoFactory(total=D("0"), balance=D("0"), total_charges=D("0"))
    factories.CreditMemoLineFactory(credit_memo=memo)

    response = admin_client_logged.post(_url(CreditMemo, "delete", memo.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not CreditMemo.objects.exists() and not CreditMemoLine.objects.exists()


def test_memo_post_actions(lw, admin_client_logged):
    credit = CreditMemo.objects.create(account=lw.account, currency="USD", memo_date=d(2026, 1, 5))
    CreditMemoLine.objects.create(credit_memo=credit, name="Goodwill", amount=D("12.00"))
    admin_client_logged.post(
        reverse("admin:invoicing_creditmemo_changelist"),
        {"action": "post_credit_memos", "_selected_action": [credit.pk]},
    )
    credit.refresh_from_db()
    assert (credit.status, credit.total, credit.balance) == ("posted", D("12.00"), D("12.00"))

    debit = debit_memo_create(
        account_id=lw.account.pk, lines=[{"name": "Late fee", "unit_price": "9.00"}]
    )
    url = reverse("admin:invoicing_debitmemo_changelist")
    admin_client_logged.post(url, {"action": "post_debit_memos", "_selected_action": [debit.pk]})
    debit.refresh_from_db()
    assert debit.status == "posted"
    done = admin_client_logged.post(
        url, {"action": "invoice_debit_memos", "_selected_action": [debit.pk]}, follow=True
    )
    debit.refresh_from_db()
    assert debit.status == "invoiced"
    assert f"draft invoice #{debit.invoice_id}" in done.content.decode()
    assert DebitMemo.objects.get().invoice.total == D("9.74")  # 9.00 + 0.56 + 0.18


# --- debit memos -----------------------------------------------------------------------------


def test_debit_memo_added_changed_and_deleted_through_the_services(admin_client_logged):
    account = factories.AccountFactory()
    fee = factories.ProductFactory(name="Late fee", taxable=False)

    added = admin_client_logged.post(
        _url(DebitMemo, "add"),
        _debit_memo_form(
            account,
            [
                {"product": fee.pk, "name": "Late fee", "quantity": "2", "unit_price": "7.505"},
                {
                    "product": "",
                    "name": "Courier",
                    "quantity": "1",
                    "unit_price": "3.10",
                    "taxable": "on",
                },
            ],
        ),
    )
    assert added.status_code == 302, added.context["adminform"].form.errors
    memo = DebitMemo.objects.get(account=account)
    assert (memo.status, memo.total, memo.next_billing_date) == (
        "draft",
        D("18.11"),  # 2 × 7.505 = 15.01, + 3.10
        d(2026, 1, 31),
    )
    assert list(
        memo.lines.order_by("sort_order").values_list("name", "amount", "taxable", "product")
    ) == [("Late fee", D("15.01"), False, fee.pk), ("Courier", D("3.10"), True, None)]

    first, second = memo.lines.order_by("sort_order")
    changed = admin_client_logged.post(
        _url(DebitMemo, "change", memo.pk),
        {
            "memo_date": "2026-01-05",
            "next_billing_date": "2026-02-28",
            "reason": "Late fee",
            **_rows(
                "lines",
                [
                    {
                        "id": first.pk,
                        "debit_memo": memo.pk,
                        "product": fee.pk,
                        "name": "Late fee",
                        "quantity": "2",
                        "unit_price": "7.505",
                    },
                    {
                        "id": second.pk,
                        "debit_memo": memo.pk,
                        "name": "Courier",
                        "quantity": "1",
                        "unit_price": "3.10",
                        "taxable": "on",
                        "DELETE": "on",
                    },
                ],
                initial=2,
            ),
        },
    )
    assert changed.status_code == 302, changed.context["adminform"].form.errors
    memo.refresh_from_db()
    assert (memo.total, memo.next_billing_date) == (D("15.01"), d(2026, 2, 28))
    assert list(memo.lines.values_list("name", "amount")) == [("Late fee", D("15.01"))]

    deleted = admin_client_logged.post(_url(DebitMemo, "delete", memo.pk), {"post": "yes"})
    assert deleted.status_code == 302
    assert not DebitMemo.objects.exists() and not DebitMemoLine.objects.exists()


def test_a_posted_debit_memo_is_read_only(admin_client_logged):
    memo = factories.DebitMemoFactory(status="posted")
    factories.DebitMemoLineFactory(debit_memo=memo)
    before = DebitMemo.objects.values().get(pk=memo.pk)

    page = admin_client_logged.get(_url(DebitMemo, "change", memo.pk))
    change = admin_client_logged.post(_url(DebitMemo, "change", memo.pk), {"reason": "x"})
    delete = admin_client_logged.post(_url(DebitMemo, "delete", memo.pk), {"post": "yes"})

    assert 'name="_save"' not in page.content.decode()
    assert (change.status_code, delete.status_code) == (403, 403)
    assert DebitMemo.objects.values().get(pk=memo.pk) == before


# --- payments --------------------------------------------------------------------------------


def test_payment_added_through_payment_record(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))

    response = admin_client_logged.post(
        _url(Payment, "add"),
        {
            "invoice": invoice.pk,
            "amount": "50.00",
            "payment_date": "2026-01-20",
            "reference": "wire 7",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    payment = Payment.objects.get()
    assert (payment.account_id, payment.amount, payment.currency, payment.recorded_by) == (
        lw.account.pk,
        D("50.00"),
        "USD",
        "root",
    )
    invoice.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status) == (D("25.77"), "partially_settled")


def test_a_payment_over_the_balance_is_refused_on_the_form(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))
    before = snapshot()

    response = admin_client_logged.post(
        _url(Payment, "add"),
        {"invoice": invoice.pk, "amount": "80.00", "payment_date": "2026-01-20"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "A payment of 80.00 USD is more than the 75.77 USD open on invoice INV-0001. Record "
        "at most the open balance; refund or credit the difference."
    ]
    assert snapshot() == before


def test_a_payment_is_final(admin_client_logged):
    payment = factories.PaymentFactory()
    before = Payment.objects.values().get(pk=payment.pk)

    page = admin_client_logged.get(_url(Payment, "change", payment.pk))
    change = admin_client_logged.post(_url(Payment, "change", payment.pk), {"reference": "x"})
    delete = admin_client_logged.post(_url(Payment, "delete", payment.pk), {"post": "yes"})

    assert page.context["has_delete_permission"] is False
    assert (change.status_code, delete.status_code) == (403, 403)
    assert Payment.objects.values().get(pk=payment.pk) == before


# --- credit applications: apply and unapply through the services ----------------------------


def test_apply_a_memo_to_its_invoice_and_unapply_it_from_the_admin(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))  # 75.77
    memo = credit_memo_create(
        account_id=lw.account.pk,
        invoice_id=invoice.pk,
        memo_date=d(2026, 1, 20),
        lines=[{"name": "Goodwill", "unit_price": "30.00"}],
    )
    credit_memo_post(credit_memo_id=memo.pk, posted_date=d(2026, 1, 20))
    standalone = credit_memo_create(
        account_id=lw.account.pk, lines=[{"name": "Other", "unit_price": "5.00"}]
    )
    credit_memo_post(credit_memo_id=standalone.pk)

    page = admin_client_logged.post(
        _url(CreditMemo, "changelist"),
        {"action": "apply_credit_memos", "_selected_action": [memo.pk, standalone.pk]},
        follow=True,
    ).content.decode()
    assert f"Applied: 30.00 USD of Credit memo #{memo.pk} to INV-0001." in page
    assert f"Credit memo #{standalone.pk}: it names no invoice" in page
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status, memo.balance) == (
        D("45.77"),
        "partially_settled",
        D("0.00"),
    )
    application = CreditMemoApplication.objects.get()
    assert application.applied_by == "root"

    page = admin_client_logged.post(
        _url(CreditMemoApplication, "changelist"),
        {"action": "unapply_applications", "_selected_action": [application.pk]},
        follow=True,
    ).content.decode()
    assert "Unapplied: 30.00 USD of Credit memo" in page
    invoice.refresh_from_db()
    memo.refresh_from_db()
    application.refresh_from_db()
    assert (invoice.balance, memo.balance, application.is_active) == (
        D("75.77"),
        D("30.00"),
        False,
    )

    # Again: the service's refusal, nothing changed.
    before = snapshot()
    page = admin_client_logged.post(
        _url(CreditMemoApplication, "changelist"),
        {"action": "unapply_applications", "_selected_action": [application.pk]},
        follow=True,
    ).content.decode()
    assert "was already unapplied on " in page
    assert snapshot() == before


def test_payments_received_are_listed_and_reversed_through_the_service(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))
    receipt = payment_receive(
        account_id=lw.account.pk,
        amount="100.00",
        payment_date=d(2026, 2, 1),
        allocations=[{"invoice": invoice.pk}],
    )
    changelist = admin_client_logged.get(_url(Receipt, "changelist")).content.decode()
    assert "100.00 USD" in changelist and "24.23 USD" in changelist
    page = admin_client_logged.post(
        _url(Receipt, "changelist"),
        {"action": "reverse_payments", "_selected_action": [receipt.pk]},
        follow=True,
    ).content.decode()
    assert f"Reversed: {receipt}." in page
    invoice.refresh_from_db()
    receipt.refresh_from_db()
    assert (invoice.balance, receipt.status, receipt.reversed_by) == (
        D("75.77"),
        "reversed",
        "root",
    )
    assert admin_client_logged.get(_url(Receipt, "add")).status_code == 403


def test_the_unallocated_part_of_payments_is_refunded_through_the_service(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))
    receipt = payment_receive(
        account_id=lw.account.pk,
        amount="100.00",
        payment_date=d(2026, 2, 1),
        allocations=[{"invoice": invoice.pk}],
    )
    page = admin_client_logged.post(
        _url(Receipt, "changelist"),
        {"action": "refund_unallocated", "_selected_action": [receipt.pk]},
        follow=True,
    ).content.decode()
    assert f"Refunded: 24.23 USD of {receipt}." in page
    receipt.refresh_from_db()
    assert (receipt.unallocated, receipt.refunded) == (D("0.00"), D("24.23"))
