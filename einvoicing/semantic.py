"""An invoice or a credit memo as the EN 16931 semantic model: the dict of business terms
(BT-…/BG-… keys) that factur-x turns into UBL or CII.

Everything an e-invoice says is read here, in one place, from the posted document: its
lines and their tax rows (the VAT category the tax engine chose), the seller (the legal
entity), the buyer (the account and the document's billing address snapshot), the payment
instructions and the totals. Amounts are the document's own, already rounded per line
(core.money); the VAT breakdown groups lines per (category, rate) and sums their tax, so the
e-invoice's totals equal the PDF's to the cent.

Problems the model cannot express (a line with two taxes, an amount with more decimals than
EN 16931 allows) are not hidden: `Problem`s are returned with the data and reported as
findings with their own rule ids (LL-…), as the official rules' findings are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import Account, Contact, LegalEntity
from core.einvoice_codes import CREDIT_TRANSFER_MEANS, PaymentMeans
from core.money import ZERO, currency_exponent
from core.vat import EXEMPT, vat_id_country
from invoicing.models import (
    CreditMemo,
    CreditMemoLine,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
)

PEPPOL_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
INVOICE_TYPE = "380"  # commercial invoice (UNCL 1001)
CREDIT_NOTE_TYPE = "381"
DEFAULT_UNIT = "C62"  # one (UN/ECE Rec 20)


@dataclass(frozen=True)
class Problem:
    """Something in the document EN 16931 cannot say, found before any rule runs."""

    rule: str
    message: str
    fix: str


@dataclass
class Semantic:
    data: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    seller: LegalEntity | None = None
    account: Account | None = None


def amount_text(value: Decimal, currency: str, problems: list[Problem], where: str) -> str:
    """An amount as EN 16931 writes it: the currency's decimals, at most two (BR-DEC). A
    currency with three minor digits (BHD, KWD, ...) is written with two when its third is
    0; otherwise the amount cannot be expressed and a problem says so."""
    places = min(currency_exponent(currency), 2)
    quantum = Decimal(1).scaleb(-places)
    written = Decimal(value).quantize(quantum)
    if written != Decimal(value):
        problems.append(
            Problem(
                "LL-DEC",
                f"{where} is {Decimal(value).normalize():f} {currency}: EN 16931 amounts have at "
                "most two decimals (BR-DEC rules), this one has more.",
                "This document cannot be sent as an EN 16931 e-invoice; send the PDF.",
            )
        )
    if written == 0:
        written = abs(written)  # never "-0.00"
    return f"{written:.{places}f}"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Free text as XML 1.0 can carry it: control characters (which the admin or an import
    may have let in) are dropped, never a reason for an export to fail."""
    return _CONTROL.sub("", value or "")


def clean_data(value: Any) -> Any:
    """`value` (the business terms) with every string cleaned (clean_text)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    return value


def _number_text(value: Decimal) -> str:
    """A quantity, price or percentage without trailing zeros (1.5000 → 1.5, 19.0000 → 19)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def _price_text(value: Decimal, currency: str) -> str:
    """A net price with the currency's decimals, more when it has them (never rounded)."""
    exponent = value.normalize().as_tuple().exponent
    places = max(currency_exponent(currency), -exponent if isinstance(exponent, int) else 0)
    return f"{value:.{places}f}"


def _address(address: Any) -> dict[str, str]:
    if address is None:
        return {}
    out = {
        "addr_l1": address.line1,
        "addr_l2": address.line2,
        "city": address.city,
        "postcode": address.postal_code,
        "country_subdivision": address.region,
        "country_code": (address.country or "").upper(),
    }
    return {k: v for k, v in out.items() if v}


def _seller_party(seller: LegalEntity, *, vat_allowed: bool) -> dict[str, Any]:
    party: dict[str, Any] = {"name": seller.name, **_address(seller.address)}
    if seller.vat_id and vat_allowed:
        party["vat_identifier"] = seller.vat_id
    if seller.tax_id:
        party["tax_identifier"] = seller.tax_id
    if seller.legal_registration_id:
        party["legal_identifier"] = seller.legal_registration_id
        if seller.legal_registration_scheme:
            party["legal_identifier_schemeid"] = seller.legal_registration_scheme
    if seller.endpoint_id:
        party["einvoicing_addr"] = seller.endpoint_id
        party["einvoicing_addr_schemeid"] = seller.endpoint_scheme
    if seller.email:
        party["contacts"] = [{"email": seller.email}]
    return party


