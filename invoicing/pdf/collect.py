"""Collectors: one per kind of document, each reading its record once (a fixed number of
queries whatever the number of lines) into a `Document` (invoicing/pdf/document.py) whose
every wording is decided here, from what really happened:

- an invoice shows what was paid (its Payment rows) and credited (its credit applications),
  never a payment that did not happen; a voided invoice says when it was voided and by which
  credit memo it was credited in full;
- a credit memo shows the invoice it credits, its lines and taxes, and where its credit was
  applied; a debit memo shows its lines and the invoice that bills it (and that invoice's tax).

The parties' addresses are printed in their country's order by core.addresses, the country's
name only when it differs from the other party's country.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import Account, Address, BillingProfile, Contact, LegalEntity
from core.addresses import address_lines_of
from core.money import ZERO, round_money
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditSource,
    DebitMemo,
    DebitMemoLine,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceStatus,
    Payment,
)
from invoicing.pdf.document import (
    Document,
    Highlight,
    Line,
    Party,
    Row,
    Section,
    Tax,
    tree_order,
)
from invoicing.pdf.text import date_text, exponent, money
from invoicing.totals import credit_memo_totals_set

# Statuses in which an invoice carries its final number (see the invoice check constraints).
_NUMBERED = {InvoiceStatus.POSTED, InvoiceStatus.VOID_IN_PROGRESS, InvoiceStatus.VOIDED}
_BILLING = InvoiceAddress.Kind.BILLING


# --- shared pieces ------------------------------------------------------------------------------


def _billing_addresses() -> Prefetch:
    return Prefetch(
        "addresses",
        queryset=InvoiceAddress.objects.filter(kind=_BILLING).order_by("id"),
        to_attr="billing_addresses",
    )


def _seller_of(legal_entity: LegalEntity | None, account: Account) -> LegalEntity | None:
    """The document's own legal entity; a document without one is issued by the account's."""
    return legal_entity or account.legal_entity


def _parties(
    *,
    seller: LegalEntity | None,
    account: Account,
    contact: Contact | None,
    billing: InvoiceAddress | Address | None,
) -> tuple[Party, Party]:
    """The seller and the buyer. Each address names its country only when it differs from the
    other party's (a domestic document has no country lines)."""
    seller_address = seller.address if seller and seller.address_id else None
    seller_country = seller_address.country if seller_address else ""
    buyer_country = billing.country if billing else ""

    contact_name = contact.name if contact else ""
    buyer_address: tuple[str, ...] = ()
    if billing is not None:
        snapshot_name = getattr(billing, "name", "") or ""
        # A snapshot's name that repeats the account or the contact is not printed twice.
        if snapshot_name in (account.name, contact_name):
            snapshot_name = ""
        buyer_address = address_lines_of(billing, name=snapshot_name, home_country=seller_country)
    seller_party = Party(
        name=seller.name if seller else "",
        address=(
            address_lines_of(seller_address, home_country=buyer_country or seller_country)
            if seller_address
            else ()
        ),
        country=seller_country,
        tax_id=seller.tax_id if seller else "",
        email=seller.email if seller else "",
        vat_id=seller.vat_id if seller else "",
        registration_id=seller.legal_registration_id if seller else "",
    )
    buyer_party = Party(
        name=account.name,
        address=buyer_address,
        country=buyer_country,
        tax_id=account.tax_id or "",
        email=contact.email if contact else "",
        contact=contact_name,
        vat_id=account.vat_id or "",
    )
    return seller_party, buyer_party


# Categories whose document names both parties' VAT ids (Art. 226(4) Directive 2006/112/EC:
# the customer's VAT id for a reverse-charged or intra-community supply).
_BOTH_VAT_IDS = {"AE", "K"}


