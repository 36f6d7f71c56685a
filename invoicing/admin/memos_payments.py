"""Admin for credit memos, debit memos and payments.

A draft memo and its lines are written together: `credit_memo_create` / `debit_memo_create`
on the add page, `credit_memo_update` / `debit_memo_update` on the change page (the lines
shown replace the memo's lines; amounts are quantity × unit price, rounded), and
`credit_memo_draft_delete` / `debit_memo_draft_delete` on the delete page. Posting and
invoicing are actions calling `credit_memo_post`, `debit_memo_post` and `debit_memo_invoice`.
A payment is recorded through `payment_record` (also an action of invoices).

Posted memos and payments are final: read-only, with no Delete. Memo lines, their taxes and
credit applications are written by the services only; lines are edited on their memo's page.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_actions import (
    TIMESTAMPS,
    NoBulkDeleteMixin,
    ReadOnlyAdmin,
    ServiceAdmin,
    adopt,
    kept_rows,
    run_service,
)
from core.admin_money import MoneyAdminMixin
from core.money import money_display
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    Payment,
    Receipt,
    Refund,
)
from invoicing.pdf import (
    credit_memo_pdf_filename,
    debit_memo_pdf_filename,
    render_credit_memo_pdf,
    render_debit_memo_pdf,
)
from invoicing.services.credits import (
    credit_application_unapply,
    credit_memo_apply,
    credit_memo_void,
)
from invoicing.services.memos import (
    credit_memo_create,
    credit_memo_draft_delete,
    credit_memo_post,
    credit_memo_update,
    debit_memo_create,
    debit_memo_draft_delete,
    debit_memo_invoice,
    debit_memo_post,
    debit_memo_update,
)
from invoicing.services.payments import payment_record, payment_refund, payment_reverse


class MemoAdmin(NoBulkDeleteMixin, ServiceAdmin):
    """A memo written with its lines in one service call, editable while it is a draft. Its
    PDF (invoicing.pdf, the invoice's renderer) is linked from the list and the change page
    and served at `<id>/pdf/` (inline; `?download=1` for a file) to whoever may view memos."""

    def render_pdf(self, memo) -> tuple[bytes, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_pdf"
        view = self.admin_site.admin_view(self.pdf_view)
        return [path("<path:object_id>/pdf/", view, name=name), *super().get_urls()]

    def pdf_view(self, request, object_id):
        memo = self.get_object(request, object_id)
        if memo is None:
            raise Http404(f"{self.opts.verbose_name.capitalize()} {object_id} does not exist.")
        if not self.has_view_permission(request, memo):
            raise PermissionDenied
        data, filename = self.render_pdf(memo)
        response = HttpResponse(data, content_type="application/pdf")
        disposition = "attachment" if request.GET.get("download") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
        return response

    @admin.display(description="PDF")
    def pdf_link(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "—"
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_pdf", args=[obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">View PDF</a> · '
            '<a href="{}?download=1">Download</a>',
            url,
            url,
        )

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != obj.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != obj.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        """Nothing yet: the memo is written with its lines, in save_related."""

    def save_related(self, request, form, formsets, change):
        (lines_formset,) = formsets
        memo = form.instance
        lines = kept_rows(lines_formset, self.line_fields)
        lines_changed = lines_formset.has_changed() or bool(lines_formset.deleted_forms)
        if change:
            saved = self.memo_update(memo, form, lines if lines_changed else None)
        else:
            saved = self.memo_create(memo, lines)
        adopt(memo, saved)


# --- credit memos ----------------------------------------------------------------------------


class CreditMemoLineInline(MoneyAdminMixin, admin.TabularInline):
    """Typed in while the memo is a draft (amount = quantity × unit price); read-only after."""

    model = CreditMemoLine
    money_currency = "credit_memo.currency"
    extra = 0
    fields = (
        "name",
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "amount",
        "tax_amount",
    )
    readonly_fields = ("amount",)
    can_delete = True

    def _draft(self, obj) -> bool:
        return obj is None or obj.status == CreditMemo.Status.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._draft(obj) and super().has_delete_permission(request, obj)


@admin.register(CreditMemo)
class CreditMemoAdmin(MemoAdmin):
    list_display = (
        "__str__",
        "account",
        "invoice",
        "status",
        "memo_date",
        "currency",
        "total",
        "balance",
        "pdf_link",
    )
    list_filter = ("status", "currency")
    list_select_related = ("account", "invoice")
    search_fields = ("=number", "account__name", "invoice__number")
    raw_id_fields = ("account", "invoice", "legal_entity")
    readonly_fields = (
        "number",
        "status",
        "source",
        "posted_date",
        "total_charges",
        "total_tax",
        "total",
        "balance",
    )
    inlines = (CreditMemoLineInline,)
    actions = ("post_credit_memos", "apply_credit_memos", "void_credit_memos")
    line_fields = ("name", "period_start", "period_end", "quantity", "unit_price", "tax_amount")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # The account, seller, currency and credited invoice are fixed when the memo is made.
        return (
            *self.readonly_fields,
            "account",
            "legal_entity",
            "currency",
            "invoice",
            "pdf_link",
        )

    def render_pdf(self, memo) -> tuple[bytes, str]:
        return render_credit_memo_pdf(memo), credit_memo_pdf_filename(memo)

    def memo_create(self, memo, lines):
        return credit_memo_create(
            account_id=memo.account_id,
            lines=lines,
            memo_date=memo.memo_date,
            reason=memo.reason,
            reason_code=memo.reason_code,
            currency=memo.currency,
            legal_entity_id=memo.legal_entity_id,
            invoice_id=memo.invoice_id,
        )

    def memo_update(self, memo, form, lines):
        changed = form.changed_data
        return credit_memo_update(
            credit_memo_id=memo.pk,
            memo_date=memo.memo_date if "memo_date" in changed else None,
            reason=memo.reason if "reason" in changed else None,
            reason_code=memo.reason_code if "reason_code" in changed else None,
            lines=lines,
        )

    def service_delete(self, request, obj):
        credit_memo_draft_delete(credit_memo_id=obj.pk)

    @admin.action(description="Post selected draft credit memos", permissions=["change"])
    def post_credit_memos(self, request, queryset):
        posted = []
        for memo in queryset.filter(status=CreditMemo.Status.DRAFT).order_by("id"):
            result = run_service(
                self, request, str(memo), lambda m=memo: credit_memo_post(credit_memo_id=m.pk)
            )
            if result is not None:
                posted.append(str(result))
        self.message_user(
            request,
            f"{len(posted)} credit memo(s) posted" + (f": {', '.join(posted)}." if posted else "."),
            messages.SUCCESS if posted else messages.WARNING,
        )

    @admin.action(
        description="Void selected posted, unapplied credit memos (offsetting debit memo)",
        permissions=["change"],
    )
    def void_credit_memos(self, request, queryset):
        done = []
        for memo in queryset.order_by("id"):
            result = run_service(
                self,
                request,
                str(memo),
                lambda m=memo: credit_memo_void(
                    credit_memo_id=m.pk, voided_by=request.user.get_username()
                ),
            )
            if result is not None:
                done.append(f"{result.credit_memo} (offset by {result.debit_memo})")
        if done:
            self.message_user(request, f"Voided: {'; '.join(done)}.", messages.SUCCESS)

    @admin.action(
        description="Apply the credit left of selected posted memos to the invoice each credits",
        permissions=["change"],
    )
    def apply_credit_memos(self, request, queryset):
        """credit_memo_apply to the memo's own invoice, as much as both allow (the staff UI's
        invoice page applies to any invoice of the account, with an amount)."""
        applied = []
        for memo in queryset.order_by("id"):
            if memo.invoice_id is None:
                self.message_user(
                    request,
                    f"{memo}: it names no invoice; apply it from the invoice's page in the staff "
                    "UI or with the API (credit-memos/{id}/apply).",
                    messages.WARNING,
                )
                continue
            rows = run_service(
                self,
                request,
                str(memo),
                lambda m=memo: credit_memo_apply(
                    credit_memo_id=m.pk,
                    applications=[{"invoice": m.invoice_id}],
                    applied_by=request.user.get_username(),
                ),
            )
            applied += [
                f"{money_display(r.amount, memo.currency)} of {memo} to {r.invoice}"
                for r in rows or []
            ]
        if applied:
            self.message_user(request, f"Applied: {'; '.join(applied)}.", messages.SUCCESS)


# --- debit memos -----------------------------------------------------------------------------


class DebitMemoLineInline(CreditMemoLineInline):
    model = DebitMemoLine
    money_currency = "debit_memo.currency"
    fields = ("product", "name", "quantity", "unit_price", "amount", "taxable", "tax_code")
    raw_id_fields = ("product",)

    def _draft(self, obj) -> bool:
        return obj is None or obj.status == DebitMemo.Status.DRAFT


@admin.register(DebitMemo)
class DebitMemoAdmin(MemoAdmin):
    list_display = (
        "__str__",
        "account",
        "status",
        "memo_date",
        "next_billing_date",
        "currency",
        "total",
        "invoice",
        "pdf_link",
    )
    list_filter = ("status", "currency")
    list_select_related = ("account", "invoice")
    raw_id_fields = ("account", "invoice", "legal_entity")
    readonly_fields = ("number", "status", "total", "invoice", *TIMESTAMPS)
    inlines = (DebitMemoLineInline,)
    actions = ("post_debit_memos", "invoice_debit_memos")
    line_fields = ("product", "name", "quantity", "unit_price", "taxable", "tax_code")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "account", "legal_entity", "currency", "pdf_link")

    def render_pdf(self, memo) -> tuple[bytes, str]:
        return render_debit_memo_pdf(memo), debit_memo_pdf_filename(memo)

    @staticmethod
    def _line(row: dict) -> dict:
        product = row.pop("product", None)
        return {**row, "product_id": product.pk if product else None}

    def memo_create(self, memo, lines):
        return debit_memo_create(
            account_id=memo.account_id,
            lines=[self._line(line) for line in lines],
            memo_date=memo.memo_date,
            next_billing_date=memo.next_billing_date,
            reason=memo.reason,
            currency=memo.currency,
            legal_entity_id=memo.legal_entity_id,
        )

    def memo_update(self, memo, form, lines):
        changed = form.changed_data
        return debit_memo_update(
            debit_memo_id=memo.pk,
            memo_date=memo.memo_date if "memo_date" in changed else None,
            next_billing_date=memo.next_billing_date if "next_billing_date" in changed else None,
            reason=memo.reason if "reason" in changed else None,
            lines=None if lines is None else [self._line(line) for line in lines],
        )

    def service_delete(self, request, obj):
        debit_memo_draft_delete(debit_memo_id=obj.pk)

    @admin.action(description="Post selected draft debit memos", permissions=["change"])
    def post_debit_memos(self, request, queryset):
        posted = []
        for memo in queryset.filter(status=DebitMemo.Status.DRAFT).order_by("id"):
            if run_service(
                self, request, str(memo), lambda m=memo: debit_memo_post(debit_memo_id=m.pk)
            ):
                posted.append(str(memo))
        self.message_user(
            request,
            f"{len(posted)} debit memo(s) posted; the next generation reaching their next "
            "billing date invoices them.",
            messages.SUCCESS if posted else messages.WARNING,
        )

    @admin.action(
        description="Invoice selected posted debit memos now (a draft of their own)",
        permissions=["change"],
    )
    def invoice_debit_memos(self, request, queryset):
        made = []
        for memo in queryset.order_by("id"):
            invoice = run_service(
                self, request, str(memo), lambda m=memo: debit_memo_invoice(debit_memo_id=m.pk)
            )
            if invoice is not None:
                made.append(f"{memo} → draft invoice #{invoice.pk}")
        if made:
            self.message_user(request, "; ".join(made) + ".", messages.SUCCESS)


# --- written with their memo, or by the services --------------------------------------------

# Where a memo row's currency is.
MEMO_CURRENCY = {
    CreditMemoLine: "credit_memo.currency",
    CreditMemoLineTax: "line.credit_memo.currency",
    CreditMemoApplication: "credit_memo.currency",
    DebitMemoLine: "debit_memo.currency",
}


@admin.register(CreditMemoLine, CreditMemoLineTax, DebitMemoLine)
class MemoChildAdmin(ReadOnlyAdmin):
    """Memo lines are edited on their draft memo's page; line taxes and credit applications
    are written by the services."""

    @property
    def money_currency(self) -> str:
        return MEMO_CURRENCY[self.model]

    def get_list_select_related(self, request):
        # What the rows' names (__str__) and amounts read.
        related = [MEMO_CURRENCY[self.model].rsplit(".", 1)[0].replace(".", "__")]
        return [*related, "invoice"] if self.model is CreditMemoApplication else related

    def get_raw_id_fields(self, request):
        return [f.name for f in self.model._meta.fields if f.is_relation]


@admin.register(CreditMemoApplication)
class CreditApplicationAdmin(MemoChildAdmin):
    """Written by credit_memo_apply; unapplied (the row kept and stamped) by
    credit_application_unapply."""

    list_display = ("__str__", "applied_by", "unapplied_at", "unapplied_by")
    list_filter = (("unapplied_at", admin.EmptyFieldListFilter),)
    actions = ("unapply_applications",)

    def has_unapply_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.change_creditmemoapplication")

    @admin.action(description="Unapply selected credit applications", permissions=["unapply"])
    def unapply_applications(self, request, queryset):
        done = []
        for application in queryset.order_by("id"):
            result = run_service(
                self,
                request,
                str(application),
                lambda a=application: credit_application_unapply(
                    application_id=a.pk, unapplied_by=request.user.get_username()
                ),
            )
            if result is not None:
                done.append(str(result))
        if done:
            self.message_user(request, f"Unapplied: {'; '.join(done)}.", messages.SUCCESS)


# --- payments ------------------------------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(NoBulkDeleteMixin, ServiceAdmin):
    """Recorded through payment_record (balance and settlement status follow); final."""

    list_display = ("invoice", "account", "payment_date", "amount", "currency", "reference")
    list_select_related = ("invoice", "account")
    raw_id_fields = ("invoice", "saved_payment_method")
    search_fields = ("invoice__number", "reference")
    fields = ("invoice", "amount", "payment_date", "saved_payment_method", "reference")

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (*self.fields, "account", "currency", "recorded_by", *TIMESTAMPS)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def service_create(self, request, obj, form):
        return payment_record(
            invoice_id=obj.invoice_id,
            amount=obj.amount,
            payment_date=obj.payment_date,
            saved_payment_method_id=obj.saved_payment_method_id,
            reference=obj.reference,
            recorded_by=request.user.username,
        )


class RefundInline(admin.TabularInline):
    model = Refund
    fields = ("refund_date", "amount", "reason", "refunded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds are recorded by payment_refund (the payment's page, the API, the command)."""

    list_display = ("__str__", "receipt", "refund_date", "amount", "reason", "refunded_by")
    list_select_related = ("receipt",)
    raw_id_fields = ("receipt",)
    money_currency = "receipt.currency"


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    """Payments received: recorded, allocated and refunded by the services (the staff UI's
    account and payment pages, the API's payments/, `manage.py payment`); reversed here."""

    list_display = (
        "__str__",
        "account",
        "payment_date",
        "method",
        "amount",
        "unallocated",
        "refunded",
        "status",
    )
    list_filter = ("status", "method", "currency")
    list_select_related = ("account",)
    search_fields = ("reference", "account__name")
    inlines = (RefundInline,)
    actions = ("refund_unallocated", "reverse_payments")
    money_currency = "currency"

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.change_payment")

    @admin.action(
        description="Refund what is unallocated of selected payments", permissions=["reverse"]
    )
    def refund_unallocated(self, request, queryset):
        done = []
        for receipt in queryset.filter(unallocated__gt=0).order_by("id"):
            refund = run_service(
                self,
                request,
                str(receipt),
                lambda r=receipt: payment_refund(
                    receipt_id=r.pk,
                    amount=r.unallocated,
                    reason="Refunded in the admin",
                    refunded_by=request.user.get_username(),
                ),
            )
            if refund is not None:
                done.append(f"{money_display(refund.amount, receipt.currency)} of {receipt}")
        self.message_user(
            request,
            f"Refunded: {'; '.join(done)}." if done else "Nothing unallocated to refund.",
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(
        description="Reverse selected payments (recorded in error)", permissions=["reverse"]
    )
    def reverse_payments(self, request, queryset):
        done = []
        for receipt in queryset.order_by("id"):
            result = run_service(
                self,
                request,
                str(receipt),
                lambda r=receipt: payment_reverse(
                    receipt_id=r.pk,
                    reason="Reversed in the admin",
                    reversed_by=request.user.get_username(),
                ),
            )
            if result is not None:
                done.append(str(result))
        if done:
            self.message_user(request, f"Reversed: {'; '.join(done)}.", messages.SUCCESS)
