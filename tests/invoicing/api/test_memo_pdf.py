"""GET credit-memos/{id}/pdf and debit-memos/{id}/pdf: the memo documents of the API, in the
style of invoices/{id}/pdf, on both slash forms."""

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader
from rest_framework.test import APIClient

from invoicing.models import CreditMemo, DebitMemo, SequencePolicy
from invoicing.services.generation import invoices_generate

pytestmark = pytest.mark.django_db
PREFIX = "/api/v1/"


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def voided(admin, api_world) -> CreditMemo:
    """Acme's January seats (INV-0001: 50.00 + 3.13 tax) voided on 3 Mar 2026 through the API."""
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=4
    )
    result = invoices_generate(
        account_id=api_world.account.pk, target_date=dt.date(2026, 1, 1), action="posted"
    )
    (invoice_id,) = result.invoice_ids
    response = admin.post(
        f"{PREFIX}invoices/{invoice_id}/void", {"void_date": "2026-03-03"}, format="json"
    )
    assert response.status_code == 200, response.json()
    return CreditMemo.objects.get(pk=response.json()["credit_memo"]["id"])


@pytest.fixture
def debit_memo(admin, api_world) -> DebitMemo:
    response = admin.post(
        f"{PREFIX}debit-memos/",
        {
            "account": api_world.account.pk,
            "memo_date": "2026-03-18",
            "next_billing_date": "2026-04-01",
            "reason": "Late payment",
            "post": True,
            "lines": [{"name": "Late fee", "quantity": "1", "unit_price": "25.00"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return DebitMemo.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("slash", ["", "/"])
def test_credit_memo_pdf_answers_the_memo_on_both_slash_forms(admin, voided, slash):
    response = admin.get(f"{PREFIX}credit-memos/{voided.pk}/pdf{slash}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="CM-0001.pdf"'
    text = _text(response.content)
    for expected in (
        "CREDIT MEMO",
        "Credit memo number CM-0001",
        "Credit memo date 3 Mar 2026",
        "Credits invoice INV-0001 of 1 Jan 2026",
        "Subtotal 50.00 Tax 3.13 Total credit USD 53.13 Applied to INV-0001 53.13",
        "Page 1 of 1",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"


@pytest.mark.parametrize("slash", ["", "/"])
def test_debit_memo_pdf_answers_the_memo_on_both_slash_forms(admin, debit_memo, slash):
    response = admin.get(f"{PREFIX}debit-memos/{debit_memo.pk}/pdf{slash}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (f'inline; filename="debit-memo-{debit_memo.pk}.pdf"')
    text = _text(response.content)
    for expected in (
        "DEBIT MEMO",
        "Debit memo date 18 Mar 2026",
        "Billing date 1 Apr 2026",
        "Late fee 1 25.00 25.00",
        "Total before tax USD 25.00",
        "Reason Late payment",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"


def test_a_read_only_user_reads_memo_pdfs_and_anonymous_gets_401(reader, voided, debit_memo):
    for path in (
        f"{PREFIX}credit-memos/{voided.pk}/pdf",
        f"{PREFIX}debit-memos/{debit_memo.pk}/pdf",
    ):
        assert reader.get(path).status_code == 200, path
        anonymous = APIClient().get(path)
        assert anonymous.status_code == 401, path
        assert set(anonymous.json()) == {"code", "message", "details"}


def test_an_unknown_memo_is_a_404_in_the_error_shape(admin, api_world):
    for path in (f"{PREFIX}credit-memos/999999/pdf", f"{PREFIX}debit-memos/999999/pdf/"):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_a_memo_pdf_is_a_read_only_route(admin, voided):
    response = admin.post(f"{PREFIX}credit-memos/{voided.pk}/pdf", {}, format="json")

    assert response.status_code == 405
    assert CreditMemo.objects.get(pk=voided.pk).updated_at == voided.updated_at


def test_the_schema_lists_the_memo_pdf_routes(admin):
    schema = admin.get("/api/schema/", {"format": "json"}).json()

    for path, what in (
        ("/api/v1/credit-memos/{id}/pdf", "The credit memo PDF."),
        ("/api/v1/debit-memos/{id}/pdf", "The debit memo PDF."),
    ):
        assert schema["paths"][path]["get"]["responses"]["200"]["description"] == what
        assert path + "/" not in schema["paths"]


def test_the_voided_invoice_pdf_names_its_credit_memo(admin, voided):
    invoice_id = voided.invoice_id
    text = _text(admin.get(f"{PREFIX}invoices/{invoice_id}/pdf").content)

    assert "Voided on 3 Mar 2026, credited in full by credit memo CM-0001 of 3 Mar 2026." in text
    assert "Amount paid" not in text and "Paid in full" not in text
    assert dt.date(2026, 3, 3) == voided.memo_date