def _buyer_party(
    account: Account, contact: Contact | None, address: Any, *, vat_allowed: bool
) -> dict[str, Any]:
    party: dict[str, Any] = {"name": account.name, **_address(address)}
    if "country_code" not in party and account.vat_id:
        party["country_code"] = vat_id_country(account.vat_id)
    if account.vat_id and vat_allowed:
        party["vat_identifier"] = account.vat_id
    if account.legal_registration_id:
        party["legal_identifier"] = account.legal_registration_id
    if account.endpoint_id:
        party["einvoicing_addr"] = account.endpoint_id
        party["einvoicing_addr_schemeid"] = account.endpoint_scheme
    email = contact.email if contact else account.email
    if contact or email:
        party["contacts"] = [
            {k: v for k, v in (("name", contact.name if contact else ""), ("email", email)) if v}
        ]
    return party


@dataclass(frozen=True)
class _VatKey:
    category: str
    rate: Decimal
    reason_code: str
    reason: str


def _line_vat(taxes: list[Any], account: Account) -> tuple[_VatKey | None, Problem | None]:
    """The one VAT category and rate of a line, from its tax rows.

    No tax row: the line is exempt (the account's exemption reason, or a non-taxable
    product). A row without a category (written before categories existed) is S above 0 %
    and Z at 0 %. Two rows, or a flat amount, have no EN 16931 form."""
    if not taxes:
        return (
            _VatKey(
                "E",
                Decimal(0),
                account.tax_exemption_reason_code or EXEMPT.reason_code,
                account.tax_exemption_reason or EXEMPT.reason,
            ),
            None,
        )
    if len(taxes) > 1 or taxes[0].rate == 0 and taxes[0].amount != 0:
        names = ", ".join(t.name for t in taxes)
        return None, Problem(
            "LL-TAX",
            f"the line bears {len(taxes)} taxes or a flat tax ({names}); an EN 16931 line has "
            "exactly one VAT rate.",
            "Use one percentage VAT rate per line under Tax rates.",
        )
    tax = taxes[0]
    category = tax.vat_category or ("S" if tax.rate > 0 else "Z")
    return (
        _VatKey(category, Decimal(tax.rate), tax.exemption_reason_code, tax.exemption_reason),
        None,
    )


def _line_price(quantity: Decimal, amount: Decimal, unit_price: Decimal) -> Decimal:
    """The net price that times the quantity gives the line amount (PEPPOL-EN16931-R120):
    the unit price when it does, else the amount over the quantity (a prorated period)."""
    if quantity == 0:
        return abs(unit_price)
    if abs(quantity * unit_price - amount) < Decimal("0.005"):
        return abs(unit_price)
    return abs(amount / quantity).quantize(Decimal("0.000001"))


def _periods(lines: list[Any]) -> tuple[dt.date | None, dt.date | None]:
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    return (min(starts) if starts else None, max(ends) if ends else None)


