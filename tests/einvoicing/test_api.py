"""The e-invoice doors of the API (einvoicing/api/): GET invoices/{id}/einvoice and
credit-memos/{id}/einvoice (the file, named by the service), POST …/einvoice/validate (the
findings), for every role that reads; refusals in the one error shape, writing nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest
from facturx import get_xml_from_pdf
from lxml import etree
from rest_framework.test import APIClient

from accounts.models import Account, LegalEntity
from invoicing.models import CreditMemo, ErrorLog, Invoice, InvoiceDocument, InvoiceStatus
from invoicing.services.credits import invoice_credit
from invoicing.services.generation import invoices_generate
from tests.support.einvoice import item, post_for
from tests.support.generation import activate

d = dt.date
PREFIX = "/api/v1/"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


@pytest.fixture
def posted(eu):
    """Spree Software's January: 3 seats at 49.90 + 19 % = 178.14, RE-EUR-00001."""
    activate(eu.berlin, [item(eu.seat, quantity=D("3"), unit_price=D("49.90"))])
    return post_for(eu.berlin, d(2026, 1, 1))


@pytest.fixture
def draft(eu):
    activate(eu.paris, [item(eu.seat, quantity=D("2"), unit_price=D("250.00"))])
    result = invoices_generate(account_id=eu.paris.pk, target_date=d(2026, 1, 1), action="draft")
    (invoice,) = result.invoices
    assert invoice.status == InvoiceStatus.DRAFT
    return invoice


@pytest.fixture
def memo(posted):
    """One seat of RE-EUR-00001 credited on 10 Jan: 49.90 + 9.48 = 59.38, GS-00001."""
    result = invoice_credit(
        invoice_id=posted.pk,
        lines=[{"invoice_line": posted.lines.get().pk, "quantity": "1"}],
        credit_date=d(2026, 1, 10),
    )
    return result.credit_memo


def snapshot():
    """What a refused request must leave as it was."""
    return (
        list(Invoice.objects.order_by("id").values_list("id", "status", "number", "updated_at")),
        list(CreditMemo.objects.order_by("id").values_list("id", "status", "number")),
        InvoiceDocument.objects.count(),
        ErrorLog.objects.count(),
    )


def document_number(response) -> str:
    """The document number the file names: cbc:ID of UBL, the ExchangedDocument's ID of CII
    (for Factur-X, of the CII embedded in the PDF)."""
    content = response.content
    if response["Content-Type"] == "application/pdf":
        _, content = get_xml_from_pdf(content, check_xsd=False)
    root = etree.fromstring(content)
    if etree.QName(root).localname == "CrossIndustryInvoice":
        return root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS)
    return root.findtext("cbc:ID", namespaces=NS)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    return body


# --- the file ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "filename", "content_type", "root"),
    [
        ("ubl", "RE-EUR-00001-ubl.xml", "application/xml", "Invoice"),
        ("xrechnung", "RE-EUR-00001-xrechnung.xml", "application/xml", "Invoice"),
        ("cii", "RE-EUR-00001-cii.xml", "application/xml", "CrossIndustryInvoice"),
        ("facturx", "RE-EUR-00001.pdf", "application/pdf", None),
    ],
)
def test_a_read_only_user_downloads_each_format(reader, posted, key, filename, content_type, root):
    response = reader.get(f"{PREFIX}invoices/{posted.pk}/einvoice", {"format": key})

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    if root:
        assert etree.QName(etree.fromstring(response.content)).localname == root
    else:
        assert response.content.startswith(b"%PDF-")
    assert document_number(response) == "RE-EUR-00001"


