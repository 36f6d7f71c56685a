"""Admin for invoices and what belongs to them: lines, line taxes, addresses, billed periods,
rendered documents and emails.

Every write is a service call (invoicing/services/drafts.py and friends):

- an invoice added by hand is an empty draft (`invoice_draft_create`); a draft's invoice date,
  description and bill-to change through `invoice_update`; a draft with no billed periods is
  deleted through `invoice_draft_delete` (the "Delete drafts" action deletes generated ones
  and releases their periods);
- a line added to a draft is a manual adjustment (`invoice_adjustment_add`), changed through
  `invoice_adjustment_update` and removed through `invoice_adjustment_remove`; a generated
  line is reworded or reordered through `invoice_line_relabel`; each refreshes tax and totals
  (a rewording needs none);
- an address of a draft is set or removed through `invoice_address_set` /
  `invoice_address_remove` (the billing address decides the tax);
- posting, voiding, emailing, rendering and payments are actions calling their services.

Posted documents are immutable (STYLE.md rule 7): an invoice that is not a draft, and every
line, tax and address of it, is shown read-only and offers no Delete. Line taxes, billed
periods, rendered documents and emails are written by the services only.
"""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.models import SavedPaymentMethod
from core.admin_actions import (
    TIMESTAMPS,
    NoBulkDeleteMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    ServiceInline,
    action_form_page,
    run_service,
)
from core.money import money_display
from core.text import TextCheckedForm, TextCheckedModelForm
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceAddress,
    InvoiceDocument,
    InvoiceEmail,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    Payment,
)
from invoicing.services.credits import invoice_negative_lines_convert
from invoicing.services.documents import invoice_document_render
from invoicing.services.drafts import (
    invoice_address_remove,
    invoice_address_set,
    invoice_adjustment_add,
    invoice_adjustment_remove,
    invoice_adjustment_update,
    invoice_draft_create,
    invoice_draft_delete,
    invoice_line_relabel,
    invoice_update,
)
from invoicing.services.email import invoice_email_send
from invoicing.services.payments import payment_record
from invoicing.services.posting import invoices_post
from invoicing.services.void import invoice_void
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse

# What invoice_update changes on a draft; everything else on a draft is the services'.
HEADER_FIELDS = ("invoice_date", "description", "bill_to")
ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "region", "country")


def period_label(row) -> str:
    """'2026-11-01 – 2026-11-30', or '—' for a row without a period."""
    if row.period_start is None and row.period_end is None:
        return "—"
    return f"{row.period_start or '…'} – {row.period_end or '…'}"


def invoice_is_editable(invoice: Invoice | None) -> bool:
    """A draft (or an invoice being added). Posted, voided, canceled invoices are final;
    other statuses belong to a running service."""
    return invoice is None or invoice.status == InvoiceStatus.DRAFT


def invoice_is_deletable(invoice: Invoice) -> bool:
    """Only a draft with no billed periods on the delete page: a generated draft is deleted by
    the "Delete drafts" action, whose page says that its billing periods are released."""
    return invoice.status == InvoiceStatus.DRAFT and not invoice.period_items.exists()


class InvoiceChildForm(TextCheckedModelForm):
    """Refuses to attach a row to an invoice that is not editable (e.g. a line added to a
    posted invoice from the line's own add page)."""

    invoice_field = "invoice"

    def clean(self):
        cleaned = super().clean()
        parent = cleaned.get(self.invoice_field)
        invoice = parent if isinstance(parent, Invoice) or parent is None else parent.invoice
        if invoice is not None and not invoice_is_editable(invoice):
            self.add_error(
                self.invoice_field,
                f"{invoice} is {invoice.get_status_display().lower()}: only a draft invoice can "
                "be changed. Correct a posted invoice with a credit memo.",
            )
        return cleaned


# --- forms of the invoice actions --------------------------------------------------------