def _vat_sections(taxes: Iterable[Tax], *, seller: Party, buyer: Party, account: Account):
    """The VAT note the law asks for when VAT is not charged: each exemption reason of the
    document's taxes (reverse charge, intra-community supply, export, ...), a tax-exempt
    account's reason, and the two VAT ids when the customer accounts for the VAT."""
    taxes = list(taxes)
    rows = list(dict.fromkeys(t.reason for t in taxes if t.reason))
    if account.tax_exempt and (account.tax_exemption_reason or account.tax_exemption_reason_code):
        rows.append(
            account.tax_exemption_reason or f"Exempt from VAT ({account.tax_exemption_reason_code})"
        )
    if not rows:
        return []
    if any(t.category in _BOTH_VAT_IDS for t in taxes):
        ids = [
            f"{who} VAT ID {vat_id}"
            for who, vat_id in (("Supplier", seller.vat_id), ("Customer", buyer.vat_id))
            if vat_id
        ]
        if ids:
            rows.append(" · ".join(ids))
    return [Section("VAT", tuple(rows))]


def _tax_of(row) -> Tax:
    """A stored tax row (an invoice line's or a credit memo line's) as the document shows it."""
    return Tax(
        name=row.name,
        rate=row.rate,
        kind=getattr(row, "kind", "percentage"),
        taxable_amount=row.taxable_amount,
        amount=row.amount,
        category=row.vat_category,
        reason=row.exemption_reason,
    )


def _bank_transfer(seller: LegalEntity | None) -> str:
    """'Pay by SEPA credit transfer to IBAN DE89 3704 …, BIC COBADEFFXXX', or '' when the
    seller names no bank account."""
    if seller is None or not seller.iban:
        return ""
    iban = " ".join(seller.iban[i : i + 4] for i in range(0, len(seller.iban), 4))
    means = {"58": "SEPA credit transfer", "30": "credit transfer"}.get(
        seller.payment_means, "bank transfer"
    )
    bic = f", BIC {seller.bic}" if seller.bic else ""
    return f"Pay by {means} to IBAN {iban}{bic}"


def _memo_parties(m: CreditMemo | DebitMemo, invoice: Invoice | None) -> tuple[Party, Party]:
    """A memo's seller and buyer: billed like its invoice (its bill-to contact and billing
    address) when it has one, else like its account's billing profile."""
    billing: InvoiceAddress | Address | None
    if invoice is not None:
        contact = invoice.bill_to if invoice.bill_to_id else None
        billing = invoice.billing_addresses[0] if invoice.billing_addresses else None
    else:
        contact, billing = _profile_terms(m.account)
    return _parties(
        seller=_seller_of(m.legal_entity, m.account),
        account=m.account,
        contact=contact,
        billing=billing,
    )


def _profile_terms(account: Account) -> tuple[Contact | None, Address | None]:
    """The bill-to contact and billing address of the account's default billing profile
    (prefetched), for a memo that refers to no invoice."""
    profile = account.default_profile
    if profile is None:
        return None, None
    return profile.bill_to, profile.billing_address


def _invoice_ref(invoice: Invoice) -> str:
    """'INV-0042 of 1 Feb 2026', or 'draft invoice #12'."""
    if invoice.number:
        return f"{invoice.number} of {date_text(invoice.invoice_date)}"
    return f"draft invoice #{invoice.pk}"


def _memo_ref(memo: CreditMemo | DebitMemo) -> str:
    """The memo's number, or '#7' when it has none (no numbering policy matched)."""
    return memo.number or f"#{memo.pk}"


def _void_credit_memo(invoice: Invoice, posted_memos: Iterable[CreditMemo]) -> CreditMemo | None:
    """The credit memo a void made for this invoice: the last posted credit memo of the
    invoice that credits its whole total (invoicing/services/void.py)."""
    if invoice.status != InvoiceStatus.VOIDED:
        return None
    memos = list(posted_memos)
    full = [m for m in memos if m.total == invoice.total]
    return (full or memos or [None])[-1]


def _void_sentence(invoice: Invoice, memo: CreditMemo | None) -> str:
    if memo is None:
        return "This invoice is void."
    return (
        f"Voided on {date_text(memo.memo_date)}, credited in full by credit memo "
        f"{_memo_ref(memo)} of {date_text(memo.posted_date or memo.memo_date)}."
    )


def _latest(*moments: dt.datetime | None) -> dt.datetime:
    return max(m for m in moments if m is not None)


def _money_text(value: Decimal, currency: str) -> str:
    return f"{currency} {money(value, exponent(currency))}"


