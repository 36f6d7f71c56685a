"""POST /api/v1/invoices/ingest: the Invoice Ingestion API."""

import copy
from decimal import Decimal as D
from unittest import mock

import pytest

from accounts.models import Account, BillingProfile, Contact, PaymentTerm
from core.models import IdempotencyKey
from invoicing.api.invoices import IngestInvoiceSerializer
from invoicing.models import (
    DebitMemo,
    DebitMemoLine,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    SequencePolicy,
)
from invoicing.services import ingestion
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/invoices/ingest"


@pytest.fixture
def iw(api_world):
    Account.objects.filter(pk=api_world.account.pk).update(external_id="ERP-4711")
    return api_world


def posted_body(**kw) -> dict:
    body = {
        "account_external_id": "ERP-4711",
        "status": "posted",
        "invoice_date": "2026-11-01",
        "posted_date": "2026-11-02",
        "due_date": "2026-12-01",
        "number": "LEGACY-0042",
        "unique_identifier": "erp-5873af8f",
        "addresses": [
            {
                "kind": "billing",
                "name": "Acme",
                "line1": "5 Main St",
                "city": "Austin",
                "region": "TX",
                "postal_code": "73301",
                "country": "us",
            },
        ],
        "lines": [
            {
                "name": "Consulting, October",
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
                "quantity": "10",
                "unit_price": "150.00",
                "amount": "1500.00",
                "taxes": [
                    {"name": "TX sales tax", "code": "TX", "rate": "6.25", "amount": "93.75"}
                ],
            },
            {"name": "Travel", "quantity": "1", "unit_price": "80.00", "taxable": False},
        ],
    }
    body.update(kw)
    return body


def draft_body(world, **kw) -> dict:
    body = {
        "account": world.account.pk,
        "invoice_date": "2026-11-01",
        "lines": [{"product": world.seat.pk, "quantity": "2", "unit_price": "49.00"}],
    }
    body.update(kw)
    return body


def counts() -> dict:
    return {
        "invoices": Invoice.objects.count(),
        "lines": InvoiceLine.objects.count(),
        "taxes": InvoiceLineTax.objects.count(),
        "addresses": InvoiceAddress.objects.count(),
        "next_number": SequencePolicy.objects.get().next_value,
        "memos_invoiced": DebitMemo.objects.filter(status="invoiced").count(),
    }


# --- success ----------------------------------------------------------------------------------


def test_a_posted_import_keeps_its_number_and_final_tax(ops, iw):
    response = ops.post(URL, posted_body())
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["number"], data["status"], data["source"]) == ("LEGACY-0042", "posted", "ingested")
    assert (data["invoice_date"], data["posted_date"], data["due_date"]) == (
        "2026-11-01",
        "2026-11-02",
        "2026-12-01",
    )
    assert (data["total_charges"], data["total_tax"], data["total"], data["balance"]) == (
        "1580.00",
        "93.75",
        "1673.75",
        "1673.75",
    )
    assert data["account"] == iw.account.pk and data["unique_identifier"] == "erp-5873af8f"
    assert data["bill_to"] == iw.account.contacts.get().pk
    first, second = data["lines"]
    assert (first["amount"], first["tax_amount"], first["period_end"]) == (
        "1500.00",
        "93.75",
        "2026-10-31",
    )
    assert first["taxes"] == [
        {
            "name": "TX sales tax",
            "code": "TX",
            "rate": "6.2500",
            "kind": "percentage",
            "taxable_amount": "1500.00",
            "amount": "93.75",
            "status": "posted",
        }
    ]
    assert (second["amount"], second["taxes"]) == ("80.00", [])
    assert [a["country"] for a in data["addresses"]] == ["US"]
    invoice = Invoice.objects.get()
    assert invoice.posted_by == "ops-token" and invoice.posted_at is not None
    assert SequencePolicy.objects.get().next_value is None  # its own number: none taken


def test_a_posted_import_without_a_number_takes_the_sequence(ops, iw):
    body = posted_body(number="", unique_identifier="", due_date=None, posted_date=None)
    response = ops.post(URL, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["number"] == "INV-0001"
    assert data["due_date"] == "2026-12-01"  # the account's default term: Net 30
    assert data["payment_term"] == iw.net30.pk
    assert data["posted_date"] is not None
    assert SequencePolicy.objects.get().next_value == 2


def test_a_draft_with_estimated_tax(ops, iw):
    response = ops.post(URL, draft_body(iw, calculate_tax=True))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["number"], data["posted_date"]) == ("draft", None, None)
    (line,) = data["lines"]
    assert (line["name"], line["amount"], line["unit"], line["unit_code"], line["product"]) == (
        "Seat",
        "98.00",
        iw.each.pk,
        "EA",
        iw.seat.pk,
    )
    assert [(t["amount"], t["status"]) for t in line["taxes"]] == [("6.13", "estimated")]
    assert (data["total_tax"], data["total"]) == ("6.13", "104.13")
    # The account's billing address was snapshotted (it is the tax location).
    assert [(a["kind"], a["region"]) for a in data["addresses"]] == [("billing", "TX")]


