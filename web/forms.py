"""Forms of the staff UI: they parse and validate input; the views hand it to one service.
Every form derives from `TextCheckedForm` / `TextCheckedModelForm`: no text field takes a
control character (core/text.py)."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import LegalEntity
from billing.choices import ChargeType, ScheduleStatus
from core.exceptions import ValidationError as DomainValidationError
from core.money import (
    currency_exponent,
    minor_unit,
    money_display,
    money_str,
    validate_currency,
)
from core.text import TextCheckedForm, TextCheckedModelForm
from invoicing.models import (
    CreditReason,
    ErrorLog,
    InvoiceBatchRun,
    InvoiceScheduler,
    InvoiceStatus,
    PaymentMethod,
)
from invoicing.receivables import statement_dates

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DateField(forms.DateField):
    """A date field whose error names the value it could not read (a date input shows an
    unreadable value as empty, so the message must say what was given)."""

    widget = DATE

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            raise ValidationError(
                "“%(value)s” is not a date: use YYYY-MM-DD, e.g. 2026-03-31.",
                code="invalid",
                params={"value": str(value).strip()[:40]},
            ) from exc


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "Any"), *choices]


class FilterForm(TextCheckedForm):
    """A list page's filters, bound to the query string. A parameter that is not one of its
    filters is an error like a bad value: the list then shows the errors, never a list that
    silently ignored part of what was asked."""

    OTHER_PARAMETERS = frozenset({"page"})

    def clean(self):
        cleaned = super().clean()
        unknown = sorted(
            key
            for key in (self.data or {})
            if key not in self.fields and key not in self.OTHER_PARAMETERS
        )
        if unknown:
            known = ", ".join(f"{field.label} ({name})" for name, field in self.fields.items())
            raise ValidationError(
                "Unknown filter%(s)s %(names)s: this list filters by %(known)s.",
                code="unknown_filter",
                params={
                    "s": "s" if len(unknown) > 1 else "",
                    "names": ", ".join(f"“{key}”" for key in unknown),
                    "known": known,
                },
            )
        return cleaned


class GenerateForm(TextCheckedForm):
    """Target date, invoice date and draft or posted: what invoices_generate needs."""

    target_date = DateField(help_text="Bill every period due on or before this date.")
    invoice_date = DateField(required=False, help_text="Empty: the target date.")
    action = forms.ChoiceField(
        label="Create",
        choices=[("draft", "Draft invoices"), ("posted", "Posted invoices (numbered)")],
        initial="draft",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The invoice date stays empty: its help says what empty means.
        self.fields["target_date"].initial = timezone.localdate()


class PreviewForm(TextCheckedForm):
    periods = forms.IntegerField(min_value=1, max_value=24, initial=2, label="Periods")
    preview_date = DateField(required=False, label="Invoice date", help_text="Empty: today.")


class AccountSearchForm(FilterForm):
    q = forms.CharField(
        required=False,
        label="Search",
        help_text="Name, external id or email.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class OrderFilterForm(FilterForm):
    q = forms.CharField(required=False, label="Search", help_text="Number, description, account.")
    status = forms.ChoiceField(
        required=False, choices=_blank([("draft", "Draft"), ("activated", "Activated")])
    )


class ScheduleFilterForm(FilterForm):
    status = forms.ChoiceField(required=False, choices=_blank(ScheduleStatus.choices))
    account = forms.CharField(required=False, help_text="Id, external id or part of the name.")
    next_from = DateField(required=False, label="Next billing from")
    next_to = DateField(required=False, label="Next billing to")
    charge_type = forms.ChoiceField(required=False, choices=_blank(ChargeType.choices))


class InvoiceFilterForm(FilterForm):
    number = forms.CharField(required=False, label="Number")
    status = forms.ChoiceField(required=False, choices=_blank(InvoiceStatus.choices))
    account = forms.CharField(required=False, help_text="Id, external id or part of the name.")
    date_from = DateField(required=False, label="Invoice date from")
    date_to = DateField(required=False, label="Invoice date to")
    run = forms.IntegerField(required=False, min_value=1, label="Batch run")
    currency = forms.CharField(required=False, max_length=3)


class ErrorFilterForm(FilterForm):
    state = forms.ChoiceField(
        required=False,
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
        initial="open",
    )
    category = forms.ChoiceField(required=False, choices=_blank(ErrorLog.Category.choices))
    code = forms.CharField(required=False)
    run = forms.IntegerField(required=False, min_value=1, label="Batch run")
    q = forms.CharField(required=False, label="Message contains")


class RunFilterForm(FilterForm):
    status = forms.ChoiceField(required=False, choices=_blank(InvoiceBatchRun.Status.choices))
    kind = forms.ChoiceField(required=False, choices=_blank(InvoiceBatchRun.Kind.choices))


class VoidForm(TextCheckedForm):
    reason = forms.CharField(
        required=False,
        max_length=255,
        help_text="Shown on the credit memo, e.g. 'Billed the wrong quantity'.",
    )


def amount_field(
    currency: str, *, what: str, maximum: Decimal, required: bool = True, **kwargs
) -> forms.DecimalField:
    """An amount input in `currency`: min and step (and the browser's check) are the
    currency's minor unit, max the open amount; the service remains the judge (its message
    names the balance)."""
    smallest = minor_unit(currency)
    field = forms.DecimalField(
        max_digits=19,
        decimal_places=currency_exponent(currency),
        min_value=smallest,
        required=required,
        error_messages={
            "min_value": f"{what} is more than zero: at least {money_display(smallest, currency)}.",
            "max_decimal_places": f"{currency} has {currency_exponent(currency)} decimal places.",
        },
        **kwargs,
    )
    if maximum >= smallest:
        field.widget.attrs["max"] = money_str(maximum, currency)
    return field


class PaymentForm(TextCheckedForm):
    amount = forms.DecimalField(max_digits=19, decimal_places=4)  # set per currency below
    payment_date = DateField()
    saved_payment_method = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Payment method"
    )
    reference = forms.CharField(required=False, max_length=100)

    def __init__(self, *args, invoice, **kwargs):
        super().__init__(*args, **kwargs)
        currency = invoice.currency
        self.fields["amount"] = amount_field(
            currency,
            what="A payment",
            maximum=invoice.balance,
            initial=money_str(invoice.balance, currency),
            help_text=f"In {currency}; at most the open balance.",
        )
        self.fields["payment_date"].initial = timezone.localdate()
        self.fields["saved_payment_method"].choices = [("", "—")] + [
            (m.pk, m.masked_label) for m in invoice.account.payment_methods.all()
        ]


class CreditApplyForm(TextCheckedForm):
    """Apply one of the account's posted credit memos to a posted invoice."""

    credit_memo = forms.TypedChoiceField(coerce=int, label="Credit memo")
    applied_date = DateField(label="Date applied")

    def __init__(self, *args, invoice, memos, **kwargs):
        super().__init__(*args, **kwargs)
        currency = invoice.currency
        self.fields["credit_memo"].choices = [
            (
                m.pk,
                f"{m.number or f'Credit memo #{m.pk}'} · {money_display(m.balance, currency)} "
                f"left{f' · {m.reason}' if m.reason else ''}",
            )
            for m in memos
        ]
        self.fields["amount"] = amount_field(
            currency,
            what="A credit",
            maximum=invoice.balance,
            required=False,
            help_text=f"In {currency}. Empty: as much as the memo has left, up to the "
            "open balance.",
        )
        self.fields["applied_date"].initial = timezone.localdate()
        self.order_fields(["credit_memo", "amount", "applied_date"])