def _description_sections(text: str, title: str = "Notes") -> list[Section]:
    rows = tuple(p for p in (text or "").splitlines() if p.strip())
    return [Section(title, rows)] if rows else []


# --- invoices -----------------------------------------------------------------------------------


def _invoice_line(line: InvoiceLine, depth: int, has_children: bool) -> Line:
    unit = line.unit
    return Line(
        name=line.name,
        description=line.description or "",
        is_adjustment=line.type == InvoiceLine.Type.ADJUSTMENT,
        depth=depth,
        has_children=has_children,
        period_start=line.period_start,
        period_end=line.period_end,
        quantity=line.quantity,
        unit_code=unit.code if unit else "",
        unit_scale=unit.scale if unit else None,
        unit_price=line.unit_price,
        amount=line.amount,
        is_usage=line.is_usage,
        consumed=line.consumed_quantity,
        included=line.included_quantity,
        overage=line.overage_quantity,
    )


def _converted_note(line: Line, memo: CreditMemo | None) -> Line:
    """A negative line converted to a credit memo says so: it is not in the invoice's total."""
    if memo is None:
        return line
    note = f"Converted to credit memo {memo.number or f'#{memo.pk}'}; not in this invoice's total."
    return replace(line, description=f"{line.description} {note}".strip())


