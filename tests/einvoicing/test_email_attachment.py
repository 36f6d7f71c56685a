"""The e-invoice attached to the invoice email (invoicing.hooks.email_attachments, provided by
einvoicing.signals): when the account has einvoice_attach and a format, the email carries
the file; a Factur-X PDF takes the plain PDF's place; a failure sends the email without it
and logs it."""

import datetime as dt
import logging
from decimal import Decimal as D

import pytest
from django.core import mail
from facturx import get_xml_from_pdf
from lxml import etree

from accounts.models import Account, LegalEntity
from einvoicing.services import invoice_einvoice_render
from invoicing import hooks
from invoicing.models import ErrorLog, InvoiceEmail
from invoicing.services.email import invoice_email_send
from tests.support.einvoice import eu_account, item, post_for
from tests.support.generation import activate

d = dt.date
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


@pytest.fixture
def posted(eu):
    """Spree Software's January, RE-EUR-00001."""
    activate(eu.berlin, [item(eu.seat, quantity=D("3"), unit_price=D("49.90"))])
    return post_for(eu.berlin, d(2026, 1, 1))


def prefer(account, fmt: str, attach: bool) -> None:
    Account.objects.filter(pk=account.pk).update(einvoice_format=fmt, einvoice_attach=attach)


def test_the_provider_is_registered():
    from einvoicing.signals import _email_attachment

    assert _email_attachment in hooks._email_attachment_providers


def test_the_email_carries_the_einvoice_when_the_account_asks(eu, posted):
    prefer(eu.berlin, "ubl", attach=True)

    record = invoice_email_send(invoice_id=posted.pk)

    (message,) = mail.outbox
    (pdf, xml) = message.attachments
    assert (pdf[0], pdf[2]) == ("RE-EUR-00001.pdf", "application/pdf")
    assert pdf[1].startswith(b"%PDF-")
    assert (xml[0], xml[2]) == ("RE-EUR-00001-ubl.xml", "application/xml")
    assert xml[1] == invoice_einvoice_render(posted.pk).content
    assert etree.fromstring(xml[1]).findtext(f"{CBC}ID") == "RE-EUR-00001"
    assert (record.status, record.attached_pdf) == ("sent", True)
    assert not ErrorLog.objects.exists()


@pytest.mark.parametrize(("fmt", "attach"), [("cii", False), ("", False)])
def test_no_einvoice_without_einvoice_attach(eu, posted, fmt, attach):
    prefer(eu.berlin, fmt, attach)

    invoice_email_send(invoice_id=posted.pk)

    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == ["RE-EUR-00001.pdf"]


def test_a_reminder_carries_no_einvoice(eu, posted):
    prefer(eu.berlin, "ubl", attach=True)

    invoice_email_send(invoice_id=posted.pk, track_status=False)

    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == ["RE-EUR-00001.pdf"]


def test_without_the_pdf_the_einvoice_alone(eu, posted):
    prefer(eu.berlin, "xrechnung", attach=True)
    LegalEntity.objects.filter(pk=eu.seller.pk).update(attach_pdf=False)

    record = invoice_email_send(invoice_id=posted.pk)

    (message,) = mail.outbox
    ((filename, content, content_type),) = message.attachments
    assert (filename, content_type) == ("RE-EUR-00001-xrechnung.xml", "application/xml")
    assert content == invoice_einvoice_render(posted.pk).content
    assert record.attached_pdf is False


def test_a_facturx_pdf_takes_the_place_of_the_plain_pdf(eu, posted):
    prefer(eu.berlin, "facturx", attach=True)

    invoice_email_send(invoice_id=posted.pk)

    (message,) = mail.outbox
    ((filename, content, content_type),) = message.attachments
    assert (filename, content_type) == ("RE-EUR-00001.pdf", "application/pdf")
    _, xml = get_xml_from_pdf(content, check_xsd=False)
    assert xml == invoice_einvoice_render(posted.pk).xml


def test_a_failing_einvoice_sends_the_email_without_it_and_logs_it(eu, caplog):
    manama = eu_account(
        eu.seller, "Manama WLL", country="BH", city="Manama", postal_code="317", currency="BHD",
        buyer_reference="BH-1", endpoint_id="ap@manama.example", endpoint_scheme="EM",
        einvoice_format="ubl", einvoice_attach=True,
    )  # fmt: skip
    activate(manama, [item(eu.seat, quantity=D("1"), unit_price=D("10.125"))])
    invoice = post_for(manama, d(2026, 1, 1))

    with caplog.at_level(logging.WARNING, logger="invoicing.hooks"):
        record = invoice_email_send(invoice_id=invoice.pk)

    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == [f"{invoice.number}.pdf"]
    assert (record.status, record.error) == ("sent", "")
    assert InvoiceEmail.objects.get().status == "sent"
    log = ErrorLog.objects.get()
    assert (log.category, log.code, log.primary_id, log.is_resolved) == (
        "email",
        "email_attachment_failed",
        invoice.pk,
        False,
    )
    assert log.message.startswith(
        f"Invoice {invoice.number} was emailed to ap@example.com without an attachment "
        "(einvoicing.signals._email_attachment): "
        f"{invoice.number} fails the e-invoice rules (ubl): LL-DEC: "
    )
    assert "Email attachment provider einvoicing.signals._email_attachment failed" in caplog.text

    # Fixed (the account no longer asks for it): the next send resolves the row.
    prefer(manama, "ubl", attach=False)
    invoice_email_send(invoice_id=invoice.pk)
    log.refresh_from_db()
    assert log.is_resolved is True
