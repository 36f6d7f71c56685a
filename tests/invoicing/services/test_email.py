"""Invoice emails: template resolution, merge fields, attachment, opt-out, dispatch status,
failures. The locmem outbox stands in for the provider; a raising backend for its failures."""

import datetime as dt
import re
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from accounts.models import BillingProfile
from core.exceptions import ValidationError
from invoicing.exceptions import InvoiceNotPosted
from invoicing.models import EmailTemplate, ErrorLog, Invoice, InvoiceEmail
from invoicing.services.email import (
    email_template_resolve,
    invoice_email_send,
    invoices_email_send_bulk,
)
from invoicing.services.hosted_links import hosted_document_resolve
from tests.support.invoicing import generate

pytestmark = pytest.mark.django_db
d = dt.date


class FailingBackend(BaseEmailBackend):
    """A provider that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def profile_of(world) -> BillingProfile:
    return BillingProfile.objects.get(account=world.account, is_default=True)


def test_template_resolution_order(lw):
    invoice = generate(lw, d(2026, 1, 15))
    assert email_template_resolve(invoice)[1] == "builtin"

    EmailTemplate.objects.create(
        name="System", subject="S {number}", body="system", is_default=True
    )
    assert email_template_resolve(invoice)[1] == "system_default"

    EmailTemplate.objects.create(
        name="Seller", subject="L {number}", body="seller", legal_entity=lw.seller
    )
    assert email_template_resolve(invoice)[1] == "legal_entity"

    own = EmailTemplate.objects.create(
        name="Acme", subject="Your invoice {number}", body="acme", billing_profile=profile_of(lw)
    )
    template, source = email_template_resolve(invoice)
    assert (template.pk, source) == (own.pk, "billing_profile")

    invoice_email_send(invoice_id=invoice.pk)
    assert mail.outbox[-1].subject == "Your invoice INV-0001"
    assert InvoiceEmail.objects.get().template_id == own.pk

    own.is_active = False
    own.save()
    assert email_template_resolve(invoice)[1] == "legal_entity"


def test_built_in_template_merge_fields_and_attachment(lw):
    invoice = generate(lw, d(2026, 1, 15))

    record = invoice_email_send(invoice_id=invoice.pk)

    (message,) = mail.outbox
    assert message.to == ["ap@example.com"]
    assert message.subject == "Invoice INV-0001"
    assert "Dear Acme Corp" in message.body
    assert "invoice INV-0001 for 75.77 USD, due on 2026-02-14" in message.body
    assert "Open balance: 75.77 USD." in message.body
    # The link is the customer's hosted page of this invoice (no login), never the API.
    (link,) = re.findall(r"View the invoice and download its PDF: (\S+)\n", message.body)
    assert link.startswith("http://127.0.0.1:8000/d/") and "/api/" not in message.body
    assert hosted_document_resolve(link.removeprefix("http://127.0.0.1:8000/d/")[:-1]) == invoice
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == ("INV-0001.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert (record.status, record.attached_pdf, record.bulk, record.to) == (
        "sent",
        True,
        False,
        "ap@example.com",
    )
    assert record.sent_at is not None
    invoice.refresh_from_db()
    assert invoice.email_status == "sent"


def test_unknown_braces_stay_literal_and_to_overrides(lw):
    EmailTemplate.objects.create(
        name="System",
        subject="{number} / {nope}",
        body="Total {total}, balance {balance}; {account} {{literal}}",
        is_default=True,
    )
    invoice = generate(lw, d(2026, 1, 15))
    invoice_email_send(invoice_id=invoice.pk, to="cfo@acme.example")
    (message,) = mail.outbox
    assert message.to == ["cfo@acme.example"]
    assert message.subject == "INV-0001 / {nope}"
    assert message.body == "Total 75.77 USD, balance 75.77 USD; Acme Corp {{literal}}"
    with pytest.raises(ValidationError):
        invoice_email_send(invoice_id=invoice.pk, to="not an address")


def test_a_template_link_is_the_hosted_page_at_the_public_address(lw, settings):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "PUBLIC_BASE_URL": "https://pay.example.com"}
    EmailTemplate.objects.create(
        name="System", subject="{number}", body="Pay {number} here: {link}", is_default=True
    )
    invoice = generate(lw, d(2026, 1, 15))

    invoice_email_send(invoice_id=invoice.pk)

    (message,) = mail.outbox
    match = re.fullmatch(r"Pay INV-0001 here: https://pay\.example\.com/d/([^/]+)/", message.body)
    assert match is not None, message.body
    assert hosted_document_resolve(match.group(1)) == invoice


@pytest.mark.parametrize(
    ("profile_attach", "entity_attach", "attached"),
    [
        (None, None, True),
        (False, None, False),
        (None, False, False),
        (True, False, True),
        (False, True, False),
    ],
)
def test_attachment_follows_profile_then_legal_entity_then_yes(
    lw, profile_attach, entity_attach, attached
):
    BillingProfile.objects.filter(pk=profile_of(lw).pk).update(attach_pdf=profile_attach)
    lw.seller.attach_pdf = entity_attach
    lw.seller.save()
    invoice = generate(lw, d(2026, 1, 15))

    record = invoice_email_send(invoice_id=invoice.pk)

    (message,) = mail.outbox
    assert bool(message.attachments) is attached
    assert record.attached_pdf is attached


def test_bulk_send_honours_opt_out_single_send_ignores_it(lw):
    lw.account.bulk_email_opt_out = True
    lw.account.save()
    invoice = generate(lw, d(2026, 1, 15))

    counts = invoices_email_send_bulk(invoice_ids=[invoice.pk])

    assert counts["skipped"] == 1 and counts["sent"] == 0
    assert mail.outbox == []
    skipped = InvoiceEmail.objects.get()
    assert (skipped.status, skipped.bulk) == ("skipped", True)
    invoice.refresh_from_db()
    assert invoice.email_status == "skipped"

    record = invoice_email_send(invoice_id=invoice.pk)
    assert record.status == "sent" and len(mail.outbox) == 1
    invoice.refresh_from_db()
    assert invoice.email_status == "sent"


def test_bulk_send_sends_once(lw):
    january = generate(lw, d(2026, 1, 15))
    february = generate(lw, d(2026, 2, 15))
    draft = generate(lw, d(2026, 3, 15), action="draft")
    first = invoices_email_send_bulk(invoice_ids=[january.pk, february.pk, draft.pk])
    assert (first["sent"], first["not_posted"]) == (2, 1)
    second = invoices_email_send_bulk(invoice_ids=[january.pk, february.pk])
    assert (second["sent"], second["already_sent"]) == (0, 2)
    assert len(mail.outbox) == 2
    assert [m.subject for m in mail.outbox] == ["Invoice INV-0001", "Invoice INV-0002"]


def test_a_provider_failure_is_logged_and_a_later_success_resolves_it(lw, settings):
    invoice = generate(lw, d(2026, 1, 15))
    settings.EMAIL_BACKEND = "tests.invoicing.services.test_email.FailingBackend"

    record = invoice_email_send(invoice_id=invoice.pk)

    assert record.status == "failed"
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in record.error
    invoice.refresh_from_db()
    assert invoice.email_status == "failed"
    log = ErrorLog.objects.get(category="email")
    assert (log.code, log.primary_id, log.is_resolved) == ("email_failed", invoice.pk, False)
    assert "Check the email settings" in log.message

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert invoice_email_send(invoice_id=invoice.pk).status == "sent"
    log.refresh_from_db()
    assert log.is_resolved is True
    assert list(InvoiceEmail.objects.order_by("id").values_list("status", flat=True)) == [
        "failed",
        "sent",
    ]


def test_no_recipient_is_a_recorded_failure(lw):
    invoice = generate(lw, d(2026, 1, 15))
    Invoice.objects.filter(pk=invoice.pk).update(bill_to=None)
    BillingProfile.objects.filter(account=lw.account).update(bill_to=None)

    record = invoice_email_send(invoice_id=invoice.pk)

    assert (record.status, record.to) == ("failed", "")
    assert ErrorLog.objects.get(category="email").code == "email_no_recipient"
    assert mail.outbox == []


def test_drafts_are_not_emailed(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    with pytest.raises(InvoiceNotPosted):
        invoice_email_send(invoice_id=draft.pk)
    assert InvoiceEmail.objects.count() == 0 and mail.outbox == []