def invoice_document(invoice: Invoice) -> Document:
    """The invoice, its parties, lines (with units and taxes), billing address, payments,
    credits, void and converted negative lines: 8 queries."""
    inv = (
        Invoice.objects.select_related(
            "account",
            "bill_to",
            "payment_term",
            "saved_payment_method",
            "legal_entity__address",
            "account__legal_entity__address",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related("unit").order_by("sort_order", "id"),
            ),
            "lines__taxes",
            _billing_addresses(),
            Prefetch(
                "payments",
                queryset=Payment.objects.active().order_by("payment_date", "id"),
                to_attr="payment_rows",
            ),
            Prefetch(
                "credit_applications",
                queryset=CreditMemoApplication.objects.active()
                .select_related("credit_memo")
                .order_by("applied_date", "id"),
                to_attr="credit_rows",
            ),
            Prefetch(
                "credit_memos",
                queryset=CreditMemo.objects.filter(status=CreditMemo.Status.POSTED).order_by("id"),
                to_attr="posted_credit_memos",
            ),
        )
        .get(pk=invoice.pk)
    )
    cur = inv.currency
    numbered = inv.status in _NUMBERED and bool(inv.number)
    voided = inv.status == InvoiceStatus.VOIDED
    void_memo = _void_credit_memo(inv, inv.posted_credit_memos)
    payments: list[Payment] = inv.payment_rows
    credits: list[CreditMemoApplication] = inv.credit_rows
    paid = sum((p.amount for p in payments), ZERO)
    credited = sum((a.amount for a in credits), ZERO)

    billing = inv.billing_addresses[0] if inv.billing_addresses else None
    seller_entity = _seller_of(inv.legal_entity, inv.account)
    seller, buyer = _parties(
        seller=seller_entity,
        account=inv.account,
        contact=inv.bill_to if inv.bill_to_id else None,
        billing=billing,
    )

    all_lines = list(inv.lines.all())
    converted = {
        row.invoice_line_id: row.credit_memo
        for row in CreditMemoLine.objects.filter(
            credit_memo__source=CreditSource.NEGATIVE_LINES,
            credit_memo__status=CreditMemo.Status.POSTED,
            invoice_line__invoice=inv,
        ).select_related("credit_memo")
    }
    lines = tuple(
        _converted_note(_invoice_line(line, depth, kids), converted.get(line.pk))
        for line, depth, kids in tree_order(all_lines, lambda x: x.pk, lambda x: x.parent_line_id)
    )
    taxes = tuple(_tax_of(tax) for line in all_lines for tax in line.taxes.all())

    marks: tuple[str, ...] = () if numbered else ("DRAFT",)
    if voided:
        marks = (*marks, "VOID")
    facts: list[tuple[str, str]] = []
    if numbered:
        facts.append(("Invoice number", inv.number))
    facts.append(("Invoice date", date_text(inv.invoice_date)))
    if inv.due_date:
        facts.append(("Due date", date_text(inv.due_date)))
    if inv.payment_term_id:
        facts.append(("Payment terms", inv.payment_term.name))
    if voided and void_memo is not None:
        facts.append(("Voided on", date_text(void_memo.memo_date)))

    # Totals: what the invoice billed, then what really settled it (payments, credits).
    totals = [Row("Subtotal", inv.total_charges)]
    if inv.total_adjustments != 0:
        totals.append(Row("Adjustments", inv.total_adjustments))
    totals.append(Row("Tax" if numbered else "Tax (estimated)", inv.total_tax))
    totals.append(Row("Total", inv.total, "total", currency=True))
    if paid:
        totals.append(Row("Amount paid", paid))
    for application in credits:
        totals.append(Row(f"Credited by {_memo_ref(application.credit_memo)}", application.amount))
    other = inv.total - inv.balance - paid - credited
    if other != 0 and numbered:
        totals.append(Row("Other settlements", other))
    totals.append(Row("Balance due", inv.balance, "due", currency=True))

    notes: list[str] = []
    if voided:
        notes.append(_void_sentence(inv, void_memo))
    elif numbered and inv.balance == 0 and inv.total != 0 and (paid or credited):
        if not credited:
            notes.append("Paid in full")
        else:
            notes.append("Credited in full" if not paid else "Settled in full")
    elif inv.due_date:
        notes.append(f"Due {date_text(inv.due_date)}")

    sections: list[Section] = []
    if voided:
        sections.append(Section("Void", (_void_sentence(inv, void_memo),)))
    else:
        rows = []
        method = inv.saved_payment_method.label if inv.saved_payment_method_id else ""
        if method:
            # Only the display label, already masked ('Visa •••• 4242'); nothing else of the
            # payment method ever reaches the document.
            rows.append(f"Payment method: {method}")
        term = inv.payment_term.name if inv.payment_term_id else ""
        if term and inv.due_date:
            rows.append(f"Payment terms: {term}, due {date_text(inv.due_date)}")
        elif term:
            rows.append(f"Payment terms: {term}")
        elif inv.due_date:
            rows.append(f"Due date: {date_text(inv.due_date)}")
        for payment in payments:
            rows.append(
                f"Payment received {date_text(payment.payment_date)}: "
                f"{_money_text(payment.amount, cur)}"
            )
        for application in credits:
            memo = application.credit_memo
            rows.append(
                f"Credit memo {_memo_ref(memo)} of {date_text(memo.memo_date)} applied "
                f"{date_text(application.applied_date)}: {_money_text(application.amount, cur)}"
            )
        bank = _bank_transfer(seller_entity) if inv.balance > 0 and not method else ""
        if bank and numbered:
            rows.append(f"{bank}, quoting {inv.number}.")
        elif bank:
            rows.append(f"{bank}.")
        elif numbered and inv.balance > 0 and not method:
            rows.append(f"Please quote {inv.number} with your payment.")
        if rows:
            sections.append(Section("Payment", tuple(rows)))
    sections = _vat_sections(taxes, seller=seller, buyer=buyer, account=inv.account) + sections
    sections += _description_sections(inv.description)

    now = timezone.now()
    if numbered:
        created = inv.posted_at or inv.created_at
        modified = _latest(
            created,
            *(p.created_at for p in payments),
            *(a.created_at for a in credits),
            void_memo.created_at if void_memo else None,
        )
    else:
        created = modified = now

    return Document(
        kind="Invoice",
        number=inv.number if numbered else None,
        marks=marks,
        watermark="VOID" if voided else "" if numbered else "DRAFT",
        facts=tuple(facts),
        currency=cur,
        seller=seller,
        buyer_label="BILL TO",
        buyer=buyer,
        lines=lines,
        taxes=taxes,
        tax_note="",
        totals=tuple(totals),
        highlight=Highlight("BALANCE DUE", inv.balance, tuple(notes)),
        sections=tuple(sections),
        created_at=created,
        modified_at=modified,
    )


