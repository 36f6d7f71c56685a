"""Commands: void_invoice, send_invoice_emails, render_invoice_pdfs."""

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from invoicing.models import CreditMemo, InvoiceDocument

from .conftest import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_void_invoice_by_number_newest_first(lw):
    january = generate(lw, d(2026, 1, 15))
    generate(lw, d(2026, 2, 15))
    out, _ = run("void_invoice", "INV-0001", "INV-0002", "--reason", "Wrong price")
    memo_of = {m.invoice.number: m.pk for m in CreditMemo.objects.select_related("invoice")}
    assert out.splitlines() == [
        f"voided INV-0002: credit memo #{memo_of['INV-0002']} for 75.77 USD",
        f"voided INV-0001: credit memo #{memo_of['INV-0001']} for 75.77 USD",
    ]
    assert january.credit_memos.count() == 1
    assert set(CreditMemo.objects.values_list("reason", flat=True)) == {"Wrong price"}


def test_void_invoice_errors(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()
    with pytest.raises(CommandError, match="No invoice with number or id 'NOPE'"):
        run("void_invoice", "NOPE")
    err = StringIO()
    with pytest.raises(CommandError, match="1 invoice"):
        call_command("void_invoice", str(draft.pk), stdout=StringIO(), stderr=err)
    assert "[invoice_not_posted]" in err.getvalue()
    assert snapshot() == before


def test_send_invoice_emails_single_and_bulk(lw):
    lw.account.bulk_email_opt_out = True
    lw.account.save()
    invoice = generate(lw, d(2026, 1, 15))

    out, _ = run("send_invoice_emails", "--unsent")
    assert "Bulk send: 1 skipped." in out
    assert mail.outbox == []

    out, _ = run("send_invoice_emails", "--ids", str(invoice.pk), "--to", "cfo@acme.example")
    assert out.strip() == f"invoice {invoice.pk}: sent to cfo@acme.example"
    assert mail.outbox[0].to == ["cfo@acme.example"]


def test_render_invoice_pdfs(lw):
    invoice = generate(lw, d(2026, 1, 15))
    generate(lw, d(2026, 2, 15), action="draft")

    out, _ = run("render_invoice_pdfs", "--missing")
    assert f"invoice {invoice.pk}: version 1, 1 page(s)" in out
    assert "1 rendered, 0 failed." in out
    out, _ = run("render_invoice_pdfs", "--missing")
    assert "0 rendered, 0 failed." in out
    out, _ = run("render_invoice_pdfs", "--ids", str(invoice.pk), "--regenerate")
    assert "version 2" in out
    assert InvoiceDocument.objects.count() == 2
