"""Builders of the receivables tests (plain functions; each test module makes its fixtures
from them). Every document is made through the services, with chosen dates and untaxed
amounts, so the figures are exact.

The ledger (`ledger(world)`), account Acme Corp (USD, Net 30), numbered INV-0001… and
CM-0001…:

| date       | document                                     | debit    | credit   |
|------------|----------------------------------------------|----------|----------|
| 2026-01-05 | INV-0001, due 2026-02-04                     | 1,000.00 |          |
| 2026-02-10 | INV-0002, due 2026-03-12                     |   500.00 |          |
| 2026-02-20 | payment WIRE-1 (bank transfer) for INV-0001  |          |   400.00 |
| 2026-03-01 | CM-0001 goodwill, applied to INV-0002 03-05  |          |   100.00 |
| 2026-03-15 | INV-0003, due 2026-04-14, voided 2026-03-20  |   250.00 |          |
| 2026-03-20 | CM-0002, the void of INV-0003                |          |   250.00 |
| 2026-04-01 | INV-0004, due 2026-05-01                     |   300.00 |          |
| 2026-04-10 | CM-0003 goodwill, not applied                |          |    50.00 |
| 2026-04-15 | payment WIRE-2 (bank transfer) for INV-0001  |          |   600.00 |

Balances: 1,100.00 at the end of February, 1,000.00 at the end of March, 650.00 at the end of
April (INV-0002 400.00 open, INV-0004 300.00, CM-0003 50.00 unapplied).
"""

import datetime as dt
from decimal import Decimal as D

from accounts.models import Account
from invoicing.models import CreditMemo, CreditReason, Invoice, SequencePolicy
from invoicing.services.credits import credit_memo_apply
from invoicing.services.drafts import invoice_adjustment_add, invoice_draft_create
from invoicing.services.memos import credit_memo_create, credit_memo_post
from invoicing.services.payments import payment_receive, payment_record
from invoicing.services.posting import invoice_post
from invoicing.services.void import invoice_void

d = dt.date


def numbering(world) -> None:
    """Invoices INV-0001…, credit memos CM-0001… (any seller, any currency)."""
    SequencePolicy.objects.create(name="Invoices", pattern="INV-{SEQ}", min_width=4)
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=4
    )


def invoice_of(world, account: Account, amount: str, *, on: dt.date, currency: str = ""):
    """A posted invoice of one untaxed line of `amount`, dated and posted `on`, due 30 days
    later (the world's Net 30)."""
    draft = invoice_draft_create(
        account_id=account.pk,
        invoice_date=on,
        currency=currency,
        payment_term_id=world.net30.pk,
    )
    invoice_adjustment_add(invoice_id=draft.pk, name="Services", unit_price=amount, taxable=False)
    return invoice_post(invoice_id=draft.pk, posted_date=on)


def paid(invoice: Invoice, amount: str, *, on: dt.date, reference: str = ""):
    """A bank transfer of `amount` received `on`, wholly allocated to the invoice (its
    Payment row)."""
    return payment_record(
        invoice_id=invoice.pk,
        amount=amount,
        payment_date=on,
        reference=reference,
        method="bank_transfer",
    )


def received(
    account: Account, amount: str, *, on: dt.date, reference: str = "", to=(), currency=""
):
    """Money received `on` (a receipt), allocated to the invoices `to` as far as it goes, the
    rest left unallocated."""
    return payment_receive(
        account_id=account.pk,
        amount=amount,
        currency=currency,
        payment_date=on,
        reference=reference,
        method="cheque",
        allocations=[{"invoice": invoice.pk} for invoice in to],
    )


def credit_of(
    account: Account,
    amount: str,
    *,
    on: dt.date,
    currency: str = "",
    reason_code: str = CreditReason.GOODWILL,
    note: str = "",
    post: bool = True,
) -> CreditMemo:
    """A credit memo of one untaxed line of `amount`, dated (and posted) `on`."""
    memo = credit_memo_create(
        account_id=account.pk,
        currency=currency,
        memo_date=on,
        reason=note,
        reason_code=reason_code,
        lines=[{"name": "Credit", "unit_price": amount}],
    )
    return credit_memo_post(credit_memo_id=memo.pk, posted_date=on) if post else memo


def applied(memo: CreditMemo, invoice: Invoice, amount: str, *, on: dt.date):
    (row,) = credit_memo_apply(
        credit_memo_id=memo.pk,
        applications=[{"invoice": invoice.pk, "amount": amount}],
        applied_date=on,
    )
    return row


def voided(invoice: Invoice, *, on: dt.date) -> CreditMemo:
    return invoice_void(invoice_id=invoice.pk, void_date=on).credit_memo


class Ledger:
    """The documents of `ledger` by name (inv1…inv4, cm1…cm3, pay1, pay2)."""


def ledger(world) -> Ledger:
    """The ledger of the module doc, on the world's account."""
    numbering(world)
    acme = world.account
    led = Ledger()
    led.account = acme
    led.inv1 = invoice_of(world, acme, "1000.00", on=d(2026, 1, 5))
    led.inv2 = invoice_of(world, acme, "500.00", on=d(2026, 2, 10))
    led.pay1 = paid(led.inv1, "400.00", on=d(2026, 2, 20), reference="WIRE-1")
    led.cm1 = credit_of(acme, "100.00", on=d(2026, 3, 1))
    applied(led.cm1, led.inv2, "100.00", on=d(2026, 3, 5))
    led.inv3 = invoice_of(world, acme, "250.00", on=d(2026, 3, 15))
    led.cm2 = voided(led.inv3, on=d(2026, 3, 20))
    led.inv4 = invoice_of(world, acme, "300.00", on=d(2026, 4, 1))
    led.cm3 = credit_of(acme, "50.00", on=d(2026, 4, 10))
    led.pay2 = paid(led.inv1, "600.00", on=d(2026, 4, 15), reference="WIRE-2")
    for name in ("inv1", "inv2", "inv3", "inv4", "cm1", "cm2", "cm3"):
        getattr(led, name).refresh_from_db()
    return led


def amounts(*values: str) -> tuple[D, ...]:
    return tuple(D(v) for v in values)