VOID_CONSEQUENCES = (
    "Voiding is final. For each invoice below: a posted credit memo mirroring every line and "
    "tax is applied so its balance becomes zero; its number stays and is never reused; its "
    "billed periods are released and its billing schedules roll back, so the next "
    "generation bills those periods again (with the same amounts); its usage becomes ready "
    "for invoicing again and its debit memos are due again. Only posted, unpaid, uncredited "
    "invoices that are the latest of each of their schedules can be voided."
)

DELETE_CONSEQUENCES = (
    "Each draft below is deleted with its lines; the billing periods it billed are released "
    "and its billing schedules roll back (next billing date, billed and pending amounts), so "
    "the next generation bills those periods again. Its debit memos are due again. Posted "
    "invoices are never deleted (void them instead)."
)


class DeleteDraftsForm(TextCheckedForm):
    confirm = forms.BooleanField(label="Delete these drafts", required=True, initial=False)


WRITE_OFF_CONSEQUENCES = (
    "For each invoice below, its open balance is written off: a posted credit memo (reason "
    "write-off) for the balance is applied to it, so its balance becomes zero. A written-off "
    "invoice takes no payment and cannot be voided until the write-off is reversed (the action "
    "'Reverse the write-off'). Tax is not adjusted."
)


class WriteOffForm(TextCheckedForm):
    note = forms.CharField(
        required=False, max_length=255, help_text="Shown on the credit memo (optional)."
    )
    confirm = forms.BooleanField(
        label="I understand the consequences above", required=True, initial=False
    )


class VoidForm(TextCheckedForm):
    reason = forms.CharField(
        required=False, max_length=255, help_text="Shown on the credit memo (optional)."
    )
    confirm = forms.BooleanField(
        label="I understand the consequences above", required=True, initial=False
    )


class PaymentForm(TextCheckedForm):
    amount = forms.DecimalField(max_digits=19, decimal_places=4, min_value=0)
    payment_date = forms.DateField(initial=timezone.localdate, help_text="YYYY-MM-DD")
    saved_payment_method = forms.ModelChoiceField(
        queryset=SavedPaymentMethod.objects.none(), required=False
    )
    reference = forms.CharField(required=False, max_length=100)


# --- inlines of the invoice --------------------------------------------------------------


class InvoiceLineInline(ServiceInline, admin.TabularInline):
    """Lines come from generation (or the line's own add page, as adjustments). On a draft
    staff may reword and reorder them here (invoice_line_relabel); amounts are the services'."""

    model = InvoiceLine
    fk_name = "invoice"
    money_currency = "invoice.currency"
    # The product, type and schedule are on the line's own page (its change link).
    fields = (
        "sort_order",
        "name",
        "description",
        "period",
        "quantity",
        "unit_price",
        "amount",
        "tax_amount",
        "taxes",
    )
    readonly_fields = ("period", "quantity", "unit_price", "amount", "tax_amount", "taxes")
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("product", "billing_schedule")
            .prefetch_related("taxes")
        )

    @admin.display(description="period")
    def period(self, line: InvoiceLine) -> str:
        return period_label(line)

    @admin.display(description="taxes")
    def taxes(self, line: InvoiceLine) -> str:
        return "; ".join(str(tax) for tax in line.taxes.all()) or "—"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def service_update(self, request, parent, obj, fields):
        return invoice_line_relabel(invoice_id=parent.pk, line_id=obj.pk, **fields)


class InvoiceAddressInline(ServiceInline, admin.StackedInline):
    """Stacked (three rows an address) so a draft's page fits 1440 px."""

    model = InvoiceAddress
    fields = (("kind", "name"), ("line1", "line2"), ("postal_code", "city", "region", "country"))
    verbose_name_plural = "addresses"
    extra = 0
    max_num = len(InvoiceAddress.Kind)

    def has_add_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_delete_permission(request, obj)

    def service_create(self, request, parent, obj, fields):
        return _address_set(obj, invoice_id=parent.pk)

    def service_update(self, request, parent, obj, fields):
        if "kind" in fields:
            invoice_address_remove(invoice_id=parent.pk, kind=obj.kind)
            obj.kind = fields["kind"]
        for name, value in fields.items():
            setattr(obj, name, value)
        return _address_set(obj, invoice_id=parent.pk)

    def service_delete(self, request, parent, obj):
        invoice_address_remove(invoice_id=parent.pk, kind=obj.kind)