# --- credit memos -------------------------------------------------------------------------------


def _profiles() -> Prefetch:
    """The account's billing profiles, for `_profile_terms`."""
    return Prefetch(
        "account__billing_profiles",
        queryset=BillingProfile.objects.select_related("bill_to", "billing_address"),
    )


def _credit_taxes(line: CreditMemoLine, currency: str) -> list[Tax]:
    """A credit line's tax rows. The kind comes from the credited invoice line's matching tax
    row when there is one, and the taxable amount is that row's in the proportion of the
    line credited (all of it for a whole line), else the line's amount; a tax typed in as an
    amount only (no rows) is one 'Tax' row without a rate."""
    rows = list(line.taxes.all())
    if not rows:
        if line.tax_amount == 0:
            return []
        return [Tax("Tax", None, "", line.amount, line.tax_amount)]
    invoice_taxes = {}
    if line.invoice_line_id is not None:
        for tax in line.invoice_line.taxes.all():
            invoice_taxes.setdefault((tax.name, tax.code, tax.rate), tax)
    out = []
    for row in rows:
        source = invoice_taxes.get((row.name, row.code, row.rate))
        if source is not None:
            kind, taxable = source.kind, source.taxable_amount
            credited = line.invoice_line.amount
            if credited and line.amount != credited:
                taxable = round_money(
                    Fraction(taxable) * Fraction(line.amount) / Fraction(credited), currency
                )
        else:
            kind = "flat" if row.rate == 0 and row.amount != 0 else "percentage"
            taxable = line.amount
        out.append(
            Tax(
                row.name,
                row.rate,
                kind,
                taxable,
                row.amount,
                category=row.vat_category,
                reason=row.exemption_reason,
            )
        )
    return out


def _credit_line(line: CreditMemoLine, depth: int, has_children: bool) -> Line:
    source = line.invoice_line if line.invoice_line_id is not None else None
    unit = source.unit if source is not None else None
    return Line(
        name=line.name,
        description=(source.description or "") if source is not None else "",
        is_adjustment=source is not None and source.type == InvoiceLine.Type.ADJUSTMENT,
        depth=depth,
        has_children=has_children,
        period_start=line.period_start,
        period_end=line.period_end,
        quantity=line.quantity,
        unit_code=unit.code if unit else "",
        unit_scale=unit.scale if unit else None,
        unit_price=line.unit_price,
        amount=line.amount,
    )


