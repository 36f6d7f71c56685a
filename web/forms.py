"""Forms of the staff UI: they parse and validate input; the views hand it to one service."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import LegalEntity
from billing.choices import ChargeType, ScheduleStatus
from core.money import money_str
from invoicing.models import ErrorLog, InvoiceBatchRun, InvoiceScheduler, InvoiceStatus

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "Any"), *choices]


class GenerateForm(forms.Form):
    """Target date, invoice date and draft or posted: what invoices_generate needs."""

    target_date = forms.DateField(
        widget=DATE, help_text="Bill every period due on or before this date."
    )
    invoice_date = forms.DateField(widget=DATE, required=False, help_text="Empty: the target date.")
    action = forms.ChoiceField(
        label="Create",
        choices=[("draft", "Draft invoices"), ("posted", "Posted invoices (numbered)")],
        initial="draft",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["target_date"].initial = today
        self.fields["invoice_date"].initial = today


class PreviewForm(forms.Form):
    periods = forms.IntegerField(min_value=1, max_value=24, initial=2, label="Periods")
    preview_date = forms.DateField(
        widget=DATE, required=False, label="Invoice date", help_text="Empty: today."
    )


class AccountSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", help_text="Name, external id or email.")


class OrderFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", help_text="Number, description, account.")
    status = forms.ChoiceField(
        required=False, choices=_blank([("draft", "Draft"), ("activated", "Activated")])
    )


class ScheduleFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=_blank(ScheduleStatus.choices))
    account = forms.CharField(required=False, help_text="Id, external id or part of the name.")
    next_from = forms.DateField(required=False, widget=DATE, label="Next billing from")
    next_to = forms.DateField(required=False, widget=DATE, label="Next billing to")
    charge_type = forms.ChoiceField(required=False, choices=_blank(ChargeType.choices))


class InvoiceFilterForm(forms.Form):
    number = forms.CharField(required=False, label="Number")
    status = forms.ChoiceField(required=False, choices=_blank(InvoiceStatus.choices))
    account = forms.CharField(required=False, help_text="Id, external id or part of the name.")
    date_from = forms.DateField(required=False, widget=DATE, label="Invoice date from")
    date_to = forms.DateField(required=False, widget=DATE, label="Invoice date to")
    run = forms.IntegerField(required=False, min_value=1, label="Batch run")
    currency = forms.CharField(required=False, max_length=3)


class ErrorFilterForm(forms.Form):
    state = forms.ChoiceField(
        required=False,
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
        initial="open",
    )
    category = forms.ChoiceField(required=False, choices=_blank(ErrorLog.Category.choices))
    code = forms.CharField(required=False)
    run = forms.IntegerField(required=False, min_value=1, label="Batch run")
    q = forms.CharField(required=False, label="Message contains")


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=_blank(InvoiceBatchRun.Status.choices))
    kind = forms.ChoiceField(required=False, choices=_blank(InvoiceBatchRun.Kind.choices))


class VoidForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=255,
        help_text="Shown on the credit memo, e.g. 'Billed the wrong quantity'.",
    )


class PaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=19, decimal_places=4, min_value=0)
    payment_date = forms.DateField(widget=DATE)
    saved_payment_method = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Payment method"
    )
    reference = forms.CharField(required=False, max_length=100)

    def __init__(self, *args, invoice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_date"].initial = timezone.localdate()
        self.fields["amount"].initial = money_str(invoice.balance, invoice.currency)
        self.fields["saved_payment_method"].choices = [("", "—")] + [
            (m.pk, m.masked_label) for m in invoice.account.payment_methods.all()
        ]


class EmailForm(forms.Form):
    to = forms.CharField(
        required=False,
        max_length=500,
        label="To",
        help_text="Empty: the invoice's bill-to contact.",
    )


class DraftEditForm(forms.Form):
    invoice_date = forms.DateField(widget=DATE)
    due_date = forms.DateField(
        widget=DATE, required=False, help_text="Empty: from the payment term."
    )
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


class AdjustmentForm(forms.Form):
    name = forms.CharField(max_length=255, help_text="e.g. 'Goodwill credit'.")
    quantity = forms.DecimalField(max_digits=19, decimal_places=6, initial=1)
    unit_price = forms.DecimalField(
        max_digits=19, decimal_places=6, help_text="Negative for a credit, e.g. -25.00."
    )
    description = forms.CharField(required=False, max_length=500)
    taxable = forms.BooleanField(required=False, initial=True)


class StartRunForm(forms.Form):
    """An ad hoc batch run: the scheduler's run settings without the timing."""

    target_date = forms.DateField(widget=DATE)
    invoice_date = forms.DateField(widget=DATE, required=False, help_text="Empty: target date.")
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
        today = timezone.localdate()
        self.fields["target_date"].initial = today
        self.fields["invoice_date"].initial = today

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


class SchedulerForm(forms.ModelForm):
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