def _address_set(address: InvoiceAddress, *, invoice_id: int) -> InvoiceAddress:
    return invoice_address_set(
        invoice_id=invoice_id,
        kind=address.kind,
        **{name: getattr(address, name) for name in ADDRESS_FIELDS},
    )


class InvoicePeriodItemInline(ReadOnlyInline, admin.TabularInline):
    """The billed periods this invoice carries."""

    model = BillingPeriodItem
    fk_name = "invoice"
    money_currency = "schedule.currency"
    fields = ("schedule", "period", "quantity", "amount", "invoice_status")
    readonly_fields = fields
    verbose_name_plural = "billed periods"

    @admin.display(description="period", ordering="period_start")
    def period(self, item: BillingPeriodItem) -> str:
        return period_label(item)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("schedule")


class InvoicePaymentInline(ReadOnlyInline, admin.TabularInline):
    """The payments recorded on this invoice (the "Record a payment" action adds one)."""

    model = Payment
    fields = ("payment_date", "amount", "saved_payment_method", "reference", "recorded_by")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice", "saved_payment_method")


# --- invoices ----------------------------------------------------------------------------


@admin.register(Invoice)
class InvoiceAdmin(NoBulkDeleteMixin, ServiceAdmin):
    # Fits 1440 px beside the filters: the currency is in the amounts; email status is a filter.
    list_display = (
        "__str__",
        "account",
        "status",
        "invoice_date",
        "due_date",
        "total",
        "balance",
        "settlement_status",
    )
    list_filter = (
        "status",
        "settlement_status",
        "email_status",
        "source",
        "currency",
        "legal_entity",
    )
    list_select_related = ("account",)
    search_fields = (
        "=number",
        "account__name",
        "=unique_identifier",
        "=request_id",
        "correlation_id",
        "group_key",
    )
    date_hierarchy = "invoice_date"
    autocomplete_fields = ("account",)
    raw_id_fields = ("bill_to", "reference_order", "saved_payment_method")
    # Set by generation, posting, tax, payments and email: never typed in.
    readonly_fields = (
        "number",
        "status",
        "due_date",
        "posted_date",
        "posted_at",
        "posted_by",
        "total_charges",
        "total_adjustments",
        "total_tax",
        "total",
        "balance",
        "settlement_status",
        "email_status",
        "unique_identifier",
        "request_id",
        "correlation_id",
        "group_key",
        *TIMESTAMPS,
    )
    # Fixed when the draft is made: its account, seller, currency and terms.
    draft_fixed_fields = (
        "source",
        "account",
        "legal_entity",
        "currency",
        "payment_term",
        "saved_payment_method",
        "reference_order",
        "tax_treatment",
        "target_date",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("number", "status", "source"),
                    ("account", "legal_entity", "currency"),
                    ("bill_to", "payment_term", "saved_payment_method"),
                    ("reference_order", "tax_treatment"),
                    "description",
                )
            },
        ),
        (
            "Dates",
            {
                "fields": (
                    ("invoice_date", "due_date", "target_date"),
                    ("posted_date", "posted_at", "posted_by"),
                )
            },
        ),
        (
            "Totals",
            {
                "fields": (
                    ("total_charges", "total_adjustments", "total_tax"),
                    ("total", "balance"),
                    ("settlement_status", "email_status"),
                )
            },
        ),
        (
            "Generation",
            {
                "classes": ("collapse",),
                "fields": (
                    ("unique_identifier", "group_key"),
                    ("request_id", "correlation_id"),
                    TIMESTAMPS,
                ),
            },
        ),
    )
    inlines = (
        InvoiceLineInline,
        InvoiceAddressInline,
        InvoicePeriodItemInline,
        InvoicePaymentInline,
    )
    actions = (
        "post_invoices",
        "void_invoices",
        "send_invoice_emails",
        "regenerate_pdfs",
        "record_payment",
        "write_off_invoices",
        "convert_negative_lines",
        "reverse_write_offs",
        "delete_drafts",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, *self.draft_fixed_fields)

    def has_change_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and not invoice_is_deletable(obj):
            return False
        return super().has_delete_permission(request, obj)

    # --- the add, change and delete pages ------------------------------------------------

    def service_create(self, request, obj, form):
        return invoice_draft_create(
            account_id=obj.account_id,
            invoice_date=obj.invoice_date,
            currency=obj.currency,
            legal_entity_id=obj.legal_entity_id,
            bill_to_id=obj.bill_to_id,
            payment_term_id=obj.payment_term_id,
            saved_payment_method_id=obj.saved_payment_method_id,
            reference_order_id=obj.reference_order_id,
            target_date=obj.target_date,
            tax_treatment=obj.tax_treatment,
            source=obj.source,
            description=obj.description,
        )

    def service_update(self, request, obj, form):
        changes = {}
        if "invoice_date" in form.changed_data:
            changes["invoice_date"] = obj.invoice_date
        if "description" in form.changed_data:
            changes["description"] = obj.description
        if "bill_to" in form.changed_data:
            changes["bill_to_id"] = obj.bill_to_id
        return invoice_update(invoice_id=obj.pk, **changes) if changes else None

    def service_delete(self, request, obj):
        invoice_draft_delete(invoice_id=obj.pk)

    # --- actions --------------------------------------------------------------------------

    @admin.action(description="Post selected draft invoices", permissions=["change"])
    def post_invoices(self, request, queryset):
        ids = list(queryset.filter(status=InvoiceStatus.DRAFT).values_list("pk", flat=True))
        skipped = queryset.count() - len(ids)
        posted, failures = invoices_post(invoice_ids=ids, posted_by=request.user.username)
        for failure in failures:
            self.message_user(
                request, f"Invoice {failure.invoice_id}: {failure.message}", level=messages.ERROR
            )
        numbers = ", ".join(Invoice.objects.filter(pk__in=posted).values_list("number", flat=True))
        self.message_user(
            request,
            f"{len(posted)} invoice(s) posted"
            + (f": {numbers}" if numbers else ".")
            + (f" {skipped} not draft, skipped." if skipped else ""),
            level=messages.SUCCESS if posted else messages.WARNING,
        )

    @admin.action(description="Void selected posted invoices…", permissions=["change"])
    def void_invoices(self, request, queryset):
        form = VoidForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                title="Void invoices",
                intro=VOID_CONSEQUENCES,
                form=form,
                action_name="void_invoices",
                submit="Void these invoices",
            )
        voided = []
        for invoice in queryset.order_by("-id"):  # newest first
            result = run_service(
                self,
                request,
                str(invoice),
                lambda i=invoice: invoice_void(
                    invoice_id=i.pk,
                    voided_by=request.user.username,
                    reason=form.cleaned_data["reason"],
                ),
            )
            if result is not None:
                memo = result.credit_memo
                voided.append(f"{result.invoice} (credit memo {memo.number or f'#{memo.pk}'})")
        if voided:
            self.message_user(
                request, f"{len(voided)} invoice(s) voided: {', '.join(voided)}.", messages.SUCCESS
            )
        return None

    @admin.action(
        description="Write off the open balance of selected invoices…", permissions=["change"]
    )
    def write_off_invoices(self, request, queryset):
        form = WriteOffForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                title="Write off invoices",
                intro=WRITE_OFF_CONSEQUENCES,
                form=form,
                action_name="write_off_invoices",
                submit="Write off these balances",
            )
        done = []
        for invoice in queryset.order_by("id"):
            result = run_service(
                self,
                request,
                str(invoice),
                lambda i=invoice: invoice_write_off(
                    invoice_id=i.pk,
                    note=form.cleaned_data["note"],
                    written_off_by=request.user.get_username(),
                ),
            )
            if result is not None:
                done.append(
                    f"{money_display(result.amount, result.invoice.currency)} of "
                    f"{result.invoice} ({result.credit_memo})"
                )
        if done:
            self.message_user(request, f"Written off: {'; '.join(done)}.", messages.SUCCESS)
        return None

    @admin.action(
        description="Convert the negative lines of selected invoices into credit memos",
        permissions=["change"],
    )
    def convert_negative_lines(self, request, queryset):
        done = []
        for invoice in queryset.order_by("id"):
            result = run_service(
                self,
                request,
                str(invoice),
                lambda i=invoice: invoice_negative_lines_convert(
                    invoice_id=i.pk, converted_by=request.user.get_username()
                ),
            )
            if result is not None:
                memo = result.credit_memo
                done.append(f"{invoice} → {memo} ({money_display(memo.total, memo.currency)})")
        if done:
            self.message_user(request, f"Converted: {'; '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Reverse the write-off of selected invoices", permissions=["change"])
    def reverse_write_offs(self, request, queryset):
        done = []
        for invoice in queryset.order_by("id"):
            result = run_service(
                self,
                request,
                str(invoice),
                lambda i=invoice: invoice_write_off_reverse(
                    invoice_id=i.pk, reversed_by=request.user.get_username()
                ),
            )
            if result is not None:
                done.append(str(result.invoice))
        if done:
            self.message_user(request, f"Write-off reversed: {', '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Email selected posted invoices", permissions=["change"])
    def send_invoice_emails(self, request, queryset):
        counts: dict[str, int] = {}
        for invoice in queryset.order_by("id"):
            email = run_service(
                self,
                request,
                str(invoice),
                lambda i=invoice: invoice_email_send(invoice_id=i.pk),
            )
            if email is None:
                continue
            counts[email.status] = counts.get(email.status, 0) + 1
            if email.status == "failed":
                self.message_user(request, f"{invoice}: {email.error}", messages.ERROR)
        if counts:
            summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            level = messages.SUCCESS if set(counts) == {"sent"} else messages.WARNING
            self.message_user(request, f"Invoice emails: {summary}.", level)

    @admin.action(description="Regenerate the PDF of selected invoices", permissions=["view"])
    def regenerate_pdfs(self, request, queryset):
        done = []
        for invoice in queryset.order_by("id"):
            doc = run_service(
                self,
                request,
                str(invoice),
                lambda i=invoice: invoice_document_render(invoice_id=i.pk, regenerate=True),
            )
            if doc is not None:
                done.append(f"{invoice} v{doc.version}")
        if done:
            self.message_user(request, f"PDF rendered: {', '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Record a payment for the selected invoice…", permissions=["change"])
    def record_payment(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one invoice to record a payment.", messages.WARNING
            )
            return None
        invoice = queryset.get()
        form = PaymentForm(request.POST if "apply" in request.POST else None)
        form.fields["saved_payment_method"].queryset = SavedPaymentMethod.objects.filter(
            account_id=invoice.account_id
        )
        form.fields["saved_payment_method"].initial = invoice.saved_payment_method_id
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                title="Record a payment",
                intro=f"Invoice {invoice}: open balance "
                f"{money_display(invoice.balance, invoice.currency)}.",
                form=form,
                action_name="record_payment",
                submit="Record payment",
            )
        data = form.cleaned_data
        payment = run_service(
            self,
            request,
            str(invoice),
            lambda: payment_record(
                invoice_id=invoice.pk,
                amount=data["amount"],
                payment_date=data["payment_date"],
                saved_payment_method_id=(
                    data["saved_payment_method"].pk if data["saved_payment_method"] else None
                ),
                reference=data["reference"],
                recorded_by=request.user.username,
            ),
        )
        if payment is not None:
            invoice.refresh_from_db()
            self.message_user(
                request,
                f"Payment of {money_display(payment.amount, payment.currency)} recorded on "
                f"{invoice}; balance {money_display(invoice.balance, invoice.currency)} "
                f"({invoice.get_settlement_status_display().lower()}).",
                messages.SUCCESS,
            )
        return None

    @admin.action(
        description="Delete selected drafts and release their billing periods…",
        permissions=["delete"],
    )
    def delete_drafts(self, request, queryset):
        """Deletes through invoice_draft_delete, which releases the drafts' billed periods and
        rolls the schedules back, after a page saying so."""
        form = DeleteDraftsForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                title="Delete draft invoices",
                intro=DELETE_CONSEQUENCES,
                form=form,
                action_name="delete_drafts",
                submit="Delete these drafts",
            )
        deleted = []
        for invoice in queryset.order_by("-id"):  # newest first
            label = str(invoice)
            if run_service(
                self,
                request,
                label,
                lambda i=invoice: invoice_draft_delete(invoice_id=i.pk) or True,
            ):
                deleted.append(label)
        if deleted:
            self.message_user(
                request,
                f"{len(deleted)} draft(s) deleted ({', '.join(deleted)}); their billing "
                "periods are billable again.",
                messages.SUCCESS,
            )
        return None