def credit_memo_document(memo: CreditMemo) -> Document:
    """The credit memo, its parties, lines (with the credited invoice lines and their taxes),
    applications and the invoice it credits: 9 queries."""
    m = (
        CreditMemo.objects.select_related(
            "account",
            "legal_entity__address",
            "account__legal_entity__address",
            "invoice__bill_to",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=CreditMemoLine.objects.select_related("invoice_line__unit").order_by(
                    "sort_order", "id"
                ),
            ),
            "lines__taxes",
            "lines__invoice_line__taxes",
            Prefetch(
                "applications",
                queryset=CreditMemoApplication.objects.active()
                .select_related("invoice")
                .order_by("applied_date", "id"),
                to_attr="application_rows",
            ),
            Prefetch(
                "invoice__credit_memos",
                queryset=CreditMemo.objects.filter(status=CreditMemo.Status.POSTED).order_by("id"),
                to_attr="posted_credit_memos",
            ),
            Prefetch(
                "invoice__addresses",
                queryset=InvoiceAddress.objects.filter(kind=_BILLING).order_by("id"),
                to_attr="billing_addresses",
            ),
            _profiles(),
        )
        .get(pk=memo.pk)
    )
    cur = m.currency
    posted = m.status == CreditMemo.Status.POSTED
    invoice: Invoice | None = m.invoice
    applications: list[CreditMemoApplication] = m.application_rows

    seller, buyer = _memo_parties(m, invoice)

    all_lines = list(m.lines.all())
    by_invoice_line = {x.invoice_line_id: x for x in all_lines if x.invoice_line_id is not None}

    def parent_of(line: CreditMemoLine) -> int | None:
        source = line.invoice_line if line.invoice_line_id is not None else None
        if source is None or source.parent_line_id not in by_invoice_line:
            return None
        return by_invoice_line[source.parent_line_id].pk

    lines = tuple(
        _credit_line(line, depth, kids)
        for line, depth, kids in tree_order(all_lines, lambda x: x.pk, parent_of)
    )
    taxes = tuple(tax for line in all_lines for tax in _credit_taxes(line, cur))

    if posted:
        charges, tax_total, total, balance = m.total_charges, m.total_tax, m.total, m.balance
    else:
        # A draft's totals are set when it is posted; until then they are its lines' sums.
        sums = SimpleNamespace()
        credit_memo_totals_set(sums, all_lines)
        charges, tax_total, total, balance = sums.total_charges, sums.total_tax, sums.total, None

    is_void_memo = (
        posted
        and invoice is not None
        and _void_credit_memo(invoice, invoice.posted_credit_memos) == m
    )
    facts: list[tuple[str, str]] = []
    if posted:
        facts.append(("Credit memo number", _memo_ref(m)))
    facts.append(("Credit memo date", date_text(m.memo_date)))
    if invoice is not None:
        facts.append(("Credits invoice", _invoice_ref(invoice)))

    totals = [Row("Subtotal", charges), Row("Tax", tax_total)]
    if posted and balance is not None:
        totals.append(Row("Total credit", total, "total", currency=True))
        for application in applications:
            applied_to = application.invoice.number or _invoice_ref(application.invoice)
            totals.append(Row(f"Applied to {applied_to}", application.amount))
        totals.append(Row("Credit remaining", balance, "due", currency=True))
    else:
        totals.append(Row("Total credit", total, "due", currency=True))

    notes: list[str] = []
    if not posted:
        notes.append("Not yet issued")
    elif is_void_memo and invoice is not None:
        notes.append(f"Credits invoice {invoice.number} in full (void)")
    else:
        for application in applications:
            notes.append(
                f"Applied to {application.invoice.number or _invoice_ref(application.invoice)} "
                f"on {date_text(application.applied_date)}"
            )
        if balance:
            notes.append(f"{_money_text(balance, cur)} not yet applied")

    sections: list[Section] = []
    if is_void_memo and invoice is not None:
        sections.append(
            Section(
                "Void",
                (
                    f"Issued on voiding invoice {_invoice_ref(invoice)}: it credits every "
                    "line and tax of that invoice and is applied to it in full. Nothing is "
                    "due on that invoice.",
                ),
            )
        )
    sections += _vat_sections(taxes, seller=seller, buyer=buyer, account=m.account)
    default_reason = f"Void of invoice {invoice}" if invoice is not None else None
    if m.reason and m.reason != default_reason:
        sections += _description_sections(m.reason, "Reason")

    now = timezone.now()
    return Document(
        kind="Credit memo",
        number=_memo_ref(m) if posted else None,
        marks=() if posted else ("DRAFT",),
        watermark="" if posted else "DRAFT",
        facts=tuple(facts),
        currency=cur,
        seller=seller,
        buyer_label="CREDIT TO",
        buyer=buyer,
        lines=lines,
        taxes=taxes,
        tax_note="",
        totals=tuple(totals),
        highlight=Highlight("TOTAL CREDIT", total, tuple(notes)),
        sections=tuple(sections),
        created_at=now,
        modified_at=now,
    )


# --- debit memos --------------------------------------------------------------------------------


def _debit_line(line: DebitMemoLine) -> Line:
    unit = line.product.unit if line.product_id is not None and line.product else None
    return Line(
        name=line.name,
        description=line.description or "",
        is_adjustment=False,
        depth=0,
        has_children=False,
        period_start=None,
        period_end=None,
        quantity=line.quantity,
        unit_code=unit.code if unit else "",
        unit_scale=unit.scale if unit else None,
        unit_price=line.unit_price,
        amount=line.amount,
    )