def _lines_and_vat(
    lines: list[tuple[Any, list[Any], str, str]],
    *,
    account: Account,
    currency: str,
    problems: list[Problem],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Decimal, Decimal]:
    """BG-25 lines and the BG-23 breakdown from (line, its taxes, unit code, item id)."""
    out = []
    groups: dict[_VatKey, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    net_total = tax_total = ZERO
    taxed = [_line_vat(taxes, account)[0] for _, taxes, _, _ in lines if taxes]
    main_vat = next((vat for vat in taxed if vat is not None), None)
    for n, (line, taxes, unit_code, item_id) in enumerate(lines, start=1):
        where = f"Line {n} ({line.name})"
        vat, problem = _line_vat(taxes, account)
        if not taxes and line.amount == 0 and getattr(line, "taxable", True) and main_vat:
            vat = main_vat  # a free line (a bundle's included seats) is taxed like the rest
        if problem is not None:
            problems.append(Problem(problem.rule, f"{where}: {problem.message}", problem.fix))
            continue
        assert vat is not None
        amount = Decimal(line.amount)
        quantity = Decimal(line.quantity)
        if amount < 0 and quantity > 0 or amount > 0 and quantity < 0:
            quantity = -quantity  # the price is never negative (BR-27): the quantity is
        line_tax = sum((Decimal(t.amount) for t in taxes), ZERO)
        group = groups[vat]
        group[0] += amount
        group[1] += line_tax
        net_total += amount
        tax_total += line_tax
        entry: dict[str, Any] = {
            "BT-126": str(n),
            "BT-129": _number_text(quantity),
            "BT-130": unit_code,
            "BT-131": amount_text(amount, currency, problems, f"{where} amount"),
            "BT-146": _price_text(
                _line_price(quantity, amount, Decimal(line.unit_price)), currency
            ),
            "BT-153": clean_text(line.name)[:255],
            "BT-151": vat.category,
        }
        if vat.category != "O":
            entry["BT-152"] = _number_text(vat.rate)
        description = getattr(line, "description", "")
        if description:
            entry["BT-154"] = clean_text(description)
        if item_id:
            entry["BT-155"] = item_id
        if line.period_start and line.period_end:
            entry["BT-134"] = line.period_start
            entry["BT-135"] = line.period_end
        out.append(entry)
    breakdown = []
    for vat, (base, tax) in sorted(
        groups.items(), key=lambda kv: (kv[0].category, kv[0].rate, kv[0].reason)
    ):
        entry = {
            "BT-116": amount_text(base, currency, problems, f"The {vat.category} base"),
            "BT-117": amount_text(tax, currency, problems, f"The {vat.category} tax"),
            "BT-118": vat.category,
        }
        if vat.category != "O":
            entry["BT-119"] = _number_text(vat.rate)
        if vat.category in ("E", "AE", "K", "G", "O"):
            if vat.reason_code:
                entry["BT-121"] = vat.reason_code
            if vat.reason:
                entry["BT-120"] = vat.reason
        breakdown.append(entry)
    return out, breakdown, net_total, tax_total


def _payment(seller: LegalEntity, data: dict[str, Any], reference: str) -> None:
    if seller.payment_means:
        data["BT-81"] = seller.payment_means
        data["BT-83"] = reference
        if seller.iban and seller.payment_means in CREDIT_TRANSFER_MEANS:
            data["BT-84"] = seller.iban
            if seller.bic:
                data["BT-86"] = seller.bic
    elif seller.iban:
        data["BT-81"] = PaymentMeans.SEPA_CREDIT_TRANSFER.value  # an IBAN without stated means
        data["BT-83"] = reference
        data["BT-84"] = seller.iban
        if seller.bic:
            data["BT-86"] = seller.bic


def _header(
    *,
    number: str,
    issue_date: dt.date,
    type_code: str,
    currency: str,
    seller: LegalEntity,
    account: Account,
    contact: Contact | None,
    address: Any,
    categories: set[str],
) -> dict[str, Any]:
    # BR-O-02 …: a document "not subject to VAT" names no VAT id of either party.
    vat_allowed = "O" not in categories
    return {
        "BT-1": number,
        "BT-2": issue_date,
        "BT-3": type_code,
        "BT-5": currency,
        "BT-23": PEPPOL_PROFILE,
        "BG-4": _seller_party(seller, vat_allowed=vat_allowed),
        "BG-7": _buyer_party(account, contact, address, vat_allowed=vat_allowed),
    }


def _missing_seller(document: Any) -> Semantic:
    return Semantic(
        data={},
        problems=[
            Problem(
                "LL-SELLER",
                f"{document} has no seller: neither it nor its account names a legal entity.",
                "Set the account's legal entity.",
            )
        ],
    )


def invoice_semantic(invoice: Invoice) -> Semantic:
    """The business terms of an invoice (a draft gets a provisional number, DRAFT-<id>, so
    it can be checked before posting: the number takes part in no rule)."""
    account = invoice.account
    seller = invoice.legal_entity or account.legal_entity
    if seller is None:
        return _missing_seller(invoice)
    problems: list[Problem] = []
    address = next(
        (a for a in invoice.addresses.all() if a.kind == InvoiceAddress.Kind.BILLING), None
    )
    model_lines: list[InvoiceLine] = list(
        invoice.lines.select_related("unit", "product").prefetch_related("taxes")
    )
    lines = [
        (
            line,
            list(line.taxes.all()),
            (line.unit.unece_code if line.unit_id and line.unit else "") or DEFAULT_UNIT,
            line.product.sku if line.product_id and line.product else "",
        )
        for line in model_lines
    ]
    bg25, bg23, net, tax = _lines_and_vat(
        lines, account=account, currency=invoice.currency, problems=problems
    )
    number = invoice.number or f"DRAFT-{invoice.pk}"
    data = _header(
        number=number,
        issue_date=invoice.invoice_date,
        type_code=INVOICE_TYPE,
        currency=invoice.currency,
        seller=seller,
        account=account,
        contact=invoice.bill_to,
        address=address,
        categories={line["BT-151"] for line in bg25},
    )
    if invoice.due_date:
        data["BT-9"] = invoice.due_date
    if account.buyer_reference:
        data["BT-10"] = account.buyer_reference
    order = invoice.reference_order
    if order is not None:
        if order.purchase_order:
            data["BT-13"] = order.purchase_order
        if order.number:
            data["BT-12"] = order.number
    if invoice.payment_term_id and invoice.payment_term:
        data["BT-20"] = invoice.payment_term.name
    if invoice.description:
        data["BG-1"] = [{"BT-22": clean_text(invoice.description)[:1000]}]
    start, end = _periods(model_lines)
    data["BT-72"] = invoice.invoice_date
    if start and end:
        data["BT-73"], data["BT-74"] = start, end
    _payment(seller, data, number)
    _totals(
        data, net=net, tax=tax, total=invoice.total, currency=invoice.currency, problems=problems
    )
    data["BG-23"], data["BG-25"] = bg23, bg25
    return Semantic(data=data, problems=problems, seller=seller, account=account)


def credit_memo_semantic(memo: CreditMemo) -> Semantic:
    """The business terms of a credit memo: an EN 16931 credit note (type 381) that names
    the invoice it credits (BG-3), with positive amounts."""
    account = memo.account
    seller = memo.legal_entity or account.legal_entity
    if seller is None:
        return _missing_seller(memo)
    problems: list[Problem] = []
    invoice = memo.invoice
    address = None
    contact = None
    if invoice is not None:
        contact = invoice.bill_to
        address = next(
            (a for a in invoice.addresses.all() if a.kind == InvoiceAddress.Kind.BILLING), None
        )
    else:
        profile = account.default_profile
        if profile is not None:
            contact, address = profile.bill_to, profile.billing_address
    model_lines: list[CreditMemoLine] = list(
        memo.lines.select_related("invoice_line__unit", "invoice_line__product").prefetch_related(
            "taxes"
        )
    )
    lines = []
    for line in model_lines:
        source = line.invoice_line
        unit = source.unit if source is not None and source.unit_id else None
        product = source.product if source is not None and source.product_id else None
        lines.append(
            (
                line,
                list(line.taxes.all()),
                (unit.unece_code if unit else "") or DEFAULT_UNIT,
                product.sku if product else "",
            )
        )
    bg25, bg23, net, tax = _lines_and_vat(
        lines, account=account, currency=memo.currency, problems=problems
    )
    number = memo.number or f"DRAFT-CM-{memo.pk}"
    data = _header(
        number=number,
        issue_date=memo.memo_date,
        type_code=CREDIT_NOTE_TYPE,
        currency=memo.currency,
        seller=seller,
        account=account,
        contact=contact,
        address=address,
        categories={line["BT-151"] for line in bg25},
    )
    if account.buyer_reference:
        data["BT-10"] = account.buyer_reference
    if invoice is not None and invoice.number:
        data["BG-3"] = [{"BT-25": invoice.number, "BT-26": invoice.invoice_date}]
        order = invoice.reference_order
        if order is not None and order.purchase_order:
            data["BT-13"] = order.purchase_order
    note = memo.reason or memo.get_reason_code_display()
    if note:
        data["BG-1"] = [{"BT-22": clean_text(note)[:1000]}]
    start, end = _periods(model_lines)
    data["BT-72"] = memo.memo_date
    if start and end:
        data["BT-73"], data["BT-74"] = start, end
    _payment(seller, data, number)
    _totals(data, net=net, tax=tax, total=memo.total, currency=memo.currency, problems=problems)
    data["BG-23"], data["BG-25"] = bg23, bg25
    return Semantic(data=data, problems=problems, seller=seller, account=account)


def _totals(
    data: dict[str, Any],
    *,
    net: Decimal,
    tax: Decimal,
    total: Decimal,
    currency: str,
    problems: list[Problem],
) -> None:
    """BG-22: the sums of the lines written (so a line that could not be written shows as a
    difference the CEN rules report, never as a silently wrong total)."""
    data["BT-106"] = amount_text(net, currency, problems, "The sum of the lines")
    data["BT-109"] = amount_text(net, currency, problems, "The total without VAT")
    data["BT-110"] = amount_text(tax, currency, problems, "The VAT total")
    data["BT-112"] = amount_text(net + tax, currency, problems, "The total with VAT")
    data["BT-115"] = amount_text(net + tax, currency, problems, "The amount due")
    if net + tax != total and not problems:
        problems.append(
            Problem(
                "LL-TOTAL",
                f"the lines add up to {net + tax}, the document's total is {total}.",
                "Recompute the draft's totals (edit and save it) before posting.",
            )
        )