# --- lines, taxes, addresses ---------------------------------------------------------------


class InvoiceChildAdmin(NoBulkDeleteMixin, ServiceAdmin):
    """Lines and addresses: read-only unless their invoice is a draft."""

    form = InvoiceChildForm

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not invoice_is_editable(obj.invoice):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and not invoice_is_editable(obj.invoice):
            return False
        return super().has_delete_permission(request, obj)


class InvoiceLineTaxInline(ReadOnlyInline, admin.TabularInline):
    """Computed by the tax engine."""

    model = InvoiceLineTax
    money_currency = "line.invoice.currency"
    fields = ("name", "code", "rate", "kind", "taxable_amount", "amount", "status")
    readonly_fields = fields
    show_change_link = False


# An adjustment typed in on a draft: what invoice_adjustment_add takes.
ADJUSTMENT_FIELDS = (
    "name",
    "description",
    "product",
    "quantity",
    "unit_price",
    "taxable",
    "tax_code",
    "period_start",
    "period_end",
)
LINE_FIELDS = (
    "invoice",
    "type",
    "sort_order",
    *ADJUSTMENT_FIELDS,
    "unit",
    "amount",
    "tax_amount",
    "billing_schedule",
    "schedule_group",
    "parent_line",
    "is_usage",
    *TIMESTAMPS,
)
# What each service changes on an existing line of a draft.
RELABEL_FIELDS = ("sort_order", "name", "description")
ADJUSTMENT_UPDATE_FIELDS = ("quantity", "unit_price", "taxable", "tax_code")


