"""What a customer's hosted page shows of a document: parties, dates, lines, totals, tax and
where it stands (its status in the customer's words). Plain values, formatted for people
through core.money; read through the invoicing selectors. Nothing here links anywhere.

Invoice status, from the invoice as it is now and the account's own date:

- voided: "Voided", credited in full by the void's credit memo (named by its number);
- nothing due: the total is zero or negative;
- paid: no balance left (payments and applied credits settled it);
- overdue: a balance and the due date has passed;
- partly paid: a balance below the total, not yet due;
- open: nothing settled yet, not yet due.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from accounts.models import Account, LegalEntity
from core.addresses import address_lines, address_lines_of
from core.money import (
    ZERO,
    currency_exponent,
    money_display,
    number_display,
    plain,
    price_display,
    quantity_display,
)
from invoicing import selectors
from invoicing.models import (
    CreditMemo,
    DebitMemo,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceStatus,
)
from invoicing.services.hosted_links import HostedDocument


@dataclass(frozen=True)
class Line:
    name: str
    detail: str  # the period and/or the line's description
    quantity: str
    unit_price: str
    amount: str
    depth: int = 0


@dataclass(frozen=True)
class Amount:
    key: str  # a stable name (data-amount in the page): total, paid, balance, …
    label: str
    amount: str
    grand: bool = False


@dataclass(frozen=True)
class Status:
    code: str  # open, partly_paid, paid, overdue, voided, nothing_due, credit, …
    label: str
    detail: str
    tone: str  # ok, due, late, off


@dataclass(frozen=True)
class Party:
    name: str
    lines: tuple[str, ...] = ()
    tax_id: str = ""
    email: str = ""


@dataclass(frozen=True)
class Page:
    kind: str  # invoice, credit_memo, debit_memo
    title: str  # "Invoice INV-0007"
    subtitle: str  # "Issued 2026-01-15 · due 2026-02-14"
    number: str
    currency: str
    seller: Party
    customer: Party
    facts: list[tuple[str, str]]
    status: Status
    lines: list[Line]
    taxes: list[Amount]
    totals: list[Amount]
    notes: list[str] = field(default_factory=list)


def page_for(document: HostedDocument) -> Page:
    if isinstance(document, Invoice):
        return invoice_page(document.pk)
    if isinstance(document, CreditMemo):
        return credit_memo_page(document.pk)
    return debit_memo_page(document.pk)


# --- parties and formatting -----------------------------------------------------------------


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else "—"


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"{start.isoformat()} – {end.isoformat()}"
    return _date(start or end) if (start or end) else ""


def account_today(account: Account) -> dt.date:
    """Today in the account's time zone (UTC when it names none Ledgerline knows)."""
    try:
        zone = ZoneInfo(account.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return timezone.localdate(timezone=zone)


def _seller(entity: LegalEntity | None, *, home_country: str) -> Party:
    if entity is None:
        return Party(name="")
    address = entity.address
    return Party(
        name=entity.name,
        lines=address_lines_of(address, home_country=home_country) if address else (),
        tax_id=entity.tax_id,
        email=entity.email,
    )


def _country(entity: LegalEntity | None) -> str:
    return entity.address.country if entity is not None and entity.address is not None else ""


def _customer(
    account: Account,
    *,
    snapshot: InvoiceAddress | None,
    contact_name: str,
    contact_email: str,
    home_country: str,
) -> Party:
    if snapshot is not None:
        # The snapshot's own name only when it is not the account's (already the heading).
        lines = address_lines(
            name=snapshot.name if snapshot.name != account.name else "",
            line1=snapshot.line1,
            line2=snapshot.line2,
            city=snapshot.city,
            region=snapshot.region,
            postal_code=snapshot.postal_code,
            country=snapshot.country,
            home_country=home_country,
        )
    else:
        profile = account.default_profile
        address = profile.billing_address if profile is not None else None
        lines = address_lines_of(address, home_country=home_country) if address else ()
    attention = f"Attn. {contact_name}" if contact_name else ""
    return Party(
        name=account.name,
        lines=tuple(p for p in (attention, *lines) if p),
        tax_id=account.tax_id,
        email=contact_email,
    )


def _tree(lines: list[InvoiceLine]) -> list[tuple[InvoiceLine, int]]:
    """Lines in sort order, bundle children right under their parent, with their depth."""
    ids = {line.pk for line in lines}
    children: dict[int | None, list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        children[line.parent_line_id if line.parent_line_id in ids else None].append(line)
    out: list[tuple[InvoiceLine, int]] = []
    stack = [(line, 0) for line in reversed(children[None])]
    while stack:
        line, depth = stack.pop()
        out.append((line, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(line.pk, [])))
    return out


def _amount(value: Decimal, currency: str) -> str:
    """A line amount, in the lines table whose heading names the currency."""
    return number_display(value, currency_exponent(currency))


def _detail(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _tax_rows(rows: list[tuple[str, Decimal, str, Decimal]], currency: str) -> list[Amount]:
    """One row per tax (name, rate, kind), summed over the lines."""
    sums: dict[tuple[str, Decimal, str], Decimal] = {}
    for name, rate, kind, amount in rows:
        key = (name, rate, kind)
        sums[key] = sums.get(key, ZERO) + amount
    out = []
    for (name, rate, kind), amount in sums.items():
        rate_text = f" {plain(rate)} %" if rate and kind != "flat" else ""
        out.append(
            Amount(key="tax", label=f"{name}{rate_text}", amount=money_display(amount, currency))
        )
    return out


# --- invoices -------------------------------------------------------------------------------


def invoice_status(invoice: Invoice, *, today: dt.date, void_memo: CreditMemo | None) -> Status:
    currency = invoice.currency
    balance = money_display(invoice.balance, currency)
    if invoice.status in (InvoiceStatus.VOIDED, InvoiceStatus.VOID_IN_PROGRESS):
        memo = (
            f"credit memo {void_memo.number}"
            if void_memo is not None and void_memo.number
            else "a credit memo"
        )
        when = f" on {void_memo.memo_date.isoformat()}" if void_memo is not None else ""
        return Status(
            "voided",
            "Voided",
            f"This invoice was voided{when} and credited in full by {memo}. Nothing is due.",
            "off",
        )
    if invoice.total <= ZERO:
        return Status("nothing_due", "Nothing due", "This invoice asks for no payment.", "ok")
    if invoice.balance <= ZERO:
        return Status("paid", "Paid", "Paid in full. Thank you.", "ok")
    due = invoice.due_date
    settled = invoice.total - invoice.balance
    received = f"{money_display(settled, currency)} received; " if settled > ZERO else ""
    if due is not None and due < today:
        days = (today - due).days
        return Status(
            "overdue",
            "Overdue",
            f"{received}{balance} was due on {due.isoformat()} "
            f"({days} day{'s' if days != 1 else ''} ago).",
            "late",
        )
    by = f" by {due.isoformat()}" if due is not None else ""
    if settled > ZERO:
        return Status("partly_paid", "Partly paid", f"{received}{balance} due{by}.", "due")
    return Status("open", "Open", f"{balance} due{by}.", "due")


def invoice_page(invoice_id: int) -> Page:
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    currency = invoice.currency
    seller_entity = invoice.legal_entity or invoice.account.legal_entity
    addresses = selectors.invoice_address_list_for_invoice(invoice=invoice)
    snapshot = next((a for a in addresses if a.kind == InvoiceAddress.Kind.BILLING), None)
    customer = _customer(
        invoice.account,
        snapshot=snapshot,
        contact_name=invoice.bill_to.name if invoice.bill_to else "",
        contact_email=invoice.bill_to.email if invoice.bill_to else "",
        home_country=_country(seller_entity),
    )
    seller = _seller(seller_entity, home_country=snapshot.country if snapshot is not None else "")
    records = selectors.invoice_records_for_invoice(invoice=invoice)
    paid = sum((p.amount for p in records.payments), ZERO)
    credited = sum((a.amount for a in records.credit_applications if a.is_active), ZERO)
    void_memo = (
        records.credit_memos.exclude(status=CreditMemo.Status.DRAFT).order_by("-id").first()
        if invoice.status in (InvoiceStatus.VOIDED, InvoiceStatus.VOID_IN_PROGRESS)
        else None
    )
    status = invoice_status(invoice, today=account_today(invoice.account), void_memo=void_memo)

    all_lines = selectors.invoice_line_list_for_invoice(invoice=invoice)
    lines = [
        Line(
            name=line.name,
            detail=_detail(_period(line.period_start, line.period_end), line.description),
            quantity=quantity_display(line.quantity)
            + (f" {line.unit.code}" if line.unit is not None else ""),
            unit_price=price_display(line.unit_price, currency),
            amount=_amount(line.amount, currency),
            depth=depth,
        )
        for line, depth in _tree(all_lines)
    ]
    taxes = _tax_rows(
        [(t.name, t.rate, t.kind, t.amount) for line in all_lines for t in line.taxes.all()],
        currency,
    )
    totals = [Amount("charges", "Charges", money_display(invoice.total_charges, currency))]
    if invoice.total_adjustments:
        totals.append(
            Amount("adjustments", "Adjustments", money_display(invoice.total_adjustments, currency))
        )
    totals += [
        Amount("tax", "Tax", money_display(invoice.total_tax, currency)),
        Amount("total", "Total", money_display(invoice.total, currency), grand=True),
        Amount("paid", "Amount paid", money_display(paid, currency)),
    ]
    if credited:
        totals.append(Amount("credited", "Credited", money_display(credited, currency)))
    totals.append(
        Amount("balance", "Balance due", money_display(invoice.balance, currency), grand=True)
    )

    facts = [
        ("Invoice number", invoice.number or ""),
        ("Invoice date", _date(invoice.invoice_date)),
        ("Due date", _date(invoice.due_date)),
    ]
    if invoice.payment_term is not None:
        facts.append(("Payment terms", invoice.payment_term.name))
    if invoice.saved_payment_method is not None:
        facts.append(("Payment method", invoice.saved_payment_method.label))
    facts.append(("Currency", currency))
    return Page(
        kind="invoice",
        title=f"Invoice {invoice.number}",
        subtitle=_detail(
            f"Issued {_date(invoice.invoice_date)}",
            f"due {_date(invoice.due_date)}" if invoice.due_date else "",
        ),
        number=invoice.number or "",
        currency=currency,
        seller=seller,
        customer=customer,
        facts=facts,
        status=status,
        lines=lines,
        taxes=taxes,
        totals=totals,
        notes=[invoice.description] if invoice.description else [],
    )


# --- memos ----------------------------------------------------------------------------------


def _memo_parties(memo: CreditMemo | DebitMemo) -> tuple[Party, Party]:
    """A memo's seller and customer: its account, addressed to the account's email."""
    seller_entity = memo.legal_entity or memo.account.legal_entity
    customer = _customer(
        memo.account,
        snapshot=None,
        contact_name="",
        contact_email=memo.account.email,
        home_country=_country(seller_entity),
    )
    return _seller(seller_entity, home_country=""), customer


def credit_memo_page(credit_memo_id: int) -> Page:
    memo = selectors.credit_memo_get(credit_memo_id=credit_memo_id)
    currency = memo.currency
    seller, customer = _memo_parties(memo)
    applied = memo.total - memo.balance
    targets = sorted({str(a.invoice) for a in memo.applications.active().select_related("invoice")})
    if memo.status == CreditMemo.Status.POSTED:
        if memo.balance <= ZERO:
            detail = (
                f"Applied in full to invoice {', '.join(targets)}." if targets else "Fully applied."
            )
        elif applied > ZERO:
            detail = (
                f"{money_display(applied, currency)} applied to invoice {', '.join(targets)}; "
                f"{money_display(memo.balance, currency)} of credit remains available."
            )
        else:
            detail = f"{money_display(memo.balance, currency)} of credit is available to you."
        status = Status("credit", "Credit issued", detail, "ok")
    else:
        status = Status(memo.status, memo.get_status_display(), "", "off")
    lines = [
        Line(
            name=line.name,
            detail=_period(line.period_start, line.period_end),
            quantity=quantity_display(line.quantity),
            unit_price=price_display(line.unit_price, currency),
            amount=_amount(line.amount, currency),
        )
        for line in memo.lines.all()
    ]
    taxes = _tax_rows(
        [(t.name, t.rate, "", t.amount) for line in memo.lines.all() for t in line.taxes.all()],
        currency,
    )
    facts = [
        ("Credit memo number", memo.number or "—"),
        ("Date", _date(memo.posted_date or memo.memo_date)),
    ]
    if memo.invoice is not None:
        facts.append(("For invoice", str(memo.invoice)))
    facts.append(("Currency", currency))
    return Page(
        kind="credit_memo",
        title=f"Credit memo {memo.number}" if memo.number else "Credit memo",
        subtitle=_detail(
            f"Issued {_date(memo.posted_date or memo.memo_date)}",
            f"for invoice {memo.invoice}" if memo.invoice is not None else "",
        ),
        number=memo.number or "",
        currency=currency,
        seller=seller,
        customer=customer,
        facts=facts,
        status=status,
        lines=lines,
        taxes=taxes,
        totals=[
            Amount("charges", "Credited charges", money_display(memo.total_charges, currency)),
            Amount("tax", "Tax", money_display(memo.total_tax, currency)),
            Amount("total", "Total credit", money_display(memo.total, currency), grand=True),
            Amount("applied", "Applied", money_display(applied, currency)),
            Amount(
                "balance", "Credit remaining", money_display(memo.balance, currency), grand=True
            ),
        ],
        notes=[memo.reason] if memo.reason else [],
    )


def debit_memo_page(debit_memo_id: int) -> Page:
    memo = selectors.debit_memo_get(debit_memo_id=debit_memo_id)
    currency = memo.currency
    seller, customer = _memo_parties(memo)
    total = money_display(memo.total, currency)
    if memo.status == DebitMemo.Status.INVOICED and memo.invoice is not None:
        status = Status(
            "invoiced",
            "Invoiced",
            f"These charges ({total}) are billed on invoice {memo.invoice}; pay them there.",
            "ok",
        )
    else:
        status = Status(
            "to_be_invoiced",
            "To be invoiced",
            f"These charges ({total}) will be billed on your next invoice on or after "
            f"{memo.next_billing_date.isoformat()}. Nothing to pay on this memo.",
            "due",
        )
    lines = [
        Line(
            name=line.name,
            detail=line.description,
            quantity=quantity_display(line.quantity),
            unit_price=price_display(line.unit_price, currency),
            amount=_amount(line.amount, currency),
        )
        for line in memo.lines.all()
    ]
    facts = [
        ("Debit memo number", memo.number or "—"),
        ("Date", _date(memo.memo_date)),
        ("Billed from", _date(memo.next_billing_date)),
        ("Currency", currency),
    ]
    return Page(
        kind="debit_memo",
        title=f"Debit memo {memo.number}" if memo.number else "Debit memo",
        subtitle=f"Issued {_date(memo.memo_date)}",
        number=memo.number or "",
        currency=currency,
        seller=seller,
        customer=customer,
        facts=facts,
        status=status,
        lines=lines,
        taxes=[],
        totals=[
            Amount("total", "Total before tax", total, grand=True),
        ],
        notes=[memo.reason] if memo.reason else [],
    )
