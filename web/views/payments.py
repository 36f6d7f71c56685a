"""Payments received (receipts): record one on an account, allocated over its open invoices
(the rest kept as unallocated credit); its page allocates what is left, refunds it (after a
confirmation) or reverses a payment recorded in error (after a confirmation)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from accounts import selectors as account_selectors
from core.money import money_display
from invoicing import selectors
from invoicing.models import Receipt
from invoicing.services.payments import (
    payment_allocate,
    payment_receive,
    payment_refund,
    payment_reverse,
    payment_unallocate,
)
from web.forms import AllocateForm, ReceiptForm, RefundForm
from web.views.base import (
    ActionView,
    FormPageView,
    PageView,
    actor,
    call_service,
    call_service_form,
    get_or_404,
)
from web.views.confirm import Confirmation, ConfirmedActionView


class ReceiptNewView(FormPageView):
    template_name = "web/payments/new.html"
    nav = "accounts"
    title = "Receive a payment"

    def _form(self, account, data=None) -> ReceiptForm:
        invoices = list(
            selectors.invoice_list_open_for_account(account=account, currency=account.currency)
        )
        return ReceiptForm(data, account=account, invoices=invoices)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = get_or_404(account_selectors.account_get, account_id=kwargs["pk"])
        context.update(account=account, form=kwargs.get("form") or self._form(account))
        return context

    def post(self, request, pk):
        account = get_or_404(account_selectors.account_get, account_id=pk)
        form = self._form(account, request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        receipt = call_service_form(
            request,
            form,
            lambda: payment_receive(
                account_id=account.pk,
                amount=data["amount"],
                currency=account.currency,
                payment_date=data["payment_date"],
                method=data["method"],
                saved_payment_method_id=data["saved_payment_method"],
                reference=data["reference"],
                allocations=data["allocations"],
                recorded_by=actor(request),
            ),
        )
        if receipt is None:
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        receipt.refresh_from_db()
        messages.success(
            request,
            f"{receipt} recorded; "
            + (
                f"{money_display(receipt.unallocated, receipt.currency)} is kept as unallocated "
                "credit."
                if receipt.unallocated
                else "all of it is allocated."
            ),
        )
        return HttpResponseRedirect(reverse("web:receipt_detail", args=[receipt.pk]))


class ReceiptDetailView(PageView):
    template_name = "web/payments/detail.html"
    nav = "accounts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        receipt = get_object_or_404(
            selectors.receipt_list().select_related("account"), pk=kwargs["pk"]
        )
        open_invoices = list(
            selectors.invoice_list_open_for_account(
                account=receipt.account, currency=receipt.currency
            )
        )
        context.update(
            title=str(receipt),
            receipt=receipt,
            allocations=receipt.allocations.select_related("invoice").order_by("id"),
            refunds=receipt.refunds.order_by("id"),
            allocate_form=AllocateForm(receipt=receipt, invoices=open_invoices),
            has_open_invoices=bool(open_invoices),
            refund_form=RefundForm(receipt=receipt),
        )
        return context


class ReceiptAllocateView(ActionView):
    def act(self, request, pk):
        receipt = get_object_or_404(Receipt, pk=pk)
        form = AllocateForm(
            request.POST,
            receipt=receipt,
            invoices=list(
                selectors.invoice_list_open_for_account(
                    account=receipt.account, currency=receipt.currency
                )
            ),
        )
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else "Allocation"
                messages.error(request, f"{label}: {' '.join(errors)}")
        else:
            rows = call_service(
                request,
                lambda: payment_allocate(
                    receipt_id=pk,
                    allocations=[form.cleaned_data["allocation"]],
                    allocated_by=actor(request),
                ),
            )
            if rows:
                (row,) = rows
                messages.success(
                    request,
                    f"{money_display(row.amount, row.currency)} allocated to {row.invoice}.",
                )
        return reverse("web:receipt_detail", args=[pk])


class ReceiptUnallocateView(ActionView):
    """Take back the payment's allocation to one invoice (payment_unallocate)."""

    def act(self, request, pk, invoice_id):
        receipt = get_object_or_404(Receipt, pk=pk)
        done = call_service(
            request,
            lambda: payment_unallocate(
                receipt_id=pk, invoice_id=invoice_id, unallocated_by=actor(request)
            ),
        )
        if done is not None:
            messages.success(
                request,
                "Allocation taken back: "
                f"{money_display(done.unallocated, receipt.currency)} of the payment is "
                "unallocated now.",
            )
        return reverse("web:receipt_detail", args=[pk])


class ReceiptRefundView(ConfirmedActionView):
    nav = "accounts"

    def confirmation(self, request, pk):
        receipt = get_object_or_404(Receipt, pk=pk)
        form = RefundForm(request.POST, receipt=receipt)
        back = reverse("web:receipt_detail", args=[pk])
        if not form.is_valid():
            return Confirmation(
                question=f"Refund part of {receipt}?",
                facts=[],
                button="",
                back=back,
                figures="",
                refusal=" ".join(
                    f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items()
                ),
            )
        amount = money_display(form.cleaned_data["amount"], receipt.currency)
        return Confirmation(
            question=f"Refund {amount} of {receipt}?",
            facts=[
                f"{amount} is recorded as paid back to {receipt.account.name} on "
                f"{form.cleaned_data['refund_date']:%Y-%m-%d}; it leaves the payment's "
                f"unallocated {money_display(receipt.unallocated, receipt.currency)}.",
                "Record it once the money has actually been sent: a refund is not undone.",
            ],
            button=f"Refund {amount}",
            back=back,
            figures=f"{form.cleaned_data['amount']}|{receipt.unallocated}",
            danger=True,
        )

    def act(self, request, pk):
        receipt = get_object_or_404(Receipt, pk=pk)
        form = RefundForm(request.POST, receipt=receipt)
        if form.is_valid():
            refund = call_service(
                request,
                lambda: payment_refund(
                    receipt_id=pk,
                    amount=form.cleaned_data["amount"],
                    refund_date=form.cleaned_data["refund_date"],
                    reason=form.cleaned_data["reason"],
                    refunded_by=actor(request),
                ),
            )
            if refund is not None:
                messages.success(
                    request, f"Refund of {money_display(refund.amount, receipt.currency)} recorded."
                )
        return reverse("web:receipt_detail", args=[pk])


class ReceiptReverseView(ConfirmedActionView):
    nav = "accounts"

    def confirmation(self, request, pk):
        receipt = get_object_or_404(Receipt, pk=pk)
        allocated = list(receipt.allocations.active().select_related("invoice"))
        return Confirmation(
            question=f"Reverse {receipt}?",
            facts=[
                "The payment is marked reversed (recorded in error); it is kept, with who "
                "reversed it and why.",
                *[
                    f"{money_display(a.amount, a.currency)} allocated to {a.invoice} is taken "
                    "back: the invoice is open again by that amount."
                    for a in allocated
                ],
            ],
            button=f"Reverse {receipt}",
            back=reverse("web:receipt_detail", args=[pk]),
            figures=f"{receipt.amount}|{len(allocated)}",
            refusal=(
                "It has refunds: a payment with refunds is not reversed."
                if receipt.refunded
                else ("It is reversed already." if receipt.status != "received" else "")
            ),
            danger=True,
        )

    def act(self, request, pk):
        done = call_service(
            request,
            lambda: payment_reverse(
                receipt_id=pk,
                reason=request.POST.get("reason", "").strip(),
                reversed_by=actor(request),
            ),
        )
        if done is not None:
            messages.success(request, f"{done} reversed; its allocations are open again.")
        return reverse("web:receipt_detail", args=[pk])