@admin.register(InvoiceLine)
class InvoiceLineAdmin(InvoiceChildAdmin):
    """A line added here is a manual adjustment of a draft (amount = quantity × unit price;
    a negative unit price is a credit), and the draft's tax and totals follow."""

    money_currency = "invoice.currency"

    list_display = (
        "__str__",
        "invoice",
        "product",
        "period",
        "amount",
        "tax_amount",
    )
    list_filter = ("type", "is_usage", "taxable")
    list_select_related = ("invoice", "product")
    search_fields = ("name", "=invoice__number", "product__sku", "billing_schedule__id__exact")
    raw_id_fields = (
        "invoice",
        "product",
        "unit",
        "parent_line",
        "billing_schedule",
        "schedule_group",
    )
    inlines = (InvoiceLineTaxInline,)

    @admin.display(description="period", ordering="period_start")
    def period(self, line: InvoiceLine) -> str:
        return period_label(line)

    def get_fields(self, request, obj=None):
        return ("invoice", *ADJUSTMENT_FIELDS) if obj is None else LINE_FIELDS

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        editable = RELABEL_FIELDS
        if obj.type == InvoiceLine.Type.ADJUSTMENT:
            editable = (*RELABEL_FIELDS, *ADJUSTMENT_UPDATE_FIELDS)
        return tuple(f for f in LINE_FIELDS if f not in editable)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.type != InvoiceLine.Type.ADJUSTMENT:
            return False  # billed from a schedule: delete the draft to bill it differently
        return super().has_delete_permission(request, obj)

    def service_create(self, request, obj, form):
        return invoice_adjustment_add(
            invoice_id=obj.invoice_id,
            name=obj.name,
            unit_price=obj.unit_price,
            quantity=obj.quantity,
            description=obj.description,
            taxable=obj.taxable,
            tax_code=obj.tax_code,
            product_id=obj.product_id,
            period_start=obj.period_start,
            period_end=obj.period_end,
        )

    def service_update(self, request, obj, form):
        changed = set(form.changed_data)
        amounts = {f: getattr(obj, f) for f in ADJUSTMENT_UPDATE_FIELDS if f in changed}
        labels = {f: getattr(obj, f) for f in RELABEL_FIELDS if f in changed}
        line = None
        if amounts:
            line = invoice_adjustment_update(invoice_id=obj.invoice_id, line_id=obj.pk, **amounts)
        if labels:
            line = invoice_line_relabel(invoice_id=obj.invoice_id, line_id=obj.pk, **labels)
        return line

    def service_delete(self, request, obj):
        invoice_adjustment_remove(invoice_id=obj.invoice_id, line_id=obj.pk)


