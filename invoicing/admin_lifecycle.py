"""Admin doors of the invoice lifecycle: void, email, PDF, payments, draft edits and deletes,
credit and debit memo posting. Every action calls the same service as the API and commands.

Imported at the end of invoicing/admin.py; it replaces the Invoice, CreditMemo and DebitMemo
admins registered there with subclasses that add these actions.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import SavedPaymentMethod
from core.admin_actions import run_service
from core.money import money_display
from invoicing.admin import (
    CreditMemoAdmin,
    CreditMemoLineInline,
    DebitMemoAdmin,
    InvoiceAdmin,
)
from invoicing.models import CreditMemo, DebitMemo, Invoice, InvoiceStatus
from invoicing.services.documents import invoice_document_render
from invoicing.services.drafts import invoice_draft_delete, invoice_update
from invoicing.services.email import invoice_email_send
from invoicing.services.memos import (
    credit_memo_post,
    debit_memo_invoice,
    debit_memo_post,
    debit_memo_totals_refresh,
)
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void

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


class DeleteDraftsForm(forms.Form):
    confirm = forms.BooleanField(label="Delete these drafts", required=True, initial=False)


class VoidForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=255, help_text="Shown on the credit memo (optional)."
    )
    confirm = forms.BooleanField(
        label="I understand the consequences above", required=True, initial=False
    )


class PaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=19, decimal_places=4, min_value=0)
    payment_date = forms.DateField(initial=timezone.localdate, help_text="YYYY-MM-DD")
    saved_payment_method = forms.ModelChoiceField(
        queryset=SavedPaymentMethod.objects.none(), required=False
    )
    reference = forms.CharField(required=False, max_length=100)


def _form_page(modeladmin, request, queryset, *, title, intro, form, action_name, submit):
    return TemplateResponse(
        request,
        "admin/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "form": form,
            "action_name": action_name,
            "submit_label": submit,
        },
    )


admin.site.unregister(Invoice)


@admin.register(Invoice)
class InvoiceLifecycleAdmin(InvoiceAdmin):
    actions = (
        *InvoiceAdmin.actions,
        "void_invoices",
        "send_invoice_emails",
        "regenerate_pdfs",
        "record_payment",
        "delete_drafts",
    )

    # --- actions --------------------------------------------------------------------------

    @admin.action(description="Void selected posted invoices…", permissions=["change"])
    def void_invoices(self, request, queryset):
        form = VoidForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _form_page(
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
            return _form_page(
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

    # --- draft edits and deletes go through the services -----------------------------------

    HEADER_FIELDS = ("invoice_date", "description", "bill_to")

    def save_model(self, request, obj, form, change):
        """A draft's invoice date, description and bill-to go through invoice_update (due
        date and estimated tax follow). The admin saves inside its own transaction and the
        service runs in a durable one of its own, so it runs just after that commit."""
        if not change or obj.status != InvoiceStatus.DRAFT:
            return super().save_model(request, obj, form, change)
        changed = [f for f in form.changed_data if f in self.HEADER_FIELDS]
        original = Invoice.objects.get(pk=obj.pk)
        values = {f: getattr(obj, f) for f in changed}
        for f in changed:
            setattr(obj, f, getattr(original, f))
        super().save_model(request, obj, form, change)
        if not changed:
            return None
        kwargs = {}
        if "invoice_date" in values:
            kwargs["invoice_date"] = values["invoice_date"]
        if "description" in values:
            kwargs["description"] = values["description"]
        if "bill_to" in values:
            kwargs["bill_to_id"] = values["bill_to"].pk if values["bill_to"] else None
        transaction.on_commit(
            lambda: run_service(
                self, request, str(obj), lambda: invoice_update(invoice_id=obj.pk, **kwargs)
            )
        )
        return None

    @admin.action(
        description="Delete selected drafts and release their billing periods…",
        permissions=["delete"],
    )
    def delete_drafts(self, request, queryset):
        """The delete page keeps refusing drafts with billed periods (a bare delete would
        leave them live); this action deletes through invoice_draft_delete, which releases
        them and rolls the schedules back."""
        form = DeleteDraftsForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _form_page(
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


# --- memos ----------------------------------------------------------------------------------


class DraftCreditMemoLineInline(CreditMemoLineInline):
    """Lines are typed in while the memo is a draft; afterwards they are read-only."""

    readonly_fields = ()

    def has_add_permission(self, request, obj=None) -> bool:
        return obj is None or obj.status == CreditMemo.Status.DRAFT

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None or obj.status == CreditMemo.Status.DRAFT

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != CreditMemo.Status.DRAFT:
            return self.fields
        return ()


admin.site.unregister(CreditMemo)


@admin.register(CreditMemo)
class CreditMemoLifecycleAdmin(CreditMemoAdmin):
    inlines = (DraftCreditMemoLineInline,)
    readonly_fields = (
        "number",
        "status",
        "posted_date",
        "total_charges",
        "total_tax",
        "total",
        "balance",
    )
    actions = (*(CreditMemoAdmin.actions or ()), "post_credit_memos")

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != CreditMemo.Status.DRAFT:
            return False
        return admin.ModelAdmin.has_change_permission(self, request, obj)

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


admin.site.unregister(DebitMemo)


@admin.register(DebitMemo)
class DebitMemoLifecycleAdmin(DebitMemoAdmin):
    readonly_fields = ("status", *DebitMemoAdmin.readonly_fields)
    actions = (*(DebitMemoAdmin.actions or ()), "post_debit_memos", "invoice_debit_memos")

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != DebitMemo.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        debit_memo_totals_refresh(debit_memo_id=form.instance.pk)

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
