"""The e-invoicing data in the staff UI: the account page (the customer's VAT id, e-invoice
format and checks, electronic address, buyer reference, the EU VAT rule its sales fall
under, the seller's VAT id), the invoice page (both VAT ids, each tax's VAT category and
exemption reason, the purchase order) and the order page (its purchase order)."""

import pytest
from django.urls import reverse

from billing.models import Order
from tests.support.eu_vat import (
    FR_VAT,
    buyer,
    generated,
    monthly,
    seller,
    service_product,
)

pytestmark = pytest.mark.django_db


def section(page: str, marker: str) -> str:
    """The element of `page` carrying the data attribute `marker`, up to its closing tag."""
    start = page.index(marker)
    return page[start : page.index("</dd>", start)]


def test_the_account_page_shows_the_customers_einvoicing_data(ops):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    account.endpoint_scheme, account.endpoint_id = "0002", "303265045"
    account.buyer_reference = "LUM-ACHATS-2026"
    account.einvoice_format = "facturx"
    account.einvoice_required = account.einvoice_attach = True
    account.save()

    page = ops.get(reverse("web:account_detail", args=[account.pk])).content.decode()

    assert "FR40303265045" in section(page, "data-vat-id")
    assert "VAT ID DE136695976" in section(page, "data-seller-vat-id")
    einvoice = section(page, "data-einvoice")
    assert "Factur-X / ZUGFeRD PDF (EN 16931)" in einvoice
    assert "checked before posting" in einvoice and "attached to emails" in einvoice
    assert '303265045 <span class="muted small">0002: FR SIRENE</span>' in section(
        page, "data-endpoint"
    )
    assert "LUM-ACHATS-2026" in section(page, "data-buyer-reference")
    treatment = section(page, "data-vat-treatment")
    assert (
        '<span title="Reverse charge: VAT to be accounted for by the customer">Services: '
        'reverse charge</span> <span class="tag">AE</span>'
    ) in treatment
    assert 'Goods: intra-community supply</span> <span class="tag">K</span>' in treatment


def test_an_account_without_einvoicing_data_says_so(ops):
    account = buyer(seller(), "DE")

    page = ops.get(reverse("web:account_detail", args=[account.pk])).content.decode()

    assert "<dd data-vat-id>—</dd>" in page
    assert "none" in section(page, "data-einvoice")
    assert "<dd data-endpoint>—</dd>" in page and "<dd data-buyer-reference>—</dd>" in page
    assert "data-vat-treatment" not in page  # a domestic sale: the rates apply


def test_the_invoice_page_shows_vat_ids_categories_reasons_and_the_purchase_order(ops):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    invoice = generated(account, monthly(service_product()))
    Order.objects.filter(account=account).update(purchase_order="BC-2026-0193")

    page = ops.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()

    assert "VAT ID FR40303265045" in section(page, "data-buyer-vat-id")
    assert "VAT ID DE136695976" in section(page, "data-seller-vat-id")
    assert "PO BC-2026-0193" in page.split("data-purchase-order")[1][:60]
    taxes = page.split('id="taxes"')[1].split("</table>")[0]
    assert '<th scope="col">VAT category</th>' in taxes
    assert "<td>AE</td>" in taxes
    assert "Reverse charge: VAT to be accounted for by the customer (VATEX-EU-AE)" in taxes


def test_the_order_page_shows_its_purchase_order(ops):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    generated(account, monthly(service_product()))
    order = Order.objects.get(account=account)
    Order.objects.filter(pk=order.pk).update(purchase_order="4500012345")

    page = ops.get(reverse("web:order_detail", args=[order.pk])).content.decode()

    assert "4500012345" in section(page, "data-purchase-order")