@admin.register(InvoiceLineTax)
class InvoiceLineTaxAdmin(ReadOnlyAdmin):
    """Computed by the tax engine (estimated on drafts, final at posting)."""

    money_currency = "line.invoice.currency"

    list_display = ("name", "line", "invoice", "rate", "taxable_amount", "amount", "status")
    list_filter = ("status", "kind")
    list_select_related = ("line__invoice",)
    search_fields = ("name", "code", "=line__invoice__number")
    raw_id_fields = ("line",)
    readonly_fields = TIMESTAMPS

    @admin.display(description="invoice", ordering="line__invoice")
    def invoice(self, obj: InvoiceLineTax) -> Invoice:
        return obj.line.invoice


@admin.register(InvoiceAddress)
class InvoiceAddressAdmin(InvoiceChildAdmin):
    """A draft's billing or shipping address (one of each), through invoice_address_set."""

    list_display = ("id", "invoice", "kind", "name", "city", "region", "country")
    list_filter = ("kind", "country")
    list_select_related = ("invoice",)
    search_fields = ("=invoice__number", "name", "city", "postal_code")
    raw_id_fields = ("invoice",)

    def get_readonly_fields(self, request, obj=None):
        return TIMESTAMPS if obj is None else ("invoice", "kind", *TIMESTAMPS)

    def service_create(self, request, obj, form):
        return _address_set(obj, invoice_id=obj.invoice_id)

    def service_update(self, request, obj, form):
        return _address_set(obj, invoice_id=obj.invoice_id)

    def service_delete(self, request, obj):
        invoice_address_remove(invoice_id=obj.invoice_id, kind=obj.kind)


