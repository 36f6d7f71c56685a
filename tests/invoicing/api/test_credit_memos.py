"""credit-memos/ writes: create (and post at once), post, apply to one or several invoices,
unapply; exact balances in the answers, refusals in the one error shape changing nothing, and
403 for a read-only token."""

import datetime as dt

import pytest
from django.urls import reverse

from invoicing.models import CreditMemo, CreditMemoApplication, SequencePolicy
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def billed_twice(lw):
    lw.january = generate(lw, d(2026, 1, 15))
    lw.february = generate(lw, d(2026, 2, 15))
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=4
    )
    return lw


def create(client, account, **fields):
    body = {
        "account": account.pk,
        "reason": "service_issue",
        "note": "Outage on 3 March",
        "credit_date": "2026-03-03",
        "lines": [{"name": "Goodwill credit", "unit_price": "100.00"}],
        **fields,
    }
    return client.post(reverse("credit-memo-list"), body)


def balance_of(client, invoice) -> tuple[str, str]:
    body = client.get(reverse("invoice-edit", args=[invoice.pk])).json()
    return body["balance"], body["settlement_status"]


def test_create_post_apply_over_two_invoices_and_unapply(billed_twice, ops):
    w = billed_twice
    response = create(ops, w.account)
    assert response.status_code == 201, response.content
    memo = response.json()
    assert (memo["status"], memo["number"], memo["total"], memo["balance"]) == (
        "draft",
        None,
        "100.00",
        "0.00",
    )
    assert (memo["credit_date"], memo["reason"], memo["note"], memo["source"]) == (
        "2026-03-03",
        "service_issue",
        "Outage on 3 March",
        "standalone",
    )
    posted = ops.post(reverse("credit-memo-post", args=[memo["id"]]))
    assert posted.status_code == 200, posted.content
    assert (posted.json()["status"], posted.json()["number"], posted.json()["balance"]) == (
        "posted",
        "CM-0001",
        "100.00",
    )

    applied = ops.post(
        reverse("credit-memo-apply", args=[memo["id"]]),
        {
            "applications": [{"invoice": w.january.pk}, {"invoice": w.february.pk}],
            "applied_date": "2026-03-04",
        },
    )
    assert applied.status_code == 200, applied.content
    body = applied.json()
    assert (body["balance"], body["applied_amount"], body["remaining_amount"]) == (
        "0.00",
        "100.00",
        "0.00",
    )
    assert [
        (a["invoice"], a["amount"], a["applied_date"], a["applied_by"])
        for a in body["applications"]
    ] == [
        (w.january.pk, "75.77", "2026-03-04", "ops-token"),
        (w.february.pk, "24.23", "2026-03-04", "ops-token"),
    ]
    assert balance_of(ops, w.january) == ("0.00", "settled")
    assert balance_of(ops, w.february) == ("51.54", "partially_settled")

    february_application = body["applications"][1]["id"]
    unapplied = ops.post(
        reverse("credit-memo-unapply", args=[memo["id"]]), {"invoice": w.february.pk}
    )
    assert unapplied.status_code == 200, unapplied.content
    assert unapplied.json()["balance"] == "24.23"
    row = next(a for a in unapplied.json()["applications"] if a["id"] == february_application)
    assert row["unapplied_by"] == "ops-token" and row["unapplied_at"] is not None
    assert balance_of(ops, w.february) == ("75.77", "not_settled")