def debit_memo_document(memo: DebitMemo) -> Document:
    """The debit memo, its parties, lines and the invoice that bills it (with that invoice's
    tax on the memo's lines): 8 queries."""
    m = (
        DebitMemo.objects.select_related(
            "account",
            "legal_entity__address",
            "account__legal_entity__address",
            "invoice__bill_to",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=DebitMemoLine.objects.select_related(
                    "product__unit", "invoice_line"
                ).order_by("sort_order", "id"),
            ),
            "lines__invoice_line__taxes",
            Prefetch(
                "invoice__addresses",
                queryset=InvoiceAddress.objects.filter(kind=_BILLING).order_by("id"),
                to_attr="billing_addresses",
            ),
            _profiles(),
        )
        .get(pk=memo.pk)
    )
    cur = m.currency
    status = m.status
    draft = status == DebitMemo.Status.DRAFT
    canceled = status == DebitMemo.Status.CANCELED
    invoice: Invoice | None = m.invoice if status == DebitMemo.Status.INVOICED else None

    seller, buyer = _memo_parties(m, invoice)

    all_lines = list(m.lines.all())
    lines = tuple(_debit_line(line) for line in all_lines)
    taxes: tuple[Tax, ...] = ()
    if invoice is not None:
        taxes = tuple(
            _tax_of(tax)
            for line in all_lines
            if line.invoice_line_id is not None
            for tax in line.invoice_line.taxes.all()
        )
    subtotal = m.total
    tax_total = sum((t.amount for t in taxes), ZERO)

    if invoice is None:
        tax_note = (
            "Tax, where due, is added on the invoice that bills this memo." if not canceled else ""
        )
    elif not invoice.number:
        tax_note = f"Tax as estimated on {_invoice_ref(invoice)}; final when it is posted."
    else:
        tax_note = f"Tax as charged on invoice {invoice.number}."

    facts: list[tuple[str, str]] = []
    if not draft:
        facts.append(("Debit memo number", _memo_ref(m)))
    facts.append(("Debit memo date", date_text(m.memo_date)))
    if invoice is not None:
        facts.append(("Billed on invoice", _invoice_ref(invoice)))
    elif not canceled:
        facts.append(("Billing date", date_text(m.next_billing_date)))

    totals = [Row("Subtotal", subtotal)]
    if invoice is not None:
        totals.append(Row("Tax", tax_total))
        totals.append(Row("Total", subtotal + tax_total, "due", currency=True))
    else:
        totals.append(Row("Total before tax", subtotal, "due", currency=True))

    notes: list[str] = []
    sections: list[Section] = []
    if draft:
        notes.append("Not yet issued")
    elif canceled:
        notes.append("Canceled: nothing is billed")
        sections.append(Section("Canceled", ("This debit memo is canceled; nothing is billed.",)))
    elif invoice is not None:
        notes.append(f"Billed on invoice {invoice.number or _invoice_ref(invoice)}")
        sections.append(
            Section(
                "Billing",
                (
                    f"The amounts of this memo are billed on invoice {_invoice_ref(invoice)}. "
                    "Please pay that invoice, quoting its number.",
                ),
            )
        )
    else:
        notes.append(f"Billed with the next invoice from {date_text(m.next_billing_date)}")
        sections.append(
            Section(
                "Billing",
                (
                    "These amounts are billed on your next invoice dated on or after "
                    f"{date_text(m.next_billing_date)}; no payment is due on this memo itself.",
                ),
            )
        )
    sections += _vat_sections(taxes, seller=seller, buyer=buyer, account=m.account)
    sections += _description_sections(m.reason, "Reason")

    now = timezone.now()
    return Document(
        kind="Debit memo",
        number=None if draft else _memo_ref(m),
        marks=("DRAFT",) if draft else ("CANCELED",) if canceled else (),
        watermark="DRAFT" if draft else "CANCELED" if canceled else "",
        facts=tuple(facts),
        currency=cur,
        seller=seller,
        buyer_label="BILL TO",
        buyer=buyer,
        lines=lines,
        taxes=taxes,
        tax_note=tax_note,
        totals=tuple(totals),
        highlight=Highlight(
            "TOTAL" if invoice is not None else "TOTAL BEFORE TAX",
            subtotal + tax_total,
            tuple(notes),
        ),
        sections=tuple(sections),
        created_at=now,
        modified_at=now,
    )
