"""E-invoices in the staff UI and on the customer's hosted page: download in the account's
format or another, check any document (a draft included) against the rules with the fix for
each finding; a draft has nothing to download."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client
from lxml import etree

from accounts.models import Account, LegalEntity
from einvoicing.services import FORMATS
from invoicing.models import Invoice
from invoicing.services.credits import invoice_credit
from invoicing.services.generation import invoices_generate
from invoicing.services.hosted_links import hosted_link_path, hosted_link_token
from tests.support.einvoice import item, post_for
from tests.support.generation import activate

d = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(eu):
    Account.objects.filter(pk=eu.paris.pk).update(einvoice_format="xrechnung")
    activate(eu.paris, [item(eu.seat, quantity=D("2"), unit_price=D("250.00"))])
    return post_for(eu.paris, d(2026, 1, 1))


def test_the_invoice_page_downloads_the_accounts_format_or_another(ops, posted):
    page = ops.get(f"/invoices/{posted.pk}/")
    html = page.content.decode()
    assert "Download e-invoice" in html and "Check e-invoice" in html
    assert '<option value="xrechnung" selected>' in html

    preferred = ops.get(f"/invoices/{posted.pk}/einvoice")
    cii = ops.get(f"/invoices/{posted.pk}/einvoice?format=cii")

    assert preferred["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-xrechnung.xml"'
    root = etree.fromstring(preferred.content)
    assert root.findtext("{*}CustomizationID") == FORMATS["xrechnung"].customization
    assert cii["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-cii.xml"'
    assert b"CrossIndustryInvoice" in cii.content[:300]


def test_a_read_only_user_may_download_and_check(ro, posted):
    assert ro.get(f"/invoices/{posted.pk}/einvoice?format=ubl").status_code == 200
    assert ro.get(f"/invoices/{posted.pk}/einvoice/check").status_code == 200


def test_an_unknown_format_is_refused_with_the_formats_named(ops, posted):
    answer = ops.get(f"/invoices/{posted.pk}/einvoice?format=pdf", follow=True)

    assert answer.redirect_chain[-1][0] == f"/invoices/{posted.pk}/"
    assert "“pdf” is not an e-invoice format: use one of ubl, xrechnung, cii, facturx." in (
        answer.content.decode()
    )


def test_the_check_page_lists_the_findings_of_a_draft_with_their_fix(ops, eu):
    LegalEntity.objects.filter(pk=eu.seller.pk).update(vat_id="", legal_registration_id="")
    activate(eu.berlin, [item(eu.seat)])
    (draft,) = invoices_generate(account_id=eu.berlin.pk, target_date=d(2026, 1, 1)).invoices

    page = ops.get(f"/invoices/{draft.pk}/einvoice/check").content.decode()

    assert "Fails the rules" in page
    assert 'data-rule="BR-CO-26"' in page
    assert "set one on legal entity Ledgerline GmbH." in page
    # A draft has no e-invoice to download, only its check.
    assert "Download e-invoice" not in ops.get(f"/invoices/{draft.pk}/").content.decode()
    refused = ops.get(f"/invoices/{draft.pk}/einvoice", follow=True).content.decode()
    assert "only a posted document is exported as an e-invoice" in refused
    assert Invoice.objects.get(pk=draft.pk).status == "draft"


def test_the_check_page_of_a_valid_invoice_offers_its_download(ops, posted):
    page = ops.get(f"/invoices/{posted.pk}/einvoice/check?format=ubl").content.decode()

    assert 'data-einvoice-verdict="valid"' in page
    assert f"/invoices/{posted.pk}/einvoice?format=ubl" in page


def test_a_credit_memo_row_offers_its_e_invoice(ops, posted):
    line = posted.lines.get()
    memo = invoice_credit(
        invoice_id=posted.pk, lines=[{"invoice_line": line.pk, "quantity": "1"}],
        credit_date=d(2026, 1, 5),
    ).credit_memo  # fmt: skip

    page = ops.get(f"/invoices/{posted.pk}/").content.decode()
    file = ops.get(f"/credit-memos/{memo.pk}/einvoice")
    check = ops.get(f"/credit-memos/{memo.pk}/einvoice/check").content.decode()

    assert f"/credit-memos/{memo.pk}/einvoice" in page
    assert file["Content-Disposition"] == f'attachment; filename="{memo.number}-xrechnung.xml"'
    assert etree.QName(etree.fromstring(file.content)).localname == "CreditNote"
    assert 'data-einvoice-verdict="valid"' in check


def test_the_hosted_page_offers_the_customers_format(posted):
    path = hosted_link_path(hosted_link_token(posted))
    customer = Client()

    page = customer.get(path).content.decode()
    file = customer.get(path + "einvoice")

    assert "Download e-invoice (XRechnung 3.0 (UBL))" in page
    assert file.status_code == 200
    assert file["Content-Disposition"] == 'attachment; filename="RE-EUR-00001-xrechnung.xml"'


def test_the_hosted_page_of_a_customer_without_a_format_has_no_e_invoice(eu):
    activate(eu.berlin, [item(eu.seat)])
    invoice = post_for(eu.berlin, d(2026, 1, 1))
    path = hosted_link_path(hosted_link_token(invoice))

    assert "Download e-invoice" not in Client().get(path).content.decode()
    assert Client().get(path + "einvoice").status_code == 404
