"""Negative invoice lines converted from the invoice page (issue 13, point 5): a confirmation
with the amounts first, nothing before it; the PDF says the line was converted."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from invoicing.models import CreditMemo
from invoicing.services.documents import invoice_pdf_bytes
from tests.support.confirm import confirmation_of
from tests.support.invoicing import CONSULTING, CREDIT, ingested, snapshot

pytestmark = pytest.mark.django_db


def test_from_the_invoice_page_after_a_confirmation_and_on_the_pdf(world, ops):
    invoice = ingested(world, [CONSULTING, CREDIT])
    url = reverse("web:invoice_convert_negative_lines", args=[invoice.pk])
    page = ops.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()
    assert f'action="{url}"' in page
    before = snapshot()
    response = ops.post(url)
    figures = confirmation_of(response)
    text = response.content.decode()
    assert (
        "becomes 1,593.75 USD; 106.25 USD of the memo is applied back to it, so its balance "
        "stays 1,487.50 USD." in text
    )
    assert snapshot() == before
    html = ops.post(url, {"confirm": figures}, follow=True).content.decode()
    memo = CreditMemo.objects.get()
    assert f"Negative lines converted into {memo} of 106.25 USD." in html
    assert "Convert negative lines…" not in html

    pdf, _ = invoice_pdf_bytes(invoice_id=invoice.pk)
    words = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert f"Converted to credit memo #{memo.pk}; not in this invoice's total." in words
