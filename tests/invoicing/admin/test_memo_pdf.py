"""The memo admin's PDF doors: a link on each memo's change page and in the list, and the
admin's own `<id>/pdf/` view (the same renderer as the staff UI and the API)."""

import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from core.permissions import READ_ONLY, roles_sync
from invoicing.models import CreditMemo, DebitMemo
from invoicing.services.memos import credit_memo_create, debit_memo_create
from invoicing.services.void import invoice_void
from tests.support.invoicing import generate

pytestmark = pytest.mark.django_db
d = dt.date


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def void_memo(lw) -> CreditMemo:
    """The credit memo of INV-0001 (Jan + Feb: 151.54), voided on 3 Mar 2026 (unnumbered:
    no credit memo policy)."""
    invoice = generate(lw, d(2026, 2, 15))
    return invoice_void(invoice_id=invoice.pk, void_date=d(2026, 3, 3)).credit_memo


def test_posted_credit_memo_page_and_list_link_its_pdf(admin_client_logged, void_memo):
    pdf_url = _url(CreditMemo, "pdf", void_memo.pk)

    change = admin_client_logged.get(_url(CreditMemo, "change", void_memo.pk))
    listing = admin_client_logged.get(_url(CreditMemo, "changelist"))

    assert change.status_code == listing.status_code == 200
    assert f'href="{pdf_url}"' in change.content.decode()
    assert f'href="{pdf_url}?download=1"' in change.content.decode()
    assert f'href="{pdf_url}"' in listing.content.decode()


def test_admin_pdf_view_serves_the_memo(admin_client_logged, void_memo):
    shown = admin_client_logged.get(_url(CreditMemo, "pdf", void_memo.pk))
    downloaded = admin_client_logged.get(_url(CreditMemo, "pdf", void_memo.pk), {"download": 1})

    assert shown.status_code == 200 and shown["Content-Type"] == "application/pdf"
    filename = f"credit-memo-{void_memo.pk}.pdf"
    assert shown["Content-Disposition"] == f'inline; filename="{filename}"'
    assert downloaded["Content-Disposition"] == f'attachment; filename="{filename}"'
    text = _text(shown.content)
    assert f"Credit memo number #{void_memo.pk}" in text
    assert "Credits invoice INV-0001 of 15 Feb 2026" in text
    assert "Total credit USD 151.54" in text


def test_draft_memos_link_their_pdf_once_saved_and_not_on_the_add_page(admin_client_logged, lw):
    credit = credit_memo_create(
        account_id=lw.account.pk, lines=[{"name": "Goodwill", "unit_price": "10.00"}]
    )
    debit = debit_memo_create(
        account_id=lw.account.pk, lines=[{"name": "Late fee", "unit_price": "25.00"}]
    )

    for model, memo in ((CreditMemo, credit), (DebitMemo, debit)):
        page = admin_client_logged.get(_url(model, "change", memo.pk)).content.decode()
        assert f'href="{_url(model, "pdf", memo.pk)}"' in page, model
        add = admin_client_logged.get(_url(model, "add")).content.decode()
        assert "View PDF" not in add, model
    response = admin_client_logged.get(_url(DebitMemo, "pdf", debit.pk))
    assert response.status_code == 200
    assert "DRAFT" in _text(response.content)
    assert "Late fee 1 25.00 25.00" in _text(response.content)


def test_admin_pdf_view_needs_the_admin_and_an_existing_memo(admin_client_logged, void_memo):
    url = _url(CreditMemo, "pdf", void_memo.pk)
    assert admin_client_logged.get(_url(CreditMemo, "pdf", 999999)).status_code == 404
    roles_sync()
    client = Client()
    # Not staff: the admin's login page, no PDF.
    client.force_login(User.objects.create_user("pat", password="x"))
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    # Staff in the read-only role may read it.
    reader = User.objects.create_user("rita", password="x", is_staff=True)
    reader.groups.add(Group.objects.get(name=READ_ONLY))
    client.force_login(reader)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
