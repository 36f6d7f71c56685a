"""Invoices: filtered list with number search; detail with lines, taxes, totals, payments,
credit memos, documents and email history; actions post, void (after a confirmation page),
send email, record a payment, edit a draft (header, adjustment lines, delete)."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from core.exceptions import DomainError
from core.money import money_display
from invoicing.models import (
    CreditMemo,
    Invoice,
    InvoiceDocument,
    InvoiceEmail,
    InvoiceLine,
    InvoiceStatus,
    Payment,
)
from invoicing.pdf import render_invoice_pdf
from invoicing.services.posting import invoice_post
from web import selectors
from web.forms import (
    AdjustmentForm,
    DraftEditForm,
    EmailForm,
    InvoiceFilterForm,
    PaymentForm,
    VoidForm,
)
from web.optional import available, service
from web.views.base import ActionView, FormPageView, PageView, actor, call_service, paginate

ACTIONS = ("void", "payment", "email", "pdf", "draft_update", "adjustment_add", "draft_delete")


def line_tree(lines: list[InvoiceLine]) -> list[tuple[InvoiceLine, int]]:
    """Lines in sort order with bundle children right under their parent: (line, depth)."""
    children: dict[int | None, list[InvoiceLine]] = defaultdict(list)
    ids = {line.pk for line in lines}
    for line in lines:
        parent = line.parent_line_id if line.parent_line_id in ids else None
        children[parent].append(line)
    out: list[tuple[InvoiceLine, int]] = []

    def walk(parent, depth):
        for line in children.get(parent, []):
            out.append((line, depth))
            walk(line.pk, depth + 1)

    walk(None, 0)
    return out


def tax_summary(lines: list[InvoiceLine]) -> list[dict]:
    """One row per tax (name, code, rate, kind): taxable amount and tax, summed over lines."""
    rows: dict[tuple, dict] = {}
    for line in lines:
        for tax in line.taxes.all():
            key = (tax.name, tax.code, tax.rate, tax.kind)
            row = rows.setdefault(
                key,
                {
                    "name": tax.name,
                    "code": tax.code,
                    "rate": tax.rate,
                    "kind": tax.kind,
                    "status": tax.status,
                    "taxable": Decimal(0),
                    "amount": Decimal(0),
                },
            )
            row["taxable"] += tax.taxable_amount
            row["amount"] += tax.amount
    return list(rows.values())


class InvoiceListView(PageView):
    template_name = "web/invoices/list.html"
    nav = "invoices"
    title = "Invoices"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = InvoiceFilterForm(self.request.GET)
        data = form.cleaned_data if form.is_valid() else {}
        qs = selectors.invoice_list(
            number=data.get("number", ""),
            status=data.get("status", ""),
            account=data.get("account", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            run=data.get("run"),
            currency=data.get("currency", ""),
        )
        context.update(form=form, page=paginate(self.request, qs))
        return context


def _invoice(pk) -> Invoice:
    return get_object_or_404(
        Invoice.objects.select_related(
            "account",
            "legal_entity",
            "bill_to",
            "payment_term",
            "saved_payment_method",
            "reference_order",
            "batch_run",
        ),
        pk=pk,
    )


class InvoiceDetailView(PageView):
    template_name = "web/invoices/detail.html"
    nav = "invoices"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        lines = list(invoice.lines.select_related("unit", "product").prefetch_related("taxes"))
        credit_memos = CreditMemo.objects.filter(invoice=invoice).order_by("id")
        context.update(
            title=str(invoice),
            invoice=invoice,
            currency=invoice.currency,
            lines=line_tree(lines),
            taxes=tax_summary(lines),
            addresses=list(invoice.addresses.order_by("kind")),
            payments=Payment.objects.filter(invoice=invoice)
            .select_related("saved_payment_method")
            .order_by("payment_date", "id"),
            credit_memos=credit_memos,
            credit_applications=invoice.credit_applications.select_related("credit_memo").order_by(
                "applied_date", "id"
            ),
            documents=InvoiceDocument.objects.filter(invoice=invoice).order_by("-version"),
            emails=InvoiceEmail.objects.filter(invoice=invoice).order_by("-id"),
            errors=selectors.error_logs_for([invoice]),
            actions=available(*ACTIONS),
            email_form=EmailForm(),
            is_draft=invoice.status == InvoiceStatus.DRAFT,
            is_posted=invoice.status == InvoiceStatus.POSTED,
        )
        return context


class InvoicePdfView(PageView):
    """The invoice PDF: shown in the browser, or downloaded with ?download=1."""

    def get(self, request, *args, **kwargs):
        invoice = get_object_or_404(Invoice, pk=kwargs["pk"])
        pdf_bytes = service("pdf")
        try:
            if pdf_bytes is not None:
                data, filename = pdf_bytes(invoice_id=invoice.pk)
            else:
                data = render_invoice_pdf(invoice)
                label = invoice.number or f"draft-invoice-{invoice.pk}"
                filename = re.sub(r"[^A-Za-z0-9_-]", "-", label) + ".pdf"
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("web:invoice_detail", args=[invoice.pk]))
        response = HttpResponse(data, content_type="application/pdf")
        disposition = "attachment" if request.GET.get("download") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
        return response


class InvoicePostView(ActionView):
    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        posted = call_service(
            request, lambda: invoice_post(invoice_id=invoice.pk, posted_by=actor(request))
        )
        if posted is not None:
            messages.success(request, f"Invoice posted as {posted.number}.")
        return reverse("web:invoice_detail", args=[invoice.pk])


class InvoiceVoidView(FormPageView):
    """GET: the confirmation page stating what a void does. POST: invoice_void."""

    template_name = "web/invoices/void.html"
    nav = "invoices"
    title = "Void invoice"

    def dispatch(self, request, *args, **kwargs):
        self.void = service("void")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        context.update(
            invoice=invoice,
            form=kwargs.get("form") or VoidForm(),
            available=self.void is not None,
            period_count=invoice.period_items.filter(invoice_status="posted").count(),
            schedule_count=invoice.period_items.values("schedule_id").distinct().count(),
        )
        return context

    def post(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        back = reverse("web:invoice_detail", args=[invoice.pk])
        if self.void is None:
            messages.error(request, "Voiding is not available on this installation.")
            return HttpResponseRedirect(back)
        form = VoidForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        result = call_service(
            request,
            lambda: self.void(
                invoice_id=invoice.pk, voided_by=actor(request), reason=form.cleaned_data["reason"]
            ),
        )
        if result is not None:
            memo = result.credit_memo
            messages.success(
                request,
                f"Invoice {result.invoice} voided; credit memo {memo} credits it in full.",
            )
        return HttpResponseRedirect(back)


class InvoiceEmailView(ActionView):
    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        back = reverse("web:invoice_detail", args=[invoice.pk])
        send = service("email")
        if send is None:
            messages.error(request, "Sending invoice emails is not available on this installation.")
            return back
        form = EmailForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
            return back
        to = form.cleaned_data["to"] or None
        email = call_service(request, lambda: send(invoice_id=invoice.pk, to=to))
        if email is not None:
            if email.status == InvoiceEmail.Status.FAILED:
                messages.error(
                    request, f"Email to {email.to or '(no recipient)'} failed: {email.error}"
                )
            else:
                messages.success(
                    request, f"Email to {email.to}: {email.get_status_display().lower()}."
                )
        return back


class InvoicePaymentView(FormPageView):
    template_name = "web/invoices/payment.html"
    nav = "invoices"
    title = "Record a payment"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        context.update(
            invoice=invoice,
            form=kwargs.get("form") or PaymentForm(invoice=invoice),
            available=service("payment") is not None,
        )
        return context

    def post(self, request, pk):
        invoice = _invoice(pk)
        record = service("payment")
        back = reverse("web:invoice_detail", args=[invoice.pk])
        if record is None:
            messages.error(request, "Recording payments is not available on this installation.")
            return HttpResponseRedirect(back)
        form = PaymentForm(request.POST, invoice=invoice)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        payment = call_service(
            request,
            lambda: record(
                invoice_id=invoice.pk,
                amount=data["amount"],
                payment_date=data["payment_date"],
                saved_payment_method_id=data["saved_payment_method"],
                reference=data["reference"],
                recorded_by=actor(request),
            ),
        )
        if payment is None:
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        messages.success(
            request, f"Payment of {money_display(payment.amount, payment.currency)} recorded."
        )
        return HttpResponseRedirect(back)


class InvoiceEditView(FormPageView):
    """Edit a draft: its header (invoice_update); the page also lists the lines with their
    remove buttons, the add-adjustment form and the delete button."""

    template_name = "web/invoices/edit.html"
    nav = "invoices"
    title = "Edit draft invoice"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        lines = list(invoice.lines.select_related("unit").prefetch_related("taxes"))
        context.update(
            invoice=invoice,
            currency=invoice.currency,
            lines=line_tree(lines),
            form=kwargs.get("form") or DraftEditForm(invoice=invoice),
            adjustment_form=kwargs.get("adjustment_form") or AdjustmentForm(),
            actions=available(*ACTIONS),
            is_draft=invoice.status == InvoiceStatus.DRAFT,
        )
        return context

    def post(self, request, pk):
        invoice = _invoice(pk)
        update = service("draft_update")
        form = DraftEditForm(request.POST, invoice=invoice)
        if update is None or not form.is_valid():
            if update is None:
                messages.error(request, "Editing drafts is not available on this installation.")
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        done = call_service(
            request,
            lambda: update(
                invoice_id=invoice.pk,
                invoice_date=data["invoice_date"],
                due_date=data["due_date"],
                description=data["description"],
                bill_to_id=data["bill_to"],
            ),
            success="Draft saved; tax and totals recomputed.",
        )
        if done is None:
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        return HttpResponseRedirect(reverse("web:invoice_detail", args=[invoice.pk]))


class AdjustmentAddView(FormPageView):
    template_name = "web/invoices/edit.html"
    nav = "invoices"
    http_method_names = ["post"]

    def post(self, request, pk):
        invoice = _invoice(pk)
        add = service("adjustment_add")
        form = AdjustmentForm(request.POST)
        edit = reverse("web:invoice_edit", args=[invoice.pk])
        if add is None:
            messages.error(request, "Adjustment lines are not available on this installation.")
            return HttpResponseRedirect(edit)
        if not form.is_valid():
            return self._again(pk, form)
        data = form.cleaned_data
        line = call_service(
            request,
            lambda: add(
                invoice_id=invoice.pk,
                name=data["name"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
                description=data["description"],
                taxable=data["taxable"],
            ),
        )
        if line is None:
            return self._again(pk, form)
        messages.success(request, f"Adjustment '{line.name}' added; tax and totals recomputed.")
        return HttpResponseRedirect(edit)

    def _again(self, pk, form):
        view = InvoiceEditView()
        view.setup(self.request, pk=pk)
        return view.render_to_response(view.get_context_data(pk=pk, adjustment_form=form))


class AdjustmentRemoveView(ActionView):
    def act(self, request, pk, line_pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        remove = service("adjustment_remove")
        if remove is None:
            messages.error(request, "Adjustment lines are not available on this installation.")
        else:
            call_service(
                request,
                lambda: remove(invoice_id=invoice.pk, line_id=line_pk),
                success="Adjustment removed; tax and totals recomputed.",
            )
        return reverse("web:invoice_edit", args=[invoice.pk])


class DraftDeleteView(ActionView):
    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        delete = service("draft_delete")
        if delete is None:
            messages.error(request, "Deleting drafts is not available on this installation.")
            return reverse("web:invoice_detail", args=[invoice.pk])
        label, account_id = str(invoice), invoice.account_id
        done = call_service(request, lambda: delete(invoice_id=invoice.pk) or True)
        if done is None:
            return reverse("web:invoice_detail", args=[invoice.pk])
        messages.success(
            request,
            f"{label} deleted; its periods are released and will be billed by the next generation.",
        )
        return reverse("web:account_detail", args=[account_id])
