"""Credit memos and debit memos.

Credit memos
    A credit memo gives credit: positive amounts credit charges. A void creates one that
    mirrors the voided invoice (invoicing/services/void.py); staff may also create a
    standalone one and post it, then apply it to posted invoices of the same account and
    currency. A posted credit memo is numbered by the one active `credit_memo` sequence
    policy matching its legal entity, currency and date (gapless, like invoices). When no
    such policy exists the memo is posted unnumbered: credit memo numbering is optional, and
    a missing policy must not block a void. Several matching policies are a configuration
    error and refuse the posting.

Debit memos
    Extra charges (late fees, undercharges). Created as a draft with lines, then posted. A
    posted debit memo whose next billing date the target date reaches is invoiced by the next
    generation: its lines are merged into the generated invoice of the same account, currency
    and legal entity (`debit_memos_take` / `debit_memos_mark_invoiced`, called by the
    generation engine). `debit_memo_invoice` turns one into a draft (or posted) invoice of its
    own at once, for an account with nothing else to bill. Voiding or deleting that invoice
    makes the memo due again.

Lock order (invoicing/locks.py), with memos placed after the invoice they touch:
account → schedule group → schedule → invoice → credit/debit memo → sequence policy.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone

from accounts.locks import account_lock_get
from accounts.models import Account, LegalEntity
from accounts.selectors import billing_terms_resolve
from billing.models import Product
from core.exceptions import ValidationError
from core.money import ZERO, money_input, round_money, to_decimal, validate_currency
from invoicing.exceptions import (
    CreditMemoNotDraft,
    DebitMemoNotDraft,
    DebitMemoNotFound,
    DebitMemoNotPosted,
    NoSequencePolicy,
)
from invoicing.locks import credit_memo_lock, debit_memo_lock, debit_memos_lock_due
from invoicing.models import (
    CreditMemo,
    CreditMemoLine,
    CreditReason,
    DebitMemo,
    DebitMemoLine,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceStatus,
    SequencePolicy,
)
from invoicing.services.drafts import draft_totals_refresh
from invoicing.services.numbering import sequence_numbers_take, sequence_policy_select
from invoicing.services.posting import invoices_post_locked
from invoicing.totals import credit_memo_totals_set, debit_memo_total

# --- errors -------------------------------------------------------------------------------


def _name(memo: CreditMemo | DebitMemo) -> str:
    """'Credit memo CM-001' / 'Debit memo #7' (an unnumbered memo's str names its kind)."""
    kind = "Credit memo" if isinstance(memo, CreditMemo) else "Debit memo"
    return f"{kind} {memo.number}" if memo.number else str(memo)


# --- credit memos ---------------------------------------------------------------------------


def credit_memo_number_take(memo: CreditMemo) -> str | None:
    """The next number of the one active credit-memo policy matching the memo, or None when
    no policy matches. Must run inside the posting transaction (the policy stays locked).
    AmbiguousSequencePolicy propagates: several matching policies are a configuration error.
    """
    on_date = memo.posted_date or memo.memo_date
    try:
        policy = sequence_policy_select(
            target=SequencePolicy.Target.CREDIT_MEMO,
            legal_entity_id=memo.legal_entity_id,
            currency=memo.currency,
            on_date=on_date,
        )
    except NoSequencePolicy:
        return None
    return sequence_numbers_take(policy_id=policy.pk, on_dates=[on_date])[0]


def credit_memo_post(*, credit_memo_id: int, posted_date: dt.date | None = None) -> CreditMemo:
    """Post a draft credit memo: totals from its lines, posted date, number (when a credit
    memo policy matches). Its whole total is then available to apply."""
    with transaction.atomic(durable=True):
        return credit_memo_post_locked(
            credit_memo_lock(credit_memo_id), posted_date=posted_date or timezone.localdate()
        )


def credit_memo_post_locked(memo: CreditMemo, *, posted_date: dt.date) -> CreditMemo:
    """credit_memo_post inside the caller's transaction, `memo` locked (or just created by
    it); the sequence policy is locked last."""
    if memo.status != CreditMemo.Status.DRAFT:
        raise CreditMemoNotDraft(
            f"{_name(memo)} is already posted.",
            details={"credit_memo": memo.pk, "status": memo.status},
        )
    lines = list(memo.lines.all())
    if not lines:
        raise ValidationError({"lines": "A credit memo needs at least one line to post."})
    credit_memo_totals_set(memo, lines)
    if memo.total < ZERO:
        raise ValidationError(
            {"lines": "The lines add up to a negative credit; use a debit memo instead."}
        )
    memo.status = CreditMemo.Status.POSTED
    memo.posted_date = posted_date
    memo.number = credit_memo_number_take(memo)
    memo.save(
        update_fields=[
            "total_charges",
            "total_tax",
            "total",
            "balance",
            "status",
            "posted_date",
            "number",
            "updated_at",
        ]
    )
    return memo


def _money_input(value: Any, currency: str, *, field: str) -> Decimal:
    return money_input(value, currency, field=field, positive="The amount must be more than zero.")


# --- debit memos ----------------------------------------------------------------------------


def _debit_memo_lines(lines: Sequence[dict], currency: str) -> list[DebitMemoLine]:
    if not lines:
        raise ValidationError({"lines": "A debit memo needs at least one line."})
    errors: dict[str, list[str]] = {}
    out = []
    product_ids = {line.get("product_id") for line in lines if line.get("product_id")}
    products = {p.pk: p for p in Product.objects.filter(pk__in=product_ids)}
    for index, raw in enumerate(lines):
        path = f"lines[{index}]"
        name = (raw.get("name") or "").strip()
        product_id = raw.get("product_id")
        product = products.get(product_id) if product_id else None
        if product_id and product is None:
            errors[f"{path}.product"] = [f"Product {product_id} does not exist."]
        if not name and product is not None:
            name = product.name
        if not name:
            errors[f"{path}.name"] = ["Name the charge, e.g. 'Late fee'."]
        try:
            quantity = to_decimal(raw.get("quantity", "1"))
            price = to_decimal(raw.get("unit_price", ""))
            if not (quantity.is_finite() and price.is_finite()):
                raise InvalidOperation
        except (InvalidOperation, TypeError, ValueError):
            errors[f"{path}.unit_price"] = ["Quantity and unit price must be decimal numbers."]
            continue
        if quantity <= 0:
            errors[f"{path}.quantity"] = ["The quantity must be more than zero."]
        if price < 0:
            errors[f"{path}.unit_price"] = ["A debit memo charges; use a credit memo for a credit."]
        out.append(
            DebitMemoLine(
                sort_order=index + 1,
                product=product,
                name=name,
                description=raw.get("description", "") or "",
                quantity=quantity,
                unit_price=price,
                amount=round_money(quantity * price, currency),
                taxable=raw.get("taxable", product.taxable if product else True),
                tax_code=raw.get("tax_code", product.tax_code if product else "") or "",
            )
        )
    if errors:
        raise ValidationError(errors)
    return out


def debit_memo_create(
    *,
    account_id: int,
    lines: Sequence[dict],
    memo_date: dt.date | None = None,
    next_billing_date: dt.date | None = None,
    reason: str = "",
    currency: str = "",
    legal_entity_id: int | None = None,
    post: bool = False,
) -> DebitMemo:
    """Create a debit memo with its lines (dicts: name, quantity, unit_price, product_id,
    description, taxable, tax_code); amount = quantity × unit price rounded per line. It is
    billed from next_billing_date (default: the memo date). post=True posts it at once."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ValidationError({"account": f"Account {account_id} does not exist."})
    currency = validate_currency(currency or account.currency)
    memo_date = memo_date or timezone.localdate()
    if legal_entity_id is not None and not LegalEntity.objects.filter(pk=legal_entity_id).exists():
        raise ValidationError({"legal_entity": f"Legal entity {legal_entity_id} does not exist."})
    memo_lines = _debit_memo_lines(lines, currency)
    with transaction.atomic(durable=True):
        memo = DebitMemo(
            account=account,
            legal_entity_id=legal_entity_id or account.legal_entity_id,
            currency=currency,
            reason=reason or "",
            memo_date=memo_date,
            next_billing_date=next_billing_date or memo_date,
            total=sum((line.amount for line in memo_lines), ZERO),
            status=DebitMemo.Status.POSTED if post else DebitMemo.Status.DRAFT,
        )
        memo.full_clean(exclude=["number"])
        memo.save()
        for line in memo_lines:
            line.debit_memo = memo
        DebitMemoLine.objects.bulk_create(memo_lines)
    return memo


def debit_memo_totals_refresh(*, debit_memo_id: int) -> DebitMemo:
    """Recompute a draft debit memo's line amounts and total (after staff edited lines)."""
    with transaction.atomic(durable=True):
        memo = debit_memo_lock(debit_memo_id)
        if memo.status != DebitMemo.Status.DRAFT:
            return memo
        lines = list(memo.lines.all())
        for line in lines:
            line.amount = round_money(line.quantity * line.unit_price, memo.currency)
        DebitMemoLine.objects.bulk_update(lines, ["amount"])
        memo.total = debit_memo_total(lines)
        memo.save(update_fields=["total", "updated_at"])
    return memo


def debit_memo_post(*, debit_memo_id: int) -> DebitMemo:
    """Post a draft debit memo: from its next billing date it is invoiced by generation."""
    with transaction.atomic(durable=True):
        memo = debit_memo_lock(debit_memo_id)
        if memo.status != DebitMemo.Status.DRAFT:
            raise DebitMemoNotDraft(
                f"{_name(memo)} is {memo.get_status_display().lower()}; only a draft can be "
                "posted.",
                details={"debit_memo": memo.pk, "status": memo.status},
            )
        if not memo.lines.exists():
            raise ValidationError({"lines": "A debit memo needs at least one line to post."})
        memo.status = DebitMemo.Status.POSTED
        memo.save(update_fields=["status", "updated_at"])
    return memo


def _memo_label(memo: DebitMemo) -> str:
    return _name(memo) + (f": {memo.reason}" if memo.reason else "")


def debit_memo_invoice_lines(memo: DebitMemo) -> list[tuple[DebitMemoLine, InvoiceLine]]:
    """Unsaved invoice lines for a debit memo's lines (charges), paired with them."""
    label = _memo_label(memo)
    pairs = []
    for line in sorted(memo.lines.all(), key=lambda x: (x.sort_order, x.pk)):
        product = line.product
        pairs.append(
            (
                line,
                InvoiceLine(
                    type=InvoiceLine.Type.CHARGE,
                    product=product,
                    name=line.name,
                    description=(line.description or label)[:500],
                    quantity=line.quantity,
                    unit_id=product.unit_id if product else None,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    taxable=line.taxable,
                    tax_code=line.tax_code,
                ),
            )
        )
    return pairs


def debit_memos_mark_invoiced(
    pairs: Iterable[tuple[DebitMemoLine, InvoiceLine]],
) -> list[int]:
    """After the lines are saved: link each memo line to its invoice line and mark its memo
    invoiced on that invoice. Returns the memo ids."""
    memo_invoice: dict[int, int] = {}
    memo_lines = []
    for memo_line, invoice_line in pairs:
        memo_line.invoice_line_id = invoice_line.pk
        memo_lines.append(memo_line)
        memo_invoice[memo_line.debit_memo_id] = invoice_line.invoice_id
    if not memo_lines:
        return []
    DebitMemoLine.objects.bulk_update(memo_lines, ["invoice_line"])
    by_invoice: dict[int, list[int]] = defaultdict(list)
    for memo_id, invoice_id in memo_invoice.items():
        by_invoice[invoice_id].append(memo_id)
    now = timezone.now()
    for invoice_id, memo_ids in by_invoice.items():
        DebitMemo.objects.filter(pk__in=memo_ids).update(
            status=DebitMemo.Status.INVOICED, invoice_id=invoice_id, updated_at=now
        )
    return sorted(memo_invoice)


def debit_memos_due_scopes(
    account_ids: Iterable[int], *, target_date: dt.date
) -> set[tuple[int, str, int | None]]:
    """The (account, currency, legal entity) triples of these accounts with a posted debit
    memo due by target_date (not locked: generation's writer choice)."""
    return set(
        DebitMemo.objects.filter(
            account_id__in=set(account_ids),
            status=DebitMemo.Status.POSTED,
            next_billing_date__lte=target_date,
        ).values_list("account_id", "currency", "legal_entity_id")
    )


def debit_memos_take(
    keys: Iterable[tuple[int, str, int | None]],
    *,
    target_date: dt.date,
    skip_locked: bool = False,
) -> dict[tuple[int, str, int | None], list[DebitMemo]]:
    """Lock the posted debit memos due by target_date of these (account, currency, legal
    entity) triples, with their lines; called by generation inside its chunk transaction,
    after it locked the schedules. A memo another transaction is invoicing is waited for (or
    skipped, for batch workers) and, once invoiced there, no longer matches."""
    wanted = set(keys)
    if not wanted:
        return {}
    memos = debit_memos_lock_due(
        {k[0] for k in wanted}, target_date=target_date, skip_locked=skip_locked
    )
    out: dict[tuple[int, str, int | None], list[DebitMemo]] = defaultdict(list)
    for memo in memos:
        key = (memo.account_id, memo.currency, memo.legal_entity_id)
        if key in wanted:
            out[key].append(memo)
    prefetch_related_objects(
        [m for ms in out.values() for m in ms],
        Prefetch("lines", queryset=DebitMemoLine.objects.select_related("product")),
    )
    return dict(out)


_Key = TypeVar("_Key", bound=Hashable)


def debit_memo_lines_for_keys(
    keys: Mapping[_Key, tuple[int, str, int | None]],
    *,
    target_date: dt.date,
    skip_locked: bool = False,
) -> dict[_Key, list[tuple[DebitMemoLine, InvoiceLine]]]:
    """For the generation engine: the due posted debit memos of the keys' (account,
    currency, legal entity), locked, as unsaved invoice lines paired with their memo lines.

    `keys` maps each grouping key of a chunk to its (account, currency, legal entity); a
    memo goes to the first key of its triple (keys in the engine's order), so it is merged
    into exactly one invoice. After the lines are saved, call debit_memos_mark_invoiced().
    """
    first_key: dict[tuple[int, str, int | None], _Key] = {}
    for key, triple in keys.items():
        first_key.setdefault(triple, key)
    memos = debit_memos_take(first_key, target_date=target_date, skip_locked=skip_locked)
    out: dict[_Key, list[tuple[DebitMemoLine, InvoiceLine]]] = defaultdict(list)
    for triple, due in memos.items():
        for memo in due:
            out[first_key[triple]] += debit_memo_invoice_lines(memo)
    return dict(out)


def debit_memo_invoice(
    *,
    debit_memo_id: int,
    invoice_date: dt.date | None = None,
    post: bool = False,
    posted_by: str = "",
) -> Invoice:
    """Turn a posted debit memo into an invoice of its own (source debit_memo) at once: a
    draft, or posted with post=True. Bill-to, payment term, payment method and billing
    address resolve from the account's default billing profile."""
    invoice_date = invoice_date or timezone.localdate()
    with transaction.atomic(durable=True):
        account_id = (
            DebitMemo.objects.filter(pk=debit_memo_id).values_list("account_id", flat=True).first()
        )
        if account_id is None:
            raise DebitMemoNotFound(
                f"Debit memo {debit_memo_id} does not exist.",
                details={"debit_memo": debit_memo_id},
            )
        account = account_lock_get(account_id)
        memo = debit_memo_lock(debit_memo_id)
        if memo.status != DebitMemo.Status.POSTED:
            raise DebitMemoNotPosted(
                f"{_name(memo)} is {memo.get_status_display().lower()}; only a posted, "
                "not yet invoiced debit memo can be invoiced.",
                details={"debit_memo": memo.pk, "status": memo.status},
            )
        terms = billing_terms_resolve(
            account=account, currency=memo.currency, legal_entity=memo.legal_entity
        )
        term = terms.payment_term
        invoice = Invoice(
            status=InvoiceStatus.DRAFT,
            account=account,
            legal_entity_id=memo.legal_entity_id,
            bill_to=terms.bill_to,
            currency=memo.currency,
            invoice_date=invoice_date,
            due_date=term.due_date(invoice_date) if term else invoice_date,
            target_date=invoice_date,
            source=Invoice.Source.DEBIT_MEMO,
            payment_term=term,
            saved_payment_method=terms.saved_payment_method,
            description=_memo_label(memo),
        )
        invoice.save()
        if terms.billing_address is not None:
            InvoiceAddress.objects.create(
                invoice=invoice,
                kind=InvoiceAddress.Kind.BILLING,
                name=account.name,
                **terms.billing_address.as_dict(),
            )
        pairs = debit_memo_invoice_lines(memo)
        for order, (_, line) in enumerate(pairs, start=1):
            line.invoice = invoice
            line.sort_order = order
        InvoiceLine.objects.bulk_create([line for _, line in pairs])
        draft_totals_refresh(invoice)
        debit_memos_mark_invoiced(pairs)
        if post:
            invoices_post_locked([invoice], posted_by=posted_by)
    invoice.refresh_from_db()
    return invoice


# --- draft memos written by hand (the admin's add and change pages) ------------------------


def _credit_memo_lines(lines: Sequence[dict], currency: str) -> list[CreditMemoLine]:
    """Credit memo lines from dicts (name, quantity, unit_price, tax_amount, period_start,
    period_end): amount = quantity × unit price rounded per line; a credit is positive."""
    if not lines:
        raise ValidationError({"lines": "A credit memo needs at least one line."})
    errors: dict[str, list[str] | str] = {}
    out = []
    for index, raw in enumerate(lines):
        path = f"lines[{index}]"
        name = (raw.get("name") or "").strip()
        if not name:
            errors[f"{path}.name"] = ["Name the credit, e.g. 'Goodwill credit'."]
        try:
            quantity = to_decimal(raw.get("quantity", "1"))
            price = to_decimal(raw.get("unit_price", ""))
            tax = to_decimal(raw.get("tax_amount") or "0")
            if not (quantity.is_finite() and price.is_finite() and tax.is_finite()):
                raise InvalidOperation
        except (InvalidOperation, TypeError, ValueError):
            errors[f"{path}.unit_price"] = ["Quantity, unit price and tax must be decimal numbers."]
            continue
        if quantity <= 0:
            errors[f"{path}.quantity"] = ["The quantity must be more than zero."]
        if price < 0:
            errors[f"{path}.unit_price"] = ["A credit is a positive unit price."]
        if tax < 0 or round_money(tax, currency) != tax:
            errors[f"{path}.tax_amount"] = [f"The tax is a positive amount in {currency}."]
        start, end = raw.get("period_start"), raw.get("period_end")
        if start and end and end < start:
            errors[f"{path}.period_end"] = ["The period cannot end before it starts."]
        out.append(
            CreditMemoLine(
                sort_order=index + 1,
                name=name,
                period_start=start,
                period_end=end,
                quantity=quantity,
                unit_price=price,
                amount=round_money(quantity * price, currency),
                tax_amount=tax,
            )
        )
    if errors:
        raise ValidationError(errors)
    return out


def credit_reason_validate(reason_code: str) -> str:
    """One of the fixed reasons (API.md's `reason`)."""
    if reason_code not in CreditReason.values:
        raise ValidationError({"reason": f"Use one of {', '.join(CreditReason.values)}."})
    return reason_code


def credit_memo_create(
    *,
    account_id: int,
    lines: Sequence[dict],
    memo_date: dt.date | None = None,
    reason: str = "",
    reason_code: str = CreditReason.OTHER,
    currency: str = "",
    legal_entity_id: int | None = None,
    invoice_id: int | None = None,
    post: bool = False,
) -> CreditMemo:
    """A draft credit memo with its lines (see _credit_memo_lines), to post with
    credit_memo_post; `post` posts it at once, on its memo date, in the same transaction.
    `invoice_id`: the posted invoice of the same account it credits."""
    credit_reason_validate(reason_code)
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ValidationError({"account": f"Account {account_id} does not exist."})
    currency = validate_currency(currency or account.currency)
    if legal_entity_id is not None and not LegalEntity.objects.filter(pk=legal_entity_id).exists():
        raise ValidationError({"legal_entity": f"Legal entity {legal_entity_id} does not exist."})
    if (
        invoice_id is not None
        and not Invoice.objects.filter(
            pk=invoice_id, account_id=account_id, currency=currency
        ).exists()
    ):
        raise ValidationError(
            {"invoice": f"Invoice {invoice_id} is not an invoice of this account in {currency}."}
        )
    memo_lines = _credit_memo_lines(lines, currency)
    with transaction.atomic(durable=True):
        memo = CreditMemo(
            account=account,
            legal_entity_id=legal_entity_id or account.legal_entity_id,
            currency=currency,
            invoice_id=invoice_id,
            reason_code=reason_code,
            reason=reason or "",
            memo_date=memo_date or timezone.localdate(),
        )
        _draft_totals_set(memo, memo_lines)
        memo.full_clean(exclude=["number"])
        memo.save()
        for line in memo_lines:
            line.credit_memo = memo
        CreditMemoLine.objects.bulk_create(memo_lines)
        if post:
            credit_memo_post_locked(memo, posted_date=memo.memo_date)
    return memo


def _credit_memo_draft_lock(credit_memo_id: int, *, action: str) -> CreditMemo:
    memo = credit_memo_lock(credit_memo_id)
    if memo.status != CreditMemo.Status.DRAFT:
        raise CreditMemoNotDraft(
            f"{_name(memo)} is posted; a posted credit memo cannot be {action}.",
            details={"credit_memo": memo.pk, "status": memo.status},
        )
    return memo


def credit_memo_update(
    *,
    credit_memo_id: int,
    memo_date: dt.date | None = None,
    reason: str | None = None,
    reason_code: str | None = None,
    lines: Sequence[dict] | None = None,
) -> CreditMemo:
    """Change a draft credit memo (None: keep); `lines` replace its lines."""
    if reason_code is not None:
        credit_reason_validate(reason_code)
    with transaction.atomic(durable=True):
        memo = _credit_memo_draft_lock(credit_memo_id, action="changed")
        if memo_date is not None:
            memo.memo_date = memo_date
        if reason is not None:
            memo.reason = reason
        if reason_code is not None:
            memo.reason_code = reason_code
        memo.full_clean(exclude=["number"])
        memo.save(update_fields=["memo_date", "reason", "reason_code", "updated_at"])
        if lines is not None:
            memo_lines = _credit_memo_lines(lines, memo.currency)
            memo.lines.all().delete()
            for line in memo_lines:
                line.credit_memo = memo
            CreditMemoLine.objects.bulk_create(memo_lines)
            _draft_totals_set(memo, memo_lines)
            memo.save(update_fields=["total_charges", "total_tax", "total", "balance"])
    return memo


def _draft_totals_set(memo: CreditMemo, lines: Sequence[CreditMemoLine]) -> None:
    """A draft shows what it will credit; it has nothing to apply (balance 0) until posted."""
    credit_memo_totals_set(memo, lines)
    memo.balance = ZERO


def credit_memo_draft_delete(*, credit_memo_id: int) -> None:
    """Delete a draft credit memo with its lines; a posted one is final."""
    with transaction.atomic(durable=True):
        memo = _credit_memo_draft_lock(credit_memo_id, action="deleted")
        memo.lines.all().delete()
        memo.delete()


def _debit_memo_draft_lock(debit_memo_id: int, *, action: str) -> DebitMemo:
    memo = debit_memo_lock(debit_memo_id)
    if memo.status != DebitMemo.Status.DRAFT:
        raise DebitMemoNotDraft(
            f"{_name(memo)} is {memo.get_status_display().lower()}; only a draft can be {action}.",
            details={"debit_memo": memo.pk, "status": memo.status},
        )
    return memo


def debit_memo_update(
    *,
    debit_memo_id: int,
    memo_date: dt.date | None = None,
    next_billing_date: dt.date | None = None,
    reason: str | None = None,
    lines: Sequence[dict] | None = None,
) -> DebitMemo:
    """Change a draft debit memo (None: keep); `lines` (as for debit_memo_create) replace its
    lines and the total follows."""
    with transaction.atomic(durable=True):
        memo = _debit_memo_draft_lock(debit_memo_id, action="changed")
        if memo_date is not None:
            memo.memo_date = memo_date
        if next_billing_date is not None:
            memo.next_billing_date = next_billing_date
        if reason is not None:
            memo.reason = reason
        if lines is not None:
            memo_lines = _debit_memo_lines(lines, memo.currency)
            memo.lines.all().delete()
            for line in memo_lines:
                line.debit_memo = memo
            DebitMemoLine.objects.bulk_create(memo_lines)
            memo.total = debit_memo_total(memo_lines)
        memo.full_clean(exclude=["number"])
        memo.save(update_fields=["memo_date", "next_billing_date", "reason", "total", "updated_at"])
    return memo


def debit_memo_draft_delete(*, debit_memo_id: int) -> None:
    """Delete a draft debit memo with its lines; a posted one is invoiced or canceled."""
    with transaction.atomic(durable=True):
        memo = _debit_memo_draft_lock(debit_memo_id, action="deleted")
        memo.lines.all().delete()
        memo.delete()