CREDIT_ACTIONS = [
    ("apply", "Post it and apply it to this invoice"),
    ("posted", "Post it; keep the credit to apply later"),
    ("draft", "Save a draft to review"),
]


class InvoiceCreditForm(TextCheckedForm):
    """Credit lines of a posted invoice: per line an amount or a quantity (both empty: the
    line is not credited), a reason from the fixed list, a note, the date and what to do."""

    reason_code = forms.ChoiceField(label="Reason")
    note = forms.CharField(
        required=False, max_length=255, help_text="Shown on the credit memo, e.g. 'Outage'."
    )
    credit_date = DateField(label="Credit date")
    action = forms.ChoiceField(
        label="Then", choices=CREDIT_ACTIONS, initial="apply", widget=forms.RadioSelect
    )

    def __init__(self, *args, invoice, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines  # selectors.CreditableLine rows
        currency = invoice.currency
        self.fields["reason_code"].choices = CreditReason.choices
        self.fields["credit_date"].initial = timezone.localdate()
        for row in lines:
            line = row.line
            self.fields[f"amount_{line.pk}"] = amount_field(
                currency,
                what="A credit",
                maximum=row.left,
                required=False,
                label=f"Amount to credit of {line.name}",
            )
            self.fields[f"quantity_{line.pk}"] = forms.DecimalField(
                required=False,
                min_value=Decimal("0.000001"),
                max_value=line.quantity,
                max_digits=19,
                decimal_places=6,
                label=f"Quantity to credit of {line.name}",
            )

    def rows(self):
        """(creditable line, its amount field, its quantity field) for the template."""
        return [
            (row, self[f"amount_{row.line.pk}"], self[f"quantity_{row.line.pk}"])
            for row in self.lines
        ]

    def clean(self):
        cleaned = super().clean()
        requests = []
        for row in self.lines:
            amount = cleaned.get(f"amount_{row.line.pk}")
            quantity = cleaned.get(f"quantity_{row.line.pk}")
            if amount is not None and quantity is not None:
                self.add_error(f"quantity_{row.line.pk}", "Give an amount or a quantity, not both.")
            elif amount is not None or quantity is not None:
                requests.append(
                    {"invoice_line": row.line.pk, "amount": amount, "quantity": quantity}
                )
        if not requests and not self.errors:
            raise ValidationError("Give an amount or a quantity for at least one line.")
        cleaned["lines"] = requests
        return cleaned

    def field_for(self, path: str) -> str | None:
        """The form field a service error path (`lines[1].amount`) belongs to."""
        found = re.fullmatch(r"lines\[(\d+)\]\.?(\w*)", path)
        if found is None:
            return path if path in self.fields else None
        request = self.cleaned_data["lines"][int(found.group(1))]
        kind = "quantity" if found.group(2) == "quantity" else "amount"
        return f"{kind}_{request['invoice_line']}"


class CreditMemoNewForm(TextCheckedForm):
    """A standalone credit memo for an account: a reason, a note, a date and up to five lines
    (a name and an amount each; a row left empty is skipped)."""

    ROWS = 5

    reason_code = forms.ChoiceField(label="Reason", choices=CreditReason.choices)
    note = forms.CharField(required=False, max_length=255, help_text="Shown on the credit memo.")
    credit_date = DateField(label="Credit date")
    action = forms.ChoiceField(
        label="Then",
        choices=[("posted", "Post it (numbered)"), ("draft", "Save a draft")],
        initial="posted",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credit_date"].initial = timezone.localdate()
        for n in range(1, self.ROWS + 1):
            self.fields[f"name_{n}"] = forms.CharField(
                required=False, max_length=255, label=f"Line {n}"
            )
            self.fields[f"amount_{n}"] = amount_field(
                account.currency,
                what="A credit",
                maximum=Decimal(0),
                required=False,
                label=f"Amount of line {n}",
            )

    def line_rows(self):
        return [(self[f"name_{n}"], self[f"amount_{n}"]) for n in range(1, self.ROWS + 1)]

    def clean(self):
        cleaned = super().clean()
        lines = []
        for n in range(1, self.ROWS + 1):
            if f"name_{n}" in self.errors:  # a name given but refused: said at the name
                continue
            name, amount = cleaned.get(f"name_{n}"), cleaned.get(f"amount_{n}")
            if name and amount is None:
                self.add_error(f"amount_{n}", "Give the amount of this line.")
            elif amount is not None and not name:
                self.add_error(f"name_{n}", "Name this line, e.g. 'Goodwill credit'.")
            elif name:
                lines.append({"name": name, "unit_price": amount})
        if not lines and not self.errors:
            raise ValidationError("Give at least one line: a name and an amount.")
        cleaned["lines"] = lines
        return cleaned

    def field_for(self, path: str) -> str | None:
        found = re.fullmatch(r"lines\[(\d+)\]\.(\w+)", path)
        if found is None:
            return {"reason": "reason_code"}.get(path, path)
        n = int(found.group(1)) + 1
        return f"name_{n}" if found.group(2) == "name" else f"amount_{n}"


class ReceiptForm(TextCheckedForm):
    """Money received from an account: amount, date, method, reference, and how much of it
    goes to each open invoice (empty: none; the rest stays as unallocated credit)."""

    payment_date = DateField(label="Date received")
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
    saved_payment_method = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Saved payment method"
    )
    reference = forms.CharField(
        required=False, max_length=100, help_text="e.g. the bank's reference."
    )

    def __init__(self, *args, account, invoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.invoices = invoices
        currency = account.currency
        self.fields["amount"] = amount_field(
            currency, what="A payment", maximum=Decimal(0), help_text=f"In {currency}."
        )
        self.order_fields(["amount"])
        self.fields["payment_date"].initial = timezone.localdate()
        self.fields["saved_payment_method"].choices = [("", "—")] + [
            (m.pk, m.masked_label) for m in account.payment_methods.all()
        ]
        for invoice in invoices:
            self.fields[f"alloc_{invoice.pk}"] = amount_field(
                invoice.currency,
                what="An allocation",
                maximum=invoice.balance,
                required=False,
                label=f"Allocate to {invoice}",
            )

    def rows(self):
        return [(invoice, self[f"alloc_{invoice.pk}"]) for invoice in self.invoices]

    def clean(self):
        cleaned = super().clean()
        cleaned["allocations"] = [
            {"invoice": invoice.pk, "amount": cleaned[f"alloc_{invoice.pk}"]}
            for invoice in self.invoices
            if cleaned.get(f"alloc_{invoice.pk}") is not None
        ]
        return cleaned

    def field_for(self, path: str) -> str | None:
        found = re.fullmatch(r"allocations\[(\d+)\]\.?(\w*)", path)
        if found is None:
            return {"date": "payment_date"}.get(path, path)
        return f"alloc_{self.cleaned_data['allocations'][int(found.group(1))]['invoice']}"


class AllocateForm(TextCheckedForm):
    invoice = forms.TypedChoiceField(coerce=int, label="Invoice")

    def __init__(self, *args, receipt, invoices, **kwargs):
        kwargs.setdefault("prefix", "allocate")  # shares the payment page with RefundForm
        super().__init__(*args, **kwargs)
        self.fields["invoice"].choices = [
            (i.pk, f"{i} · {money_display(i.balance, i.currency)} open") for i in invoices
        ]
        self.fields["amount"] = amount_field(
            receipt.currency,
            what="An allocation",
            maximum=receipt.unallocated,
            required=False,
            help_text="Empty: as much as is open and unallocated.",
        )

    def clean(self):
        cleaned = super().clean()
        if "invoice" in cleaned:
            cleaned["allocation"] = {"invoice": cleaned["invoice"], "amount": cleaned.get("amount")}
        return cleaned


class RefundForm(TextCheckedForm):
    refund_date = DateField(label="Refund date")
    reason = forms.CharField(required=False, max_length=255)

    def __init__(self, *args, receipt, **kwargs):
        kwargs.setdefault("prefix", "refund")  # shares the payment page with AllocateForm
        super().__init__(*args, **kwargs)
        self.fields["amount"] = amount_field(
            receipt.currency,
            what="A refund",
            maximum=receipt.unallocated,
            help_text="At most the unallocated "
            f"{money_display(receipt.unallocated, receipt.currency)}.",
        )
        self.order_fields(["amount"])
        self.fields["refund_date"].initial = timezone.localdate()


class EmailForm(TextCheckedForm):
    to = forms.CharField(
        required=False,
        max_length=500,
        label="To",
        help_text="Empty: the invoice's bill-to contact.",
    )


class DraftEditForm(TextCheckedForm):
    invoice_date = DateField()
    due_date = DateField(required=False, help_text="Empty: from the payment term.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    bill_to = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Bill-to contact"
    )

    def __init__(self, *args, invoice, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "invoice_date": invoice.invoice_date,
                "due_date": invoice.due_date,
                "description": invoice.description,
                "bill_to": invoice.bill_to_id,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["bill_to"].choices = [("", "—")] + [
            (c.pk, str(c)) for c in invoice.account.contacts.all()
        ]


class AdjustmentForm(TextCheckedForm):
    name = forms.CharField(max_length=255, help_text="e.g. 'Goodwill credit'.")
    quantity = forms.DecimalField(max_digits=19, decimal_places=6, initial=1)
    unit_price = forms.DecimalField(
        max_digits=19, decimal_places=6, help_text="Negative for a credit, e.g. -25.00."
    )
    description = forms.CharField(required=False, max_length=500)
    taxable = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, **kwargs):
        # Its own ids: it shares the draft page (and field names) with DraftEditForm.
        kwargs.setdefault("auto_id", "id_adjustment_%s")
        super().__init__(*args, **kwargs)

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise ValidationError("The quantity must be a non-zero number.", code="zero")
        return quantity


class StartRunForm(TextCheckedForm):
    """An ad hoc batch run: the scheduler's run settings without the timing."""

    target_date = DateField()
    invoice_date = DateField(required=False, help_text="Empty: the target date.")
    invoice_status = forms.ChoiceField(
        label="Create", choices=[("draft", "Draft invoices"), ("posted", "Posted invoices")]
    )
    billing_period_count = forms.IntegerField(
        required=False, min_value=1, max_value=12, help_text="At most this many periods."
    )
    currencies = forms.CharField(required=False, help_text="Comma-separated, e.g. USD, EUR.")
    charge_types = forms.MultipleChoiceField(
        required=False, choices=ChargeType.choices, widget=forms.CheckboxSelectMultiple
    )
    matching_values = forms.CharField(required=False, help_text="Comma-separated.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The invoice date stays empty: its help says what empty means.
        self.fields["target_date"].initial = timezone.localdate()

    def filters(self) -> dict:
        return filters_from(self.cleaned_data)


def _csv(value: str, *, upper: bool = False) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return [v.upper() for v in items] if upper else items


def filters_from(data: dict) -> dict:
    out: dict = {}
    if data.get("currencies"):
        out["currencies"] = _csv(data["currencies"], upper=True)
    if data.get("charge_types"):
        out["charge_types"] = list(data["charge_types"])
    if data.get("matching_values"):
        out["matching_values"] = _csv(data["matching_values"])
    if data.get("legal_entity"):
        out["legal_entity"] = data["legal_entity"].pk
    if data.get("accounts"):
        out["accounts"] = [int(v) for v in _csv(data["accounts"])]
    return out


class SchedulerForm(TextCheckedModelForm):
    """Every field of a scheduler; its filters as separate inputs."""

    currencies = forms.CharField(required=False, help_text="Comma-separated, e.g. USD, EUR.")
    legal_entity = forms.ModelChoiceField(queryset=None, required=False)
    accounts = forms.CharField(required=False, help_text="Comma-separated account ids.")
    matching_values = forms.CharField(required=False, help_text="Comma-separated.")
    charge_types = forms.MultipleChoiceField(
        required=False, choices=ChargeType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = InvoiceScheduler
        fields = [
            "name",
            "status",
            "cadence",
            "weekday",
            "day_of_month",
            "time",
            "timezone",
            "start_date",
            "end_date",
            "exclude_weekends",
            "invoice_status",
            "target_date",
            "target_date_offset",
            "invoice_date",
            "invoice_date_offset",
            "invoice_date_from_run_date",
            "billing_period_count",
        ]
        labels = {"timezone": "Time zone"}
        field_classes = {
            "start_date": DateField,
            "end_date": DateField,
            "target_date": DateField,
            "invoice_date": DateField,
        }
        widgets = {
            "start_date": DATE,
            "end_date": DATE,
            "target_date": DATE,
            "invoice_date": DATE,
            "time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "weekday": forms.Select(
                choices=[
                    ("", "—"),
                    (0, "Monday"),
                    (1, "Tuesday"),
                    (2, "Wednesday"),
                    (3, "Thursday"),
                    (4, "Friday"),
                    (5, "Saturday"),
                    (6, "Sunday"),
                ]
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["legal_entity"].queryset = LegalEntity.objects.order_by("name")
        filters = (self.instance.filters or {}) if self.instance else {}
        if not self.is_bound:
            self.initial.update(
                currencies=", ".join(filters.get("currencies", [])),
                legal_entity=filters.get("legal_entity"),
                accounts=", ".join(str(a) for a in filters.get("accounts", [])),
                matching_values=", ".join(filters.get("matching_values", [])),
                charge_types=filters.get("charge_types", []),
            )

    def clean_accounts(self):
        value = self.cleaned_data.get("accounts", "")
        bad = [v for v in _csv(value) if not v.isdigit()]
        if bad:
            raise forms.ValidationError(f"Give account ids (numbers); not: {', '.join(bad)}.")
        return value

    def scheduler_values(self) -> dict:
        """The field values for the scheduler service, filters included."""
        values = {name: self.cleaned_data[name] for name in self.Meta.fields}
        values["filters"] = filters_from(self.cleaned_data)
        return values


# --- receivables (web/views/receivables.py) ----------------------------------------------------


def _currency_code(value: str) -> str:
    """An ISO 4217 code typed in a filter ('eur' → 'EUR'); '' for none."""
    code = (value or "").strip().upper()
    if code:
        try:
            validate_currency(code)
        except DomainValidationError as exc:
            raise ValidationError(exc.details["currency"][0], code="invalid") from exc
    return code


class AgingFilterForm(FilterForm):
    as_of = DateField(required=False, label="As of", help_text="Empty: today.")
    currency = forms.CharField(required=False, max_length=3, help_text="Empty: every currency.")
    legal_entity = forms.ModelChoiceField(
        queryset=LegalEntity.objects.none(), required=False, label="Seller", empty_label="Any"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["legal_entity"].queryset = LegalEntity.objects.order_by("name")

    def clean_currency(self) -> str:
        return _currency_code(self.cleaned_data.get("currency", ""))


class StatementFilterForm(FilterForm):
    """The statement's range (`from`, `to`, as in the API) and currency. The range's rule
    (defaults, start not after end) is invoicing.receivables.statement_dates'."""

    to = DateField(required=False, label="To", help_text="Empty: today.")
    currency = forms.CharField(required=False, max_length=3, help_text="Empty: every currency.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        start = DateField(required=False, label="From", help_text="Empty: the 1st of the month.")
        self.fields = {"from": start, **self.fields}

    def clean_currency(self) -> str:
        return _currency_code(self.cleaned_data.get("currency", ""))

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                cleaned["from"], cleaned["to"] = statement_dates(
                    cleaned.get("from"), cleaned.get("to")
                )
            except DomainValidationError as exc:
                for path, messages in exc.details.items():
                    for message in messages:
                        self.add_error(path if path in self.fields else None, message)
        return cleaned