def test_a_draft_without_tax_and_with_its_own_payment_term(ops, iw):
    eom = PaymentTerm.objects.create(name="EOM", kind="end_of_month", days=10)
    response = ops.post(URL, draft_body(iw, payment_term=eom.pk, currency="usd"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["due_date"], data["total_tax"], data["total"]) == ("2026-12-10", "0.00", "98.00")
    assert data["lines"][0]["taxes"] == []


def test_the_same_unique_identifier_returns_the_first_invoice(ops, iw):
    first = ops.post(URL, posted_body())
    assert first.status_code == 201
    again = ops.post(URL, posted_body())
    assert again.status_code == 200
    assert again.json() == first.json()
    # Even a changed body: the identifier names the invoice already ingested.
    changed = ops.post(URL, posted_body(number="OTHER-1"))
    assert changed.status_code == 200 and changed.json()["id"] == first.json()["id"]
    assert Invoice.objects.count() == 1 and InvoiceLine.objects.count() == 2


def test_a_racing_duplicate_unique_identifier_returns_the_winner(iw):
    """Two imports with one identifier pass the first look-up at once: the database's
    unique constraint lets one insert win; the other returns the winner's invoice."""
    serializer = IngestInvoiceSerializer(data=posted_body(number=""))
    serializer.is_valid(raise_exception=True)
    winner = ingestion.invoice_ingest(data=serializer.validated_data)
    assert winner.created
    real_filter = Invoice.objects.filter
    calls = {"n": 0}

    def miss_first_lookup(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_filter(pk=-1)
        return real_filter(*args, **kwargs)

    with mock.patch.object(Invoice.objects, "filter", side_effect=miss_first_lookup):
        loser = ingestion.invoice_ingest(data=serializer.validated_data)
    assert not loser.created and loser.invoice.pk == winner.invoice.pk
    assert Invoice.objects.count() == 1
    assert SequencePolicy.objects.get().next_value == 2  # the loser's number rolled back


def test_the_same_idempotency_key_replays_the_first_response(ops, iw):
    body = posted_body(unique_identifier="")
    first = ops.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    replay = ops.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"
    assert Invoice.objects.count() == 1 and InvoiceLine.objects.count() == 2

    other = ops.post(
        URL, posted_body(unique_identifier="", number="X-2"), HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert Invoice.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_a_debit_memo_makes_a_draft_of_its_lines(ops, iw):
    memo = DebitMemo.objects.create(
        account=iw.account,
        legal_entity=iw.seller,
        currency="USD",
        memo_date="2026-10-20",
        next_billing_date="2026-11-01",
        status="posted",
        reason="Late fee",
        total=D("25.00"),
    )
    memo_line = DebitMemoLine.objects.create(
        debit_memo=memo, name="Late fee", quantity=1, unit_price=D("25.00"), amount=D("25.00")
    )
    response = ops.post(
        URL,
        {"account": iw.account.pk, "invoice_date": "2026-11-01", "debit_memo": memo.pk},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["source"], data["number"]) == ("draft", "debit_memo", None)
    assert [(line["name"], line["amount"]) for line in data["lines"]] == [("Late fee", "25.00")]
    memo.refresh_from_db()
    memo_line.refresh_from_db()
    assert memo.status == "invoiced" and memo.invoice_id == data["id"]
    assert memo_line.invoice_line_id == data["lines"][0]["id"]
    again = ops.post(
        URL, {"account": iw.account.pk, "invoice_date": "2026-11-01", "debit_memo": memo.pk}
    )
    assert again.status_code == 400 and list(again.json()["details"]) == ["debit_memo"]


# --- refusals: the exact path, nothing written --------------------------------------------


def _lines3(**third) -> list[dict]:
    lines = [
        {"name": "A", "quantity": "1", "unit_price": "10.00"},
        {"name": "B", "quantity": "2", "unit_price": "10.00"},
        {"name": "C", "quantity": "3", "unit_price": "10.00"},
    ]
    lines[2].update(third)
    return lines


def _posted_taxed_lines(**third) -> list[dict]:
    lines = _lines3(**third)
    for line in lines:
        line.setdefault("taxable", False)
    return lines


REFUSALS = [
    (
        "line end before start",
        lambda w: draft_body(w, lines=_lines3(period_start="2026-10-31", period_end="2026-10-01")),
        {"lines[2].period_end": ["The line ends (2026-10-01) before it starts (2026-10-31)."]},
    ),
    (
        "amount is not quantity × unit price",
        lambda w: draft_body(w, lines=_lines3(amount="31.00")),
        {
            "lines[2].amount": [
                "The amount must be quantity × unit price, rounded: 30.00 (sent 31)."
            ]
        },
    ),
    (
        "unit price is not a number",
        lambda w: draft_body(w, lines=_lines3(unit_price="ten")),
        {"lines[2].unit_price": ["A valid number is required."]},
    ),
    (
        "unit price missing",
        lambda w: draft_body(w, lines=_lines3(unit_price=None)),
        {"lines[2].unit_price": ["This field may not be null."]},
    ),
    (
        "a draft has no posted date",
        lambda w: draft_body(w, posted_date="2026-11-01"),
        {"posted_date": ["A draft has no posted date; it gets one when it is posted."]},
    ),
    (
        "a draft has no number",
        lambda w: draft_body(w, number="INV-9"),
        {"number": ["A draft has no number; it is numbered when it is posted."]},
    ),
    (
        "a draft has no final tax",
        lambda w: draft_body(
            w,
            lines=[
                {
                    "name": "A",
                    "quantity": "1",
                    "unit_price": "10.00",
                    "taxes": [{"name": "T", "rate": "10", "amount": "1.00", "status": "posted"}],
                }
            ],
        ),
        {
            "lines[0].taxes[0].status": [
                "A draft carries no final tax: send estimated tax, or none."
            ]
        },
    ),
    (
        "calculate_tax only for drafts",
        lambda w: posted_body(calculate_tax=True),
        {
            "calculate_tax": [
                "Tax is calculated only for drafts; a posted invoice brings its final tax on "
                "each taxable line."
            ]
        },
    ),
    (
        "calculate_tax estimates: no tax rows with it",
        lambda w: draft_body(
            w,
            calculate_tax=True,
            lines=[
                {
                    "name": "A",
                    "quantity": "1",
                    "unit_price": "10.00",
                    "taxes": [{"name": "T", "rate": "10", "amount": "1.00"}],
                }
            ],
        ),
        {
            "lines[0].taxes": [
                "calculate_tax estimates the tax; leave the tax rows out, or calculate_tax false."
            ]
        },
    ),
    (
        "a taxable posted line carries its taxes",
        lambda w: posted_body(lines=_posted_taxed_lines(taxable=True)),
        {
            "lines[2].taxes": [
                "A taxable line of a posted invoice carries its tax rows (send a row with amount "
                "0 for no tax, or mark the line taxable false)."
            ]
        },
    ),
    (
        "a non-taxable posted line carries none",
        lambda w: posted_body(
            lines=_posted_taxed_lines(taxes=[{"name": "T", "rate": "1", "amount": "0.30"}])
        ),
        {"lines[2].taxes": ["A non-taxable line carries no tax rows."]},
    ),
    (
        "a posted invoice carries final tax",
        lambda w: posted_body(
            lines=_posted_taxed_lines(
                taxable=True,
                taxes=[{"name": "T", "rate": "1", "amount": "0.30", "status": "estimated"}],
            )
        ),
        {"lines[2].taxes[0].status": ["A posted invoice carries final tax: status posted."]},
    ),
    (
        "tax amount finer than the currency",
        lambda w: posted_body(
            lines=_posted_taxed_lines(
                taxable=True, taxes=[{"name": "T", "rate": "1", "amount": "0.305"}]
            )
        ),
        {"lines[2].taxes[0].amount": ["A USD amount has at most 2 decimal places."]},
    ),
    (
        "due date before the invoice date",
        lambda w: draft_body(w, due_date="2026-10-01"),
        {"due_date": ["The due date is before the invoice date."]},
    ),
    (
        "the number is taken",
        lambda w: posted_body(number="TAKEN-1"),
        lambda: {
            "number": [f"Number TAKEN-1 is already used by invoice #{Invoice.objects.get().pk}."]
        },
    ),
    (
        "a debit memo makes a draft",
        lambda w: posted_body(
            debit_memo=DebitMemo.objects.get().pk, lines=[], unique_identifier=""
        ),
        {
            "status": [
                "An invoice made from a debit memo is created as a draft; post it afterwards."
            ],
            "lines": [],  # replaced below: the memo's lines make the invoice
        },
    ),
    (
        "no account",
        lambda w: {"invoice_date": "2026-11-01", "lines": _lines3()},
        {"account": ["Name the account: `account` (its id) or `account_external_id`."]},
    ),
    (
        "unknown external id",
        lambda w: draft_body(w, account=None, account_external_id="NOPE"),
        {"account_external_id": ["No account has the external id 'NOPE'."]},
    ),
    (
        "unknown product",
        lambda w: draft_body(w, lines=_lines3(product=999999)),
        {"lines[2].product": ['Invalid pk "999999" - object does not exist.']},
    ),
    (
        "bill-to of another account",
        lambda w: draft_body(w, bill_to=Contact.objects.get(account__name="Other").pk),
        {"bill_to": ["The bill-to contact belongs to another account."]},
    ),
    (
        "no lines",
        lambda w: draft_body(w, lines=[]),
        {"lines": ["An invoice needs at least one line."]},
    ),
    (
        "a second billing address",
        lambda w: draft_body(
            w, addresses=[{"kind": "billing", "city": "A"}, {"kind": "billing", "city": "B"}]
        ),
        {"addresses[1].kind": ["A second billing address; send one per kind."]},
    ),
]


@pytest.mark.parametrize(("rule", "make_body", "details"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_rule_is_refused_with_its_path_and_nothing_is_written(
    ops, iw, rule, make_body, details
):
    InvoiceFactory(account=iw.account, posted=True, number="TAKEN-1")
    DebitMemo.objects.create(
        account=iw.account,
        currency="USD",
        memo_date="2026-10-01",
        next_billing_date="2026-10-01",
        status="posted",
        total=D("5.00"),
    ).lines.create(name="Fee", quantity=1, unit_price=D("5.00"), amount=D("5.00"))
    other = Account.objects.create(name="Other")
    Contact.objects.create(account=other, name="Other", email="o@example.com")
    body = make_body(iw)
    if callable(details):
        details = details()
    if rule == "a debit memo makes a draft":
        details = {k: v for k, v in details.items() if v}
    before = counts()
    response = ops.post(URL, body)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    assert payload["details"] == details
    assert counts() == before


def test_every_bad_record_is_named_at_once(ops, iw):
    body = draft_body(
        iw,
        posted_date="2026-11-01",
        due_date="2026-10-01",
        lines=[
            {"name": "A", "quantity": "1", "unit_price": "10.00", "amount": "9.00"},
            {"name": "B", "quantity": "1", "unit_price": "10.00"},
            {
                "name": "C",
                "quantity": "1",
                "unit_price": "10.00",
                "period_start": "2026-02-02",
                "period_end": "2026-02-01",
            },
        ],
    )
    before = counts()
    response = ops.post(URL, body)
    assert response.status_code == 400
    payload = response.json()
    assert set(payload["details"]) == {
        "posted_date",
        "due_date",
        "lines[0].amount",
        "lines[2].period_end",
    }
    assert payload["message"].startswith("The invoice was not ingested: ")
    assert payload["message"].endswith("(and 3 more problems)")
    assert counts() == before


def test_no_due_date_and_no_payment_term_anywhere(ops, iw):
    PaymentTerm.objects.update(is_default=False)
    BillingProfile.objects.update(payment_term=None)
    before = counts()
    response = ops.post(URL, draft_body(iw))
    assert response.status_code == 400
    assert response.json()["details"] == {
        "due_date": [
            "Give a due date or a payment term: the account has no payment term and none is "
            "marked the default."
        ]
    }
    assert counts() == before
    assert ops.post(URL, draft_body(iw, due_date="2026-11-15")).status_code == 201


def test_no_sequence_policy_for_a_posted_import_writes_nothing(ops, iw):
    SequencePolicy.objects.update(is_active=False)
    before = counts()
    response = ops.post(URL, posted_body(number=""))
    assert response.status_code == 409
    assert response.json()["code"] == "no_sequence_policy"
    assert counts() == before


def test_read_only_cannot_ingest(reader, iw):
    before = counts()
    response = reader.post(URL, posted_body())
    assert response.status_code == 403
    assert counts() == before


def test_the_body_must_be_an_object(ops, iw):
    response = ops.post(URL, [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    response = ops.post(URL, copy.deepcopy({"invoice_date": "yesterday"}))
    assert "invoice_date" in response.json()["details"]


def test_a_line_unit_by_id_or_by_code(ops, iw):
    body = draft_body(iw)
    body["lines"] = [
        {"name": "Hours", "quantity": "2", "unit_price": "10.00", "unit": iw.hours.pk},
        {"name": "Each", "quantity": "1", "unit_price": "5.00", "unit_code": "EA"},
    ]
    response = ops.post(URL, body)
    assert response.status_code == 201, response.content
    assert [(x["unit"], x["unit_code"]) for x in response.json()["lines"]] == [
        (iw.hours.pk, "HR"),
        (iw.each.pk, "EA"),
    ]
    count = Invoice.objects.count()
    body["unique_identifier"] = "another"
    body["lines"] = [{"name": "x", "quantity": "1", "unit_price": "1.00", "unit": 999999}]
    response = ops.post(URL, body)
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["details"])) == (
        "invalid",
        ["lines[0].unit"],
    )
    assert Invoice.objects.count() == count
