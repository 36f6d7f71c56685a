"""Invoice ingestion: standalone invoices, invoices imported from another system, and
invoices made from a debit memo (reference §4, in Ledgerline's terms).

`invoice_ingest` validates the whole invoice first and refuses it with every problem named by
record and field (`lines[2].amount`, `lines[0].taxes[1].status`); only a valid invoice writes
anything, in one transaction. The rules:

- the account is given by id (`account`) or by `account_external_id`;
- a line ends on or after its start; its amount is quantity × unit price, rounded to the
  currency (an `amount` sent must equal it);
- a draft has no posted date, no number and no final (posted) tax;
- `calculate_tax` (estimated tax from the tax engine) only for drafts;
- a posted invoice carries its final tax: each taxable line has its tax rows, a non-taxable
  line has none;
- the due date is given, or comes from the payment term given, else the account's, else the
  default payment term;
- a posted invoice takes the number it brings (unused), or the next number of its sequence
  policy. A brought number may not be one that a sequence policy issues later: a number
  with the pattern of an invoice policy (active or not, of any seller and currency: invoice
  numbers are unique across all of them) whose value is at or above the policy's next value
  (its start while it has issued none), in its steps, is refused on `number`, so a policy
  never meets a number an import took. Numbers the policies never issue are accepted when
  unused: another pattern (the previous system's, e.g. LEGACY-0042), the pattern below the
  policy's start or off its steps, or a value the policy has passed under another date
  stamp. A finance team migrating old invoices keeps their old numbers that way: when
  the old numbers have the new policy's pattern, create the policy with its start above the
  last old number, before it issues any. Otherwise import without a number: the invoice
  takes the policy's next one;
- at most settings.LEDGERLINE["MAX_INVOICE_LINES"] lines (generation's cap), refused on
  `lines`; a line's amount (quantity × unit price), its tax and the invoice's totals fit an
  amount column (under 10^15), else refused on `lines[i].amount`, `lines[i].taxes` or
  `lines`;
- every date lies between INGEST_DATE_MIN and INGEST_DATE_MAX (1900-01-01 … 2999-12-31),
  refused on its field: later dates overflow date arithmetic (a due date, reminders);
- `debit_memo` (a posted debit memo of the account, not yet invoiced) makes a draft invoice
  of the memo's lines;
- `unique_identifier`: an invoice already ingested with it is returned as it is (created is
  False), so a retried import never makes a duplicate, even when two retries race;
- a number taken at the same time by another writer is reported, never a server error: the
  brought number on `number` (400), the policy's next number as SequenceNumberTaken (409,
  nothing written: ingest again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.locks import account_lock
from accounts.models import Account
from accounts.selectors import billing_terms_resolve
from core.cards import CARD_NUMBER_MESSAGE, card_number_found
from core.exceptions import ValidationError
from core.models import MONEY_DIGITS
from core.money import ZERO, currency_exponent, plain, round_money, validate_currency
from invoicing.locks import debit_memo_lock
from invoicing.models import (
    DebitMemo,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
)
from invoicing.services.memos import debit_memo_invoice_lines, debit_memos_mark_invoiced
from invoicing.services.numbering import number_taken_error, sequence_policies_issuing
from invoicing.services.posting import invoices_post_locked
from invoicing.services.taxing import invoice_lines_tax
from invoicing.totals import invoice_totals_set

DRAFT = "draft"
POSTED = "posted"

INGEST_DATE_MIN = dt.date(1900, 1, 1)
INGEST_DATE_MAX = dt.date(2999, 12, 31)
# The first amount an amount column (core.models.MONEY_DIGITS) cannot hold.
AMOUNT_LIMIT = Decimal(10) ** (MONEY_DIGITS["max_digits"] - MONEY_DIGITS["decimal_places"])


@dataclass(frozen=True)
class IngestResult:
    invoice: Invoice
    created: bool


class _Errors(dict):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


@dataclass
class _Plan:
    """Everything the write needs, resolved and checked before anything is written."""

    account: Account
    status: str
    currency: str
    invoice_fields: dict[str, Any]
    lines: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    calculate_tax: bool
    debit_memo: DebitMemo | None
    number: str | None
    posted_date: dt.date | None


def invoice_ingest(*, data: dict[str, Any], ingested_by: str = "") -> IngestResult:
    """Ingest one invoice (see the module docstring). `data` holds the parsed input
    (invoicing.api.invoices.IngestInvoiceSerializer's validated data)."""
    uid = data.get("unique_identifier") or None
    if uid:
        existing = Invoice.objects.filter(unique_identifier=uid).first()
        if existing is not None:
            return IngestResult(existing, created=False)

    plan = _validate(data)
    try:
        invoice = _write(plan, uid=uid, ingested_by=ingested_by)
    except IntegrityError as exc:
        # A concurrent ingest took the unique identifier (or the number) first.
        if uid:
            existing = Invoice.objects.filter(unique_identifier=uid).first()
            if existing is not None:
                return IngestResult(existing, created=False)
        if plan.number and Invoice.objects.filter(number=plan.number).exists():
            raise ValidationError(
                {"number": f"Number {plan.number} was just taken by another invoice."}
            )
        taken = number_taken_error(exc)
        if taken is not None:  # the policy's number, taken by a racing writer
            raise taken
        raise
    return IngestResult(invoice, created=True)


# --- validation -------------------------------------------------------------------------------


def _validate(data: dict[str, Any]) -> _Plan:
    errors = _Errors()
    account = _account(data, errors)
    status = data.get("status") or DRAFT
    memo: DebitMemo | None = data.get("debit_memo")
    lines_in: list[dict] = list(data.get("lines") or [])
    invoice_date: dt.date = data["invoice_date"]
    calculate_tax = bool(data.get("calculate_tax"))
    dates_ok = _dates_in_range(data, lines_in, errors)

    currency = (data.get("currency") or "").upper()
    if memo is not None and not currency:
        currency = memo.currency
    if not currency and account is not None:
        currency = account.currency
    if currency or account is not None:
        try:
            currency = validate_currency(currency)
        except ValidationError:
            errors.add("currency", f"'{currency}' is not an ISO 4217 currency code.")
            currency = ""

    # Status, dates, number.
    if status == DRAFT:
        if data.get("posted_date"):
            errors.add("posted_date", "A draft has no posted date; it gets one when it is posted.")
        if data.get("number"):
            errors.add("number", "A draft has no number; it is numbered when it is posted.")
    else:
        if calculate_tax:
            errors.add(
                "calculate_tax",
                "Tax is calculated only for drafts; a posted invoice brings its final tax on "
                "each taxable line.",
            )
        number = data.get("number")
        if number:
            taken = Invoice.objects.filter(number=number).values_list("pk", flat=True).first()
            if taken is not None:
                errors.add("number", f"Number {number} is already used by invoice #{taken}.")
            else:
                _number_not_issued_later(number, errors)

    # Debit memo.
    if memo is not None:
        if status != DRAFT:
            errors.add(
                "status",
                "An invoice made from a debit memo is created as a draft; post it afterwards.",
            )
        if account is not None and memo.account_id != account.pk:
            errors.add("debit_memo", f"Debit memo {memo} belongs to another account.")
        if memo.status != DebitMemo.Status.POSTED or memo.invoice_id:
            errors.add(
                "debit_memo",
                f"Debit memo {memo} is {memo.get_status_display().lower()}; only a posted debit "
                "memo not yet invoiced makes an invoice.",
            )
        if lines_in:
            errors.add("lines", "The lines come from the debit memo; leave lines out.")
        elif not memo.lines.exists():
            errors.add("debit_memo", f"Debit memo {memo} has no lines.")
        if currency and memo.currency != currency:
            errors.add("currency", f"Debit memo {memo} is in {memo.currency}.")
    elif not lines_in:
        errors.add("lines", "An invoice needs at least one line.")
    cap = settings.LEDGERLINE["MAX_INVOICE_LINES"]
    if len(lines_in) > cap:
        errors.add(
            "lines",
            f"An invoice has at most {cap} lines (LEDGERLINE['MAX_INVOICE_LINES'], as in "
            f"generation); this one has {len(lines_in)}. Split it into several invoices.",
        )

    # Relations to the account.
    bill_to = data.get("bill_to")
    order = data.get("reference_order")
    if account is not None:
        if bill_to is not None and bill_to.account_id != account.pk:
            errors.add("bill_to", "The bill-to contact belongs to another account.")
        if order is not None and order.account_id != account.pk:
            errors.add("reference_order", "The order belongs to another account.")

    # Due date, payment term.
    terms = (
        billing_terms_resolve(
            account=account,
            currency=currency or None,
            legal_entity=data.get("legal_entity"),
            payment_term=data.get("payment_term"),
            bill_to=bill_to,
        )
        if account is not None
        else None
    )
    due_date = data.get("due_date")
    term = terms.payment_term if terms else data.get("payment_term")
    if due_date is not None:
        if due_date < invoice_date:
            errors.add("due_date", "The due date is before the invoice date.")
    elif term is not None:
        if dates_ok:
            due_date = term.due_date(invoice_date)
    elif account is not None:
        errors.add(
            "due_date",
            "Give a due date or a payment term: the account has no payment term and none is "
            "marked the default.",
        )

    lines = _lines(lines_in, status=status, currency=currency, errors=errors, calc=calculate_tax)
    _totals_fit(lines, currency=currency, errors=errors)
    addresses = _addresses(data.get("addresses") or [], errors)

    if errors:
        raise ValidationError(errors, message=_summary(errors))
    # _account() reports a missing account as an error: from here on there is one, and terms.
    assert account is not None and terms is not None

    has_billing = any(a["kind"] == InvoiceAddress.Kind.BILLING for a in addresses)
    if not has_billing and terms.billing_address is not None:
        addresses.append(
            {
                "kind": InvoiceAddress.Kind.BILLING,
                "name": account.name,
                **terms.billing_address.as_dict(),
            }
        )
    source = Invoice.Source.DEBIT_MEMO if memo is not None else Invoice.Source.INGESTED
    description = data.get("description") or (
        (f"Debit memo {memo}" + (f": {memo.reason}" if memo.reason else "")) if memo else ""
    )
    invoice_fields = {
        "account": account,
        "legal_entity": (memo.legal_entity if memo else None) or terms.legal_entity,
        "bill_to": terms.bill_to,
        "currency": currency,
        "invoice_date": invoice_date,
        "due_date": due_date,
        "source": source,
        "reference_order": order,
        "payment_term": term,
        "saved_payment_method": terms.saved_payment_method,
        "description": description,
        "correlation_id": data.get("correlation_id") or "",
    }
    return _Plan(
        account=account,
        status=status,
        currency=currency,
        invoice_fields=invoice_fields,
        lines=lines,
        addresses=addresses,
        calculate_tax=calculate_tax,
        debit_memo=memo,
        number=(data.get("number") or None) if status == POSTED else None,
        posted_date=(data.get("posted_date") or timezone.localdate()) if status == POSTED else None,
    )


def _account(data: dict[str, Any], errors: _Errors) -> Account | None:
    account: Account | None = data.get("account")
    external_id = data.get("account_external_id")
    if external_id:
        by_external = Account.objects.filter(external_id=external_id).first()
        if by_external is None:
            errors.add("account_external_id", f"No account has the external id '{external_id}'.")
        elif account is not None and account.pk != by_external.pk:
            errors.add(
                "account_external_id",
                f"The external id '{external_id}' is account {by_external.pk}'s, not account "
                f"{account.pk}'s.",
            )
        else:
            account = by_external
    elif account is None:
        errors.add("account", "Name the account: `account` (its id) or `account_external_id`.")
    return account


def _dates_in_range(data: dict[str, Any], lines_in: list[dict], errors: _Errors) -> bool:
    """Every date between INGEST_DATE_MIN and INGEST_DATE_MAX, else an error on its field.
    Returns whether the invoice date is (the due date is computed from it)."""
    dated = [(name, data.get(name)) for name in ("invoice_date", "due_date", "posted_date")]
    for i, raw in enumerate(lines_in):
        dated += [(f"lines[{i}].{name}", raw.get(name)) for name in ("period_start", "period_end")]
    invoice_date_ok = True
    for path, value in dated:
        if value is not None and not INGEST_DATE_MIN <= value <= INGEST_DATE_MAX:
            errors.add(
                path,
                f"{value.isoformat()} is outside the dates an invoice can carry "
                f"({INGEST_DATE_MIN.isoformat()} to {INGEST_DATE_MAX.isoformat()}); "
                "check the date.",
            )
            invoice_date_ok = invoice_date_ok and path != "invoice_date"
    return invoice_date_ok


def _number_not_issued_later(number: str, errors: _Errors) -> None:
    """Refuse a brought number that a sequence policy issues later (module docstring)."""
    for issued in sequence_policies_issuing(number):
        policy = issued.policy
        next_value = policy.start if policy.next_value is None else policy.next_value
        unused = (
            " To keep old numbers of this pattern, set the policy's start above the last of "
            "them (it has issued none yet)."
            if policy.next_value is None
            else ""
        )
        errors.add(
            "number",
            f"Number {number} is one sequence policy '{policy.name}' ({policy.pattern}) issues "
            f"later: its value {issued.value} is at or above the policy's next value "
            f"{next_value}, and an imported number may not take a place the policy will fill. "
            "Import the invoice without a number so it takes the policy's next one, or give it "
            f"a number outside the policy's pattern (e.g. the previous system's).{unused}",
        )


def _amount_fits(amount: Decimal) -> bool:
    return abs(amount) < AMOUNT_LIMIT


def _totals_fit(lines: list[dict], *, currency: str, errors: _Errors) -> None:
    """The invoice's totals (charges, tax, with tax) fit an amount column (checked once its
    lines are right)."""
    if not currency or any(path.startswith("lines[") for path in errors):
        return  # a line is wrong already: its own error says so
    amounts = [line["amount"] for line in lines]
    charges = sum(amounts, ZERO)
    tax = sum((t["amount"] for line in lines for t in line["taxes"]), ZERO)
    for label, total in (("charges", charges), ("tax", tax), ("total", charges + tax)):
        if not _amount_fits(total):
            errors.add(
                "lines",
                f"The invoice's {label} would be {plain(total)} {currency}, more than an amount "
                f"can hold (under {plain(AMOUNT_LIMIT)}). Split it into several invoices.",
            )
            return


def _lines(
    lines_in: list[dict], *, status: str, currency: str, errors: _Errors, calc: bool
) -> list[dict]:
    out = []
    places = currency_exponent(currency) if currency else None
    for i, raw in enumerate(lines_in):
        p = f"lines[{i}]"
        product = raw.get("product")
        start, end = raw.get("period_start"), raw.get("period_end")
        if start and end and end < start:
            errors.add(f"{p}.period_end", f"The line ends ({end}) before it starts ({start}).")
        name = raw.get("name") or (product.name if product else "")
        if not name:
            errors.add(f"{p}.name", "Name the line, or give its product.")
        for text_field in ("name", "description"):
            text = name if text_field == "name" else raw.get("description")
            if card_number_found(text):
                errors.add(f"{p}.{text_field}", CARD_NUMBER_MESSAGE)
        quantity: Decimal = raw["quantity"]
        unit_price: Decimal = raw["unit_price"]
        amount = None
        if currency:
            with localcontext() as exact:  # 19 × 19 digits: no rounding before the check
                exact.prec = 60
                exact_amount = quantity * unit_price
                if _amount_fits(exact_amount):
                    amount = round_money(exact_amount, currency)
            if amount is None or not _amount_fits(amount):
                errors.add(
                    f"{p}.amount",
                    f"Quantity × unit price is {plain(exact_amount)}, more than a line's amount "
                    f"can hold (under {plain(AMOUNT_LIMIT)}). Lower the quantity or the unit "
                    "price, or split the line.",
                )
                amount = None
        sent = raw.get("amount")
        if sent is not None and amount is not None and sent != amount:
            errors.add(
                f"{p}.amount",
                "The amount must be quantity × unit price, rounded: "
                f"{amount} (sent {plain(sent)}).",
            )
        taxable = raw.get("taxable")
        if taxable is None:
            taxable = product.taxable if product else True
        taxes_in = raw.get("taxes") or []
        taxes = []
        if status == POSTED:
            if taxable and not taxes_in:
                errors.add(
                    f"{p}.taxes",
                    "A taxable line of a posted invoice carries its tax rows (send a row with "
                    "amount 0 for no tax, or mark the line taxable false).",
                )
            if not taxable and taxes_in:
                errors.add(f"{p}.taxes", "A non-taxable line carries no tax rows.")
        elif calc and taxes_in:
            errors.add(
                f"{p}.taxes",
                "calculate_tax estimates the tax; leave the tax rows out, or calculate_tax false.",
            )
        for j, tax in enumerate(taxes_in):
            q = f"{p}.taxes[{j}]"
            tax_status = tax.get("status") or (
                InvoiceLineTax.Status.POSTED
                if status == POSTED
                else InvoiceLineTax.Status.ESTIMATED
            )
            if status == DRAFT and tax_status == InvoiceLineTax.Status.POSTED:
                errors.add(
                    f"{q}.status",
                    "A draft carries no final tax: send estimated tax, or none.",
                )
            if status == POSTED and tax_status != InvoiceLineTax.Status.POSTED:
                errors.add(f"{q}.status", "A posted invoice carries final tax: status posted.")
            tax_amount: Decimal = tax["amount"]
            if places is not None and tax_amount != round_money(tax_amount, currency):
                errors.add(
                    f"{q}.amount",
                    f"A {currency} amount has at most {places} decimal places.",
                )
            taxes.append(
                {
                    "name": tax["name"],
                    "code": tax.get("code") or "",
                    "rate": tax["rate"],
                    "kind": tax.get("kind") or "percentage",
                    "taxable_amount": tax.get("taxable_amount", amount),
                    "amount": tax_amount,
                    "status": tax_status,
                }
            )
        line_tax = sum((t["amount"] for t in taxes), ZERO)
        if not _amount_fits(line_tax):
            errors.add(
                f"{p}.taxes",
                f"The line's tax adds up to {plain(line_tax)}, more than an amount can hold "
                f"(under {plain(AMOUNT_LIMIT)}). Check the tax amounts.",
            )
        out.append(
            {
                "type": raw.get("type") or InvoiceLine.Type.CHARGE,
                "product": product,
                "name": name,
                "description": raw.get("description") or "",
                "period_start": start,
                "period_end": end,
                "quantity": quantity,
                "unit": raw.get("unit") or (product.unit if product else None),
                "unit_price": unit_price,
                "amount": amount,
                "taxable": taxable,
                "tax_code": raw.get("tax_code") or (product.tax_code if product else ""),
                "taxes": taxes,
            }
        )
    return out


def _addresses(addresses_in: list[dict], errors: _Errors) -> list[dict]:
    seen: set[str] = set()
    out = []
    for i, raw in enumerate(addresses_in):
        kind = raw["kind"]
        if kind in seen:
            errors.add(f"addresses[{i}].kind", f"A second {kind} address; send one per kind.")
        seen.add(kind)
        country = (raw.get("country") or "").upper()
        if country and not (len(country) == 2 and country.isalpha() and country.isascii()):
            errors.add(f"addresses[{i}].country", "Use the two-letter ISO 3166 code, e.g. US.")
        out.append({**raw, "country": country})
    return out


def _summary(errors: dict[str, list[str]]) -> str:
    path, messages = next(iter(errors.items()))
    more = len(errors) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"The invoice was not ingested: {path}: {messages[0]}{tail}"


# --- writing ----------------------------------------------------------------------------------


def _write(plan: _Plan, *, uid: str | None, ingested_by: str) -> Invoice:
    """Insert the invoice as a draft with its lines, taxes and addresses; a posted import is
    then numbered and posted. Lock order: account → debit memo → sequence policy."""
    with transaction.atomic(durable=True):
        account_lock(plan.account.pk)
        memo_pairs = []
        if plan.debit_memo is not None:
            memo = debit_memo_lock(plan.debit_memo.pk)
            if memo.status != DebitMemo.Status.POSTED or memo.invoice_id:
                raise ValidationError({"debit_memo": f"Debit memo {memo} was invoiced meanwhile."})
            memo_pairs = debit_memo_invoice_lines(memo)

        invoice = Invoice(
            status=InvoiceStatus.DRAFT,
            unique_identifier=uid,
            target_date=plan.invoice_fields["invoice_date"],
            **plan.invoice_fields,
        )
        invoice.full_clean(exclude=["unique_identifier", "number"])
        invoice.save()

        InvoiceAddress.objects.bulk_create(
            [InvoiceAddress(invoice=invoice, **address) for address in plan.addresses]
        )
        # The tax engine's jurisdiction: the billing address (as generation does).
        billing = next((a for a in plan.addresses if a["kind"] == "billing"), {})
        location = (billing.get("country") or "", billing.get("region") or "")

        if memo_pairs:
            lines = [line for _, line in memo_pairs]
            given_taxes: list[list[dict]] = [[] for _ in lines]
        else:
            lines = [
                InvoiceLine(**{k: v for k, v in spec.items() if k != "taxes"})
                for spec in plan.lines
            ]
            given_taxes = [spec["taxes"] for spec in plan.lines]
        for order, line in enumerate(lines, start=1):
            line.invoice = invoice
            line.sort_order = order
        InvoiceLine.objects.bulk_create(lines)

        if plan.calculate_tax:
            for line in lines:
                line.tax_amount = ZERO
            invoice_lines_tax([(invoice, lines)], estimate=True, locations=[location])
        else:
            rows = []
            for line, taxes in zip(lines, given_taxes, strict=True):
                line.tax_amount = sum((t["amount"] for t in taxes), ZERO)
                rows += [InvoiceLineTax(line=line, **t) for t in taxes]
            InvoiceLineTax.objects.bulk_create(rows)
        InvoiceLine.objects.bulk_update(lines, ["tax_amount"])

        invoice_totals_set(invoice, lines)
        invoice.save(
            update_fields=["total_charges", "total_adjustments", "total_tax", "total", "balance"]
        )
        if memo_pairs:
            debit_memos_mark_invoiced(memo_pairs)
        if plan.status == POSTED:
            _post(invoice, plan, ingested_by=ingested_by)
    return invoice


def _post(invoice: Invoice, plan: _Plan, *, ingested_by: str) -> None:
    """Post through the one posting path: the number brought (kept) or the next of the
    matching sequence policy; the tax brought is final."""
    invoice.number = plan.number or None
    invoices_post_locked(
        [invoice], posted_by=ingested_by, posted_date=plan.posted_date, tax_done=True
    )