def test_create_and_post_at_once_then_apply_to_one_invoice(billed_twice, ops):
    w = billed_twice
    memo = create(ops, w.account, post=True, invoice=w.january.pk).json()
    assert (memo["status"], memo["number"], memo["invoice"]) == ("posted", "CM-0001", w.january.pk)
    response = ops.post(
        reverse("credit-memo-apply", args=[memo["id"]]),
        {"invoice": w.january.pk, "amount": "20.00", "applied_date": "2026-03-04"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["balance"] == "80.00"
    assert balance_of(ops, w.january) == ("55.77", "partially_settled")


def test_refusals_answer_the_error_shape_and_change_nothing(billed_twice, ops):
    w = billed_twice
    memo = create(ops, w.account, post=True).json()
    url = reverse("credit-memo-apply", args=[memo["id"]])
    before = snapshot()

    response = ops.post(url, {"invoice": w.january.pk, "amount": "80.00"})
    assert response.status_code == 409
    assert response.json() == {
        "code": "credit_exceeds_balance",
        "message": "80.00 USD is more than the 75.77 USD open on invoice INV-0001. "
        "Apply at most the open balance.",
        "details": {"invoice": w.january.pk, "amount": "80.00", "balance": "75.77"},
    }

    response = ops.post(url, {"invoice": w.january.pk, "applications": []})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["details"]) == ["applications"]

    response = ops.post(url, {"applications": [{"invoice": w.january.pk, "amount": "-1"}]})
    assert response.status_code == 400
    assert response.json()["details"] == {
        "applications[0].amount": ["An application must be more than zero."]
    }

    response = ops.post(reverse("credit-memo-apply", args=[999999]), {"invoice": w.january.pk})
    assert response.status_code == 404 and response.json()["code"] == "not_found"

    response = ops.post(reverse("credit-memo-unapply", args=[memo["id"]]), {"application": 1})
    assert response.status_code == 404
    assert response.json()["code"] == "credit_application_not_found"
    response = ops.post(
        reverse("credit-memo-unapply", args=[memo["id"]]), {"invoice": w.january.pk}
    )
    assert response.status_code == 404
    assert response.json()["message"] == (
        "Credit memo CM-0001 has no credit applied to invoice INV-0001 to unapply."
    )

    draft = create(ops, w.account).json()
    response = ops.post(reverse("credit-memo-apply", args=[draft["id"]]), {"invoice": w.january.pk})
    assert response.status_code == 409 and response.json()["code"] == "credit_memo_not_posted"

    response = create(ops, w.account, lines=[{"name": "", "unit_price": "x"}])
    assert response.status_code == 400
    assert response.json()["details"] == {"lines[0].unit_price": ["A valid number is required."]}

    del before  # the drafts created above are new rows; what existed is unchanged:
    assert CreditMemoApplication.objects.count() == 0
    memo_row = CreditMemo.objects.get(pk=memo["id"])
    assert (memo_row.balance, memo_row.total) == (memo_row.total, memo_row.total)
    assert balance_of(ops, w.january) == ("75.77", "not_settled")


def test_a_read_only_token_cannot_create_apply_or_unapply(billed_twice, ops, reader):
    w = billed_twice
    memo = create(ops, w.account, post=True).json()
    assert create(reader, w.account).status_code == 403
    assert reader.post(reverse("credit-memo-post", args=[memo["id"]])).status_code == 403
    response = reader.post(reverse("credit-memo-apply", args=[memo["id"]]), {"invoice": 1})
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert (
        reader.post(reverse("credit-memo-unapply", args=[memo["id"]]), {"application": 1})
    ).status_code == 403
    assert CreditMemo.objects.count() == 1 and CreditMemoApplication.objects.count() == 0


# --- invoices/{id}/credit: credit lines of a posted invoice -------------------------------------


def test_credit_lines_of_an_invoice_posted_numbered_and_applied(billed_twice, ops):
    w = billed_twice
    seat = w.january.lines.get(name="Seat")
    support = w.january.lines.get(name="Premium support")
    response = ops.post(
        reverse("invoice-credit", args=[w.january.pk]),
        {
            "reason": "billing_error",
            "note": "Two seats were never used",
            "credit_date": "2026-02-10",
            "lines": [
                {"invoice_line": seat.pk, "quantity": "2"},
                {"invoice_line": support.pk, "amount": "5.00"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    memo = body["credit_memo"]
    assert (memo["number"], memo["status"], memo["reason"], memo["note"], memo["source"]) == (
        "CM-0001",
        "posted",
        "billing_error",
        "Two seats were never used",
        "invoice",
    )
    # Seat: 2 of 10 × 5.00 = 10.00, tax 0.63 + 0.20; support 5.00, tax 0.31 + 0.10.
    assert [
        (x["invoice_line"], x["quantity"], x["amount"], x["tax_amount"]) for x in memo["lines"]
    ] == [
        (seat.pk, "2.000000", "10.00", "0.83"),
        (support.pk, "1.000000", "5.00", "0.41"),
    ]
    assert (memo["total"], memo["balance"]) == ("16.24", "0.00")
    assert [(a["invoice"], a["amount"]) for a in memo["applications"]] == [(w.january.pk, "16.24")]
    assert (body["invoice"]["balance"], body["invoice"]["settlement_status"]) == (
        "59.53",
        "partially_settled",
    )


def test_credit_refusals_name_the_line(billed_twice, ops, reader):
    w = billed_twice
    seat = w.january.lines.get(name="Seat")
    url = reverse("invoice-credit", args=[w.january.pk])
    before = snapshot()
    response = ops.post(url, {"lines": [{"invoice_line": seat.pk, "amount": "60.00"}]})
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "lines[0].amount: Line 'Seat' has 50.00 USD left to credit of 50.00 USD; "
        "60.00 USD is more.",
        "details": {
            "lines[0].amount": [
                "Line 'Seat' has 50.00 USD left to credit of 50.00 USD; 60.00 USD is more."
            ]
        },
    }
    response = ops.post(url, {"lines": [{"invoice_line": seat.pk}], "reason": "pricing"})
    assert response.status_code == 400 and list(response.json()["details"]) == ["reason"]
    assert ops.post(reverse("invoice-credit", args=[999999]), {"lines": []}).status_code == 404
    assert reader.post(url, {"lines": [{"invoice_line": seat.pk}]}).status_code == 403
    assert snapshot() == before


# --- invoices/{id}/write-off and reverse-write-off ------------------------------------------------


def test_write_off_then_payment_refused_then_reverse(billed_twice, ops, reader):
    w = billed_twice
    url = reverse("invoice-write-off", args=[w.january.pk])
    assert reader.post(url, {}).status_code == 403
    response = ops.post(url, {"reason": "Bankrupt", "write_off_date": "2026-04-30"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["invoice"]["balance"], body["invoice"]["settlement_status"]) == ("0.00", "settled")
    memo = body["credit_memo"]
    assert (memo["number"], memo["source"], memo["note"], memo["total"]) == (
        "CM-0001",
        "write_off",
        "Bankrupt",
        "75.77",
    )
    payment = ops.post(
        reverse("invoice-payments", args=[w.january.pk]), {"amount": "10.00", "date": "2026-05-02"}
    )
    assert payment.status_code == 409
    assert payment.json()["code"] == "invoice_written_off"

    reversed_ = ops.post(reverse("invoice-write-off-reverse", args=[w.january.pk]))
    assert reversed_.status_code == 200, reversed_.content
    assert reversed_.json()["invoice"]["balance"] == "75.77"
    assert reversed_.json()["credit_memo"]["status"] == "voided"
    again = ops.post(reverse("invoice-write-off-reverse", args=[w.january.pk]))
    assert again.status_code == 409 and again.json()["code"] == "invoice_not_written_off"


def test_patch_and_delete_a_draft_then_void_a_posted_memo(billed_twice, ops):
    w = billed_twice
    memo = create(ops, w.account).json()
    url = reverse("credit-memo-detail", args=[memo["id"]])
    patched = ops.patch(
        url,
        {"reason": "goodwill", "note": "Sorry", "lines": [{"name": "Credit", "amount": "40.00"}]},
    )
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert (body["reason"], body["note"], body["total"], body["status"]) == (
        "goodwill",
        "Sorry",
        "40.00",
        "draft",
    )
    assert [(x["name"], x["quantity"], x["unit_price"], x["amount"]) for x in body["lines"]] == [
        ("Credit", "1.000000", "40.000000", "40.00")
    ]
    assert ops.delete(url).status_code == 204
    assert not CreditMemo.objects.filter(pk=memo["id"]).exists()

    posted = create(ops, w.account, post=True).json()
    ops.post(reverse("credit-memo-apply", args=[posted["id"]]), {"invoice": w.january.pk})
    refused = ops.post(reverse("credit-memo-void", args=[posted["id"]]))
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        "Credit memo CM-0001 has 75.77 USD applied to invoices; unapply it before voiding the memo."
    )
    assert (
        ops.patch(reverse("credit-memo-detail", args=[posted["id"]]), {"note": "x"}).status_code
        == 409
    )
    ops.post(reverse("credit-memo-unapply", args=[posted["id"]]), {"invoice": w.january.pk})
    voided = ops.post(reverse("credit-memo-void", args=[posted["id"]]))
    assert voided.status_code == 200, voided.content
    memo, debit = voided.json()["credit_memo"], voided.json()["debit_memo"]
    assert (memo["status"], memo["number"], memo["remaining_amount"]) == (
        "voided",
        "CM-0001",
        "0.00",
    )
    assert (debit["status"], debit["total"], debit["account"]) == ("offset", "100.00", w.account.pk)
    assert [(x["name"], x["amount"]) for x in debit["lines"]] == [("Goodwill credit", "100.00")]
    again = ops.post(reverse("credit-memo-void", args=[posted["id"]]))
    assert again.status_code == 409 and again.json()["code"] == "credit_memo_not_posted"


def test_apply_to_an_invoice_line(billed_twice, ops):
    w = billed_twice
    support = w.january.lines.get(name="Premium support")  # 19.99 + tax 1.65 = 21.64
    memo = create(ops, w.account, post=True).json()
    url = reverse("credit-memo-apply", args=[memo["id"]])
    too_much = ops.post(
        url,
        {
            "applications": [
                {"invoice": w.january.pk, "invoice_line": support.pk, "amount": "21.65"}
            ]
        },
    )
    assert too_much.status_code == 409
    assert too_much.json()["message"] == (
        f"21.65 USD is more than the 21.64 USD open on line {support.pk} of invoice INV-0001 "
        "(its amount with tax, less credits applied to it)."
    )
    done = ops.post(url, {"applications": [{"invoice": w.january.pk, "invoice_line": support.pk}]})
    assert done.status_code == 200, done.content
    (application,) = done.json()["applications"]
    assert (application["invoice_line"], application["amount"]) == (support.pk, "21.64")
    assert balance_of(ops, w.january) == ("54.13", "partially_settled")


# --- payments/ ----------------------------------------------------------------------------------


def test_payments_received_allocated_refunded_and_reversed(billed_twice, ops, reader):
    w = billed_twice
    response = ops.post(
        reverse("payment-list"),
        {
            "account": w.account.pk,
            "amount": "100.00",
            "date": "2026-03-02",
            "method": "bank_transfer",
            "reference": "SEPA 42",
            "allocations": [{"invoice": w.january.pk}],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {
        k: body[k] for k in ("amount", "currency", "date", "method", "reference", "status")
    } == {
        "amount": "100.00",
        "currency": "USD",
        "date": "2026-03-02",
        "method": "bank_transfer",
        "reference": "SEPA 42",
        "status": "received",
    }
    assert [(a["invoice"], a["amount"]) for a in body["allocations"]] == [(w.january.pk, "75.77")]
    assert (body["unallocated_amount"], body["refunded_amount"]) == ("24.23", "0.00")
    pk = body["id"]

    allocated = ops.post(
        reverse("payment-allocate", args=[pk]),
        {"allocations": [{"invoice": w.february.pk, "amount": "4.23"}]},
    )
    assert allocated.status_code == 200 and allocated.json()["unallocated_amount"] == "20.00"
    too_much = ops.post(reverse("payment-refund", args=[pk]), {"amount": "20.01"})
    assert too_much.status_code == 409 and too_much.json()["code"] == "payment_exceeds_balance"
    refunded = ops.post(
        reverse("payment-refund", args=[pk]),
        {"amount": "20.00", "date": "2026-03-03", "reason": "Surplus"},
    )
    assert refunded.status_code == 200, refunded.content
    assert (refunded.json()["unallocated_amount"], refunded.json()["refunded_amount"]) == (
        "0.00",
        "20.00",
    )
    assert [(r["amount"], r["date"], r["reason"]) for r in refunded.json()["refunds"]] == [
        ("20.00", "2026-03-03", "Surplus")
    ]
    assert balance_of(ops, w.february) == ("71.54", "partially_settled")

    # A payment with a refund is not reversed; a fresh one is.
    refused = ops.post(reverse("payment-reverse", args=[pk]), {"reason": "x"})
    assert refused.status_code == 409
    other = ops.post(
        reverse("payment-list"),
        {
            "account": w.account.pk,
            "amount": "10.00",
            "date": "2026-03-02",
            "allocations": [{"invoice": w.february.pk}],
        },
    ).json()
    reversed_ = ops.post(reverse("payment-reverse", args=[other["id"]]), {"reason": "Typo"})
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"
    assert balance_of(ops, w.february) == ("71.54", "partially_settled")

    listed = reader.get(reverse("payment-list"), {"account": w.account.pk}).json()
    assert listed["count"] == 2
    assert reader.get(reverse("payment-detail", args=[pk])).status_code == 200
    assert reader.post(reverse("payment-refund", args=[pk]), {"amount": "1"}).status_code == 403


def test_apply_at_line_level_the_line_with_most_open_first(billed_twice, ops):
    """January: Seat 50.00 + tax 4.13 = 54.13 open; Premium support 19.99 + 1.65 = 21.64."""
    w = billed_twice
    seat = w.january.lines.get(name="Seat")
    support = w.january.lines.get(name="Premium support")
    memo = create(ops, w.account, post=True).json()  # 100.00
    response = ops.post(
        reverse("credit-memo-apply", args=[memo["id"]]),
        {"applications": [{"invoice": w.january.pk, "amount": "60.00"}], "level": "line"},
    )
    assert response.status_code == 200, response.content
    assert [(a["invoice_line"], a["amount"]) for a in response.json()["applications"]] == [
        (seat.pk, "54.13"),
        (support.pk, "5.87"),
    ]
    assert balance_of(ops, w.january) == ("15.77", "partially_settled")
    # With no amount: what is open on the invoice, the support line's 15.77 first now.
    response = ops.post(
        reverse("credit-memo-apply", args=[memo["id"]]),
        {"applications": [{"invoice": w.january.pk}], "level": "line"},
    )
    assert [(a["invoice_line"], a["amount"]) for a in response.json()["applications"]][2:] == [
        (support.pk, "15.77")
    ]
    assert balance_of(ops, w.january) == ("0.00", "settled")
