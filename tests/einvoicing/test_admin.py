"""The e-invoice actions of the invoice and credit memo admins (einvoicing/admin.py, attached
at start-up): one document downloads as its file, several as a zip; the check shows the
findings; a read-only staff user may use both."""

import datetime as dt
import io
import zipfile
from decimal import Decimal as D

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from lxml import etree

from accounts.models import Account, LegalEntity
from core.permissions import READ_ONLY, roles_sync
from einvoicing.admin import check_einvoices, download_einvoices
from invoicing.models import CreditMemo, ErrorLog, Invoice, InvoiceDocument, InvoiceStatus
from invoicing.services.credits import invoice_credit
from invoicing.services.generation import invoices_generate
from tests.support.einvoice import item, post_for
from tests.support.generation import activate

d = dt.date
INVOICES = "admin:invoicing_invoice_changelist"
MEMOS = "admin:invoicing_creditmemo_changelist"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


@pytest.fixture
def staff(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def reader_staff(client, db):
    """A staff user in the read_only role (view permissions only)."""
    roles_sync()
    user = User.objects.create_user("reader", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=READ_ONLY))
    client.force_login(user)
    return client


@pytest.fixture
def two_posted(eu):
    """Spree Software's January and February (RE-EUR-00001, RE-EUR-00002)."""
    activate(eu.berlin, [item(eu.seat, quantity=D("3"), unit_price=D("49.90"))])
    return [post_for(eu.berlin, d(2026, 1, 1)), post_for(eu.berlin, d(2026, 2, 1))]


def action(client, changelist, name, ids, **extra):
    return client.post(
        reverse(changelist), {"action": name, "_selected_action": ids, **extra}, follow=True
    )


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def ubl_id(content: bytes) -> str:
    return etree.fromstring(content).findtext(f"{CBC}ID")


def test_the_actions_are_on_both_admins(staff, two_posted):
    for model in (Invoice, CreditMemo):
        actions = admin.site._registry[model].actions
        assert actions[-2:] == (download_einvoices, check_einvoices)
    page = staff.get(reverse(INVOICES)).content.decode()
    assert "Download e-invoice (account&#x27;s format)" in page
    assert "Check e-invoice" in page


def test_one_invoice_downloads_as_its_file_in_the_accounts_format(reader_staff, eu, two_posted):
    january = two_posted[0]
    Account.objects.filter(pk=eu.berlin.pk).update(einvoice_format="xrechnung")

    response = action(reader_staff, INVOICES, "download_einvoices", [january.pk])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == ('attachment; filename="RE-EUR-00001-xrechnung.xml"')
    assert ubl_id(response.content) == "RE-EUR-00001"


def test_several_invoices_download_as_a_zip(staff, two_posted):
    response = action(staff, INVOICES, "download_einvoices", [i.pk for i in two_posted])

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-einvoices.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["RE-EUR-00001-ubl.xml", "RE-EUR-00002-ubl.xml"]
    assert [ubl_id(archive.read(name)) for name in archive.namelist()] == [
        "RE-EUR-00001",
        "RE-EUR-00002",
    ]


def test_a_draft_among_several_is_named_in_the_zip_and_alone_gives_no_file(eu, staff, two_posted):
    activate(eu.paris, [item(eu.seat)])
    (draft,) = invoices_generate(
        account_id=eu.paris.pk, target_date=d(2026, 1, 1), action="draft"
    ).invoices
    documents, errors = InvoiceDocument.objects.count(), ErrorLog.objects.count()
    refusal = (
        f"Draft invoice #{draft.pk}: Draft invoice #{draft.pk} is a draft: only a posted "
        "document is exported as an e-invoice. Post it first, or check it (the check action "
        "works on drafts)."
    )

    response = action(staff, INVOICES, "download_einvoices", [two_posted[0].pk, draft.pk])

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["RE-EUR-00001-ubl.xml", "errors.txt"]
    assert archive.read("errors.txt").decode() == refusal + "\n"

    alone = action(staff, INVOICES, "download_einvoices", [draft.pk])

    assert alone["Content-Type"].startswith("text/html")
    assert ("error", refusal) in messages_of(alone)
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, None)
    assert (InvoiceDocument.objects.count(), ErrorLog.objects.count()) == (documents, errors)


def test_check_shows_the_findings(staff, eu, two_posted):
    january = two_posted[0]

    passed = action(staff, INVOICES, "check_einvoices", [january.pk])

    ((level, text),) = messages_of(passed)
    assert level in ("success", "warning")
    assert text.startswith(
        "RE-EUR-00001 (Peppol BIS Billing 3.0 (UBL)): passes the e-invoice rules."
    )

    LegalEntity.objects.filter(pk=eu.seller.pk).update(
        vat_id="", tax_id="", legal_registration_id=""
    )
    failed = action(staff, INVOICES, "check_einvoices", [january.pk])

    ((level, text),) = messages_of(failed)
    assert level == "error"
    assert text.startswith("RE-EUR-00001 (Peppol BIS Billing 3.0 (UBL)): ")
    assert "2 fatal finding(s): BR-CO-26: [BR-CO-26]-In order for the buyer" in text
    assert (
        " Fix: the seller has no VAT id or legal registration id: set one on legal entity "
        "Ledgerline GmbH.; BR-S-02: "
    ) in text
    assert text.endswith(
        " Fix: standard-rated lines need the seller's VAT id: set it on legal entity "
        "Ledgerline GmbH."
    )


def test_a_credit_memo_downloads_and_checks(reader_staff, two_posted):
    january = two_posted[0]
    memo = invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.lines.get().pk, "quantity": "1"}],
        credit_date=d(2026, 1, 10),
    ).credit_memo

    response = action(reader_staff, MEMOS, "download_einvoices", [memo.pk])

    assert response["Content-Disposition"] == 'attachment; filename="GS-00001-ubl.xml"'
    assert etree.QName(etree.fromstring(response.content)).localname == "CreditNote"
    checked = action(reader_staff, MEMOS, "check_einvoices", [memo.pk])
    ((_, text),) = messages_of(checked)
    assert text.startswith("GS-00001 (Peppol BIS Billing 3.0 (UBL)): passes the e-invoice rules.")