def test_without_a_format_the_accounts_preference_else_ubl(reader, eu, posted):
    url = f"{PREFIX}invoices/{posted.pk}/einvoice"

    first = reader.get(url)
    Account.objects.filter(pk=eu.berlin.pk).update(einvoice_format="cii")
    second = reader.get(url)
    explicit = reader.get(url, {"format": "xrechnung"})

    assert first["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-ubl.xml"'
    assert second["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-cii.xml"'
    assert explicit["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-xrechnung.xml"'


def test_the_other_slash_form_and_an_xml_accept_header_answer_the_file(reader, posted):
    response = reader.get(
        f"{PREFIX}invoices/{posted.pk}/einvoice/?format=cii", HTTP_ACCEPT="application/xml"
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-cii.xml"'


def test_a_draft_has_no_einvoice_409_and_nothing_is_written(reader, draft):
    before = snapshot()

    response = reader.get(f"{PREFIX}invoices/{draft.pk}/einvoice", {"format": "ubl"})

    body = assert_error(response, 409, "einvoice_not_posted")
    assert body["message"] == (
        f"Draft invoice #{draft.pk} is a draft: only a posted document is exported as an "
        "e-invoice. Post it first, or check it (the check action works on drafts)."
    )
    assert body["details"] == {"status": "draft"}
    assert snapshot() == before


def test_an_unknown_format_is_400_naming_format(reader, posted):
    before = snapshot()

    response = reader.get(f"{PREFIX}invoices/{posted.pk}/einvoice", {"format": "pdf"})

    body = assert_error(response, 400, "invalid")
    assert body["details"] == {
        "format": ["“pdf” is not an e-invoice format: use one of ubl, xrechnung, cii, facturx."]
    }
    assert body["message"].startswith("format: ")
    assert snapshot() == before


def test_an_unknown_id_is_404(reader, posted):
    body = assert_error(reader.get(f"{PREFIX}invoices/999999/einvoice"), 404, "not_found")

    assert body["message"] == "There is no invoice with id 999999."
    body = assert_error(reader.get(f"{PREFIX}credit-memos/999999/einvoice"), 404, "not_found")
    assert body["message"] == "There is no credit memo with id 999999."


def test_anonymous_is_401(posted):
    assert_error(
        APIClient().get(f"{PREFIX}invoices/{posted.pk}/einvoice"), 401, "not_authenticated"
    )


def test_a_credit_memo_downloads_as_a_credit_note(reader, memo):
    response = reader.get(f"{PREFIX}credit-memos/{memo.pk}/einvoice")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == 'attachment; filename="GS-00001-ubl.xml"'
    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "CreditNote"
    assert root.findtext("cbc:ID", namespaces=NS) == memo.number == "GS-00001"


# --- the check --------------------------------------------------------------------------------


def test_validate_a_posted_invoice_answers_no_fatal_finding(reader, posted):
    response = reader.post(f"{PREFIX}invoices/{posted.pk}/einvoice/validate", {}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["format"], body["valid"], body["fatal"]) == ("ubl", True, 0)
    assert body["warnings"] == len(body["findings"])
    assert all(f["flag"] == f["severity"] == "warning" for f in body["findings"])


def test_validate_answers_the_fatal_findings_with_their_fix(reader, eu, posted):
    LegalEntity.objects.filter(pk=eu.seller.pk).update(
        vat_id="", tax_id="", legal_registration_id=""
    )
    before = snapshot()

    response = reader.post(
        f"{PREFIX}invoices/{posted.pk}/einvoice/validate", {"format": "cii"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["format"], body["valid"]) == ("cii", False)
    fatal = [f for f in body["findings"] if f["flag"] == "fatal"]
    assert body["fatal"] == len(fatal) > 0
    (finding,) = [f for f in fatal if f["rule"] == "BR-CO-26"]
    assert finding["severity"] == "fatal"
    assert finding["fix"] == (
        "the seller has no VAT id or legal registration id: set one on legal entity "
        "Ledgerline GmbH."
    )
    assert set(finding) == {"rule", "flag", "severity", "message", "location", "fix", "source"}
    assert snapshot() == before


def test_a_draft_can_be_validated(reader, draft):
    before = snapshot()

    response = reader.post(f"{PREFIX}invoices/{draft.pk}/einvoice/validate", format="json")

    assert response.status_code == 200
    assert (response.json()["valid"], response.json()["fatal"]) == (True, 0)
    assert snapshot() == before


def test_validate_refuses_an_unknown_format_and_an_unknown_id(reader, posted):
    url = f"{PREFIX}invoices/{posted.pk}/einvoice/validate"

    body = assert_error(reader.post(url, {"format": "json"}, format="json"), 400, "invalid")
    assert list(body["details"]) == ["format"]
    assert_error(
        reader.post(f"{PREFIX}invoices/999999/einvoice/validate", {}, format="json"),
        404,
        "not_found",
    )


def test_validate_a_credit_memo(reader, memo):
    response = reader.post(
        f"{PREFIX}credit-memos/{memo.pk}/einvoice/validate", {"format": "xrechnung"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["format"], response.json()["valid"]) == ("xrechnung", True)