# --- written by the services only ----------------------------------------------------------


@admin.register(BillingPeriodItem)
class BillingPeriodItemAdmin(ReadOnlyAdmin):
    """Written by the period engine with the invoice that bills it; released by deleting or
    voiding that invoice."""

    money_currency = "schedule.currency"

    list_display = ("schedule", "period", "quantity", "amount", "invoice_status", "invoice")
    list_filter = ("invoice_status",)
    list_select_related = ("schedule", "invoice")
    search_fields = ("schedule__id__exact", "=invoice__number", "schedule__account__name")
    date_hierarchy = "period_start"
    raw_id_fields = ("schedule", "group", "usage_summary", "invoice", "invoice_line")
    readonly_fields = TIMESTAMPS

    @admin.display(description="period", ordering="period_start")
    def period(self, item: BillingPeriodItem) -> str:
        return period_label(item)


@admin.register(InvoiceDocument)
class InvoiceDocumentAdmin(ReadOnlyAdmin):
    """Rendered by invoice_document_render (the "Regenerate the PDF" action of invoices)."""

    list_display = ("invoice", "version", "status", "size", "page_count", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("invoice",)


@admin.register(InvoiceEmail)
class InvoiceEmailAdmin(ReadOnlyAdmin):
    """Sent by invoice_email_send (the "Email" action of invoices) and by batch runs."""

    list_display = ("invoice", "to", "status", "bulk", "sent_at")
    list_filter = ("status", "bulk")
    raw_id_fields = ("invoice", "batch_run", "template")
