"""Invoices: filtered list with number search; detail with lines, taxes, totals, payments,
credit memos, documents and email history; actions post, void (after a confirmation page),
send email, record a payment, edit a draft (header, adjustment lines, delete)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts import selectors as account_selectors
from core.einvoice_codes import EInvoiceFormat
from core.exceptions import DomainError
from core.money import money_display, plain
from invoicing import selectors
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    Invoice,
    InvoiceEmail,
    InvoiceLine,
    InvoiceStatus,
)
from invoicing.services.credits import (
    credit_application_unapply,
    credit_memo_apply,
    credit_memo_void,
    invoice_credit,
    invoice_credit_preview,
    invoice_negative_lines_convert,
)
from invoicing.services.documents import invoice_pdf_bytes
from invoicing.services.drafts import (
    invoice_adjustment_add,
    invoice_adjustment_remove,
    invoice_draft_delete,
    invoice_update,
)
from invoicing.services.email import invoice_email_send
from invoicing.services.hosted_links import hosted_link, hosted_link_available
from invoicing.services.memos import credit_memo_create, credit_memo_post
from invoicing.services.payments import payment_record
from invoicing.services.posting import invoice_post
from invoicing.services.void import invoice_void, invoice_void_refusal
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse
from web.forms import (
    AdjustmentForm,
    CreditApplyForm,
    CreditMemoNewForm,
    DraftEditForm,
    EmailForm,
    InvoiceCreditForm,
    InvoiceFilterForm,
    PaymentForm,
    VoidForm,
)
from web.views.base import (
    ActionView,
    FormPageView,
    PageView,
    actor,
    call_service,
    call_service_form,
    filtered_page,
    get_or_404,
)
from web.views.confirm import (
    CONFIRM_FIELD,
    Confirmation,
    ConfirmedActionView,
    confirmation_response,
)


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
    """One row per tax (name, code, rate, kind, VAT category and exemption reason): taxable
    amount and tax, summed over lines."""
    rows: dict[tuple, dict] = {}
    for line in lines:
        for tax in line.taxes.all():
            key = (tax.name, tax.code, tax.rate, tax.kind, tax.vat_category, tax.exemption_reason)
            row = rows.setdefault(
                key,
                {
                    "name": tax.name,
                    "code": tax.code,
                    "rate": tax.rate,
                    "kind": tax.kind,
                    "vat_category": tax.vat_category,
                    "exemption_reason": tax.exemption_reason,
                    "exemption_reason_code": tax.exemption_reason_code,
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
        page = filtered_page(
            self.request,
            form,
            lambda data: selectors.invoice_list(
                number=data["number"],
                status=data["status"],
                account=data["account"],
                date_from=data["date_from"],
                date_to=data["date_to"],
                run=data["run"],
                currency=data["currency"],
            ),
        )
        context.update(form=form, page=page)
        return context


def _invoice(pk) -> Invoice:
    return get_or_404(selectors.invoice_get, invoice_id=pk)


class InvoiceDetailView(PageView):
    template_name = "web/invoices/detail.html"
    nav = "invoices"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["einvoice_formats"] = EInvoiceFormat.choices
        invoice = _invoice(kwargs["pk"])
        lines = selectors.invoice_line_list_for_invoice(invoice=invoice)
        records = selectors.invoice_records_for_invoice(invoice=invoice)
        context.update(
            title=str(invoice),
            invoice=invoice,
            currency=invoice.currency,
            lines=line_tree(lines),
            taxes=tax_summary(lines),
            addresses=selectors.invoice_address_list_for_invoice(invoice=invoice),
            payments=records.payments,
            credit_memos=records.credit_memos,
            credit_applications=records.credit_applications,
            negative_lines=selectors.invoice_negative_lines(invoice=invoice)
            if invoice.status == InvoiceStatus.POSTED
            else [],
            write_off=selectors.invoice_write_off_get(invoice=invoice)
            if invoice.status == InvoiceStatus.POSTED
            else None,
            can_credit=invoice.status == InvoiceStatus.POSTED
            and invoice.balance > 0
            and selectors.credit_memo_list_applicable(invoice=invoice).exists(),
            documents=records.documents,
            emails=records.emails,
            errors=records.errors,
            email_form=EmailForm(),
            is_draft=invoice.status == InvoiceStatus.DRAFT,
            is_posted=invoice.status == InvoiceStatus.POSTED,
            hosted_link=hosted_link(invoice) if hosted_link_available(invoice) else None,
            void_refusal=(
                invoice_void_refusal(invoice) if invoice.status == InvoiceStatus.POSTED else None
            ),
        )
        return context


class InvoicePdfView(PageView):
    """The invoice PDF: shown in the browser, or downloaded with ?download=1."""

    def get(self, request, *args, **kwargs):
        invoice = get_object_or_404(Invoice, pk=kwargs["pk"])
        try:
            data, filename = invoice_pdf_bytes(invoice_id=invoice.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("web:invoice_detail", args=[invoice.pk]))
        response = HttpResponse(data, content_type="application/pdf")
        disposition = "attachment" if request.GET.get("download") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
        return response


class InvoicePostView(ConfirmedActionView):
    """Post a draft after the confirmation page: its amount, its numbering (known only at
    posting), that it cannot be undone. A non-draft goes straight to the service, which
    refuses it with its own message."""

    nav = "invoices"

    def needs_confirmation(self, request, pk):
        return Invoice.objects.filter(pk=pk, status=InvoiceStatus.DRAFT).exists()

    def confirmation(self, request, pk):
        invoice = _invoice(pk)
        amount = money_display(invoice.total, invoice.currency)
        reach = selectors.invoice_post_reach(invoice=invoice, posted_date=timezone.localdate())
        if reach.policy is not None:
            numbering = format_html(
                "It is numbered when it is posted: it takes the next number of sequence "
                "<strong>{}</strong> (pattern {}). The number is only known then.",
                reach.policy.name,
                reach.policy.pattern,
            )
        else:
            numbering = "It is numbered when it is posted."
        return Confirmation(
            question=f"Post invoice for {amount}?",
            facts=[
                format_html(
                    "Draft #{} of <strong>{}</strong>, dated {}, for <strong>{}</strong> "
                    "becomes posted (tax as estimated now; posting computes the actual tax).",
                    invoice.pk,
                    invoice.account.name,
                    invoice.invoice_date.isoformat(),
                    amount,
                ),
                numbering,
                "Posting cannot be undone: a posted invoice is never edited or deleted. A "
                "mistake is corrected by voiding it, which issues a credit memo.",
            ],
            button=f"Post invoice for {amount}",
            back=reverse("web:invoice_detail", args=[invoice.pk]),
            figures=money_display(invoice.total, invoice.currency),
            refusal=f"It cannot be posted now: {reach.refusal}" if reach.refusal else "",
        )

    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        posted = call_service(
            request, lambda: invoice_post(invoice_id=invoice.pk, posted_by=actor(request))
        )
        if posted is not None:
            messages.success(request, f"Invoice posted as {posted.number}.")
        return reverse("web:invoice_detail", args=[invoice.pk])


class InvoiceWriteOffView(ConfirmedActionView):
    """Write off the open balance (invoice_write_off), after a confirmation stating the
    amount and what follows. A note typed on the invoice page is carried through."""

    nav = "invoices"

    def confirmation(self, request, pk):
        invoice = _invoice(pk)
        amount = money_display(invoice.balance, invoice.currency)
        refusal = ""
        if invoice.status != InvoiceStatus.POSTED:
            refusal = f"Only a posted invoice is written off; {invoice} is not posted."
        elif selectors.invoice_write_off_get(invoice=invoice) is not None:
            refusal = f"Invoice {invoice} is written off already."
        elif invoice.balance <= 0:
            refusal = f"Invoice {invoice} has no open balance to write off."
        note = request.POST.get("note", "").strip()
        return Confirmation(
            question=f"Write off {amount} of {invoice}?",
            facts=[
                format_html(
                    "A posted credit memo of <strong>{}</strong> (reason: write-off{}) is applied "
                    "to {} of <strong>{}</strong>: its balance becomes {}.",
                    amount,
                    f"; “{note}”" if note else "",
                    invoice,
                    invoice.account.name,
                    money_display(0, invoice.currency),
                ),
                "The invoice then takes no payment and cannot be voided; the write-off can be "
                "reversed from this page (the memo is then voided and the balance open again).",
                "Tax is not adjusted: the balance is written off as owed, tax included.",
            ],
            button=f"Write off {amount}",
            back=reverse("web:invoice_detail", args=[invoice.pk]),
            figures=amount,
            refusal=refusal,
            danger=True,
        )

    def act(self, request, pk):
        result = call_service(
            request,
            lambda: invoice_write_off(
                invoice_id=pk,
                note=request.POST.get("note", "").strip(),
                written_off_by=actor(request),
            ),
        )
        if result is not None:
            messages.success(
                request,
                f"{money_display(result.amount, result.invoice.currency)} of {result.invoice} "
                f"written off ({result.credit_memo}).",
            )
        return reverse("web:invoice_detail", args=[pk])


class InvoiceWriteOffReverseView(ConfirmedActionView):
    """Reverse the invoice's write-off (invoice_write_off_reverse) after a confirmation."""

    nav = "invoices"

    def confirmation(self, request, pk):
        invoice = _invoice(pk)
        write_off = selectors.invoice_write_off_get(invoice=invoice)
        if write_off is None:
            return Confirmation(
                question=f"Reverse the write-off of {invoice}?",
                facts=[],
                button="",
                back=reverse("web:invoice_detail", args=[invoice.pk]),
                figures="",
                refusal=f"Invoice {invoice} is not written off.",
            )
        amount = money_display(write_off.amount, invoice.currency)
        return Confirmation(
            question=f"Reverse the write-off of {invoice}?",
            facts=[
                f"{amount} is open on {invoice} again and it takes payments again.",
                f"The write-off memo {write_off.credit_memo} is voided: its credit cannot be "
                "applied anywhere else.",
            ],
            button=f"Reverse the write-off of {amount}",
            back=reverse("web:invoice_detail", args=[invoice.pk]),
            figures=amount,
        )

    def act(self, request, pk):
        result = call_service(
            request,
            lambda: invoice_write_off_reverse(invoice_id=pk, reversed_by=actor(request)),
        )
        if result is not None:
            messages.success(
                request,
                f"Write-off of {result.invoice} reversed: "
                f"{money_display(result.amount, result.invoice.currency)} is open again.",
            )
        return reverse("web:invoice_detail", args=[pk])


class InvoiceVoidView(FormPageView):
    """GET: the confirmation page stating what a void does. POST: invoice_void."""

    template_name = "web/invoices/void.html"
    nav = "invoices"
    title = "Void invoice"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        reach = selectors.invoice_void_reach(invoice=invoice)
        context.update(
            invoice=invoice,
            refusal=invoice_void_refusal(invoice),
            form=kwargs.get("form") or VoidForm(),
            period_count=reach.period_count,
            schedule_count=reach.schedule_count,
        )
        return context

    def post(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        back = reverse("web:invoice_detail", args=[invoice.pk])
        form = VoidForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        result = call_service(
            request,
            lambda: invoice_void(
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
        form = EmailForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
            return back
        to = form.cleaned_data["to"] or None
        email = call_service(request, lambda: invoice_email_send(invoice_id=invoice.pk, to=to))
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
        )
        return context

    def post(self, request, pk):
        invoice = _invoice(pk)
        back = reverse("web:invoice_detail", args=[invoice.pk])
        form = PaymentForm(request.POST, invoice=invoice)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        payment = call_service_form(
            request,
            form,
            lambda: payment_record(
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


class InvoiceCreditView(FormPageView):
    """Apply one of the account's posted credit memos to this posted invoice
    (credit_memo_apply); the invoice page lists the applications, each with its unapply."""

    template_name = "web/invoices/credit.html"
    nav = "invoices"
    title = "Apply a credit"

    def _form(self, invoice: Invoice, data=None) -> CreditApplyForm:
        memos = list(selectors.credit_memo_list_applicable(invoice=invoice))
        return CreditApplyForm(data, invoice=invoice, memos=memos)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        form = kwargs.get("form") or self._form(invoice)
        context.update(
            invoice=invoice, form=form, has_memos=bool(form.fields["credit_memo"].choices)
        )
        return context

    def post(self, request, pk):
        invoice = _invoice(pk)
        form = self._form(invoice, request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        rows = call_service_form(
            request,
            form,
            lambda: credit_memo_apply(
                credit_memo_id=data["credit_memo"],
                applications=[{"invoice": invoice.pk, "amount": data["amount"]}],
                applied_date=data["applied_date"],
                applied_by=actor(request),
            ),
        )
        if rows is None:
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        (row,) = rows
        messages.success(
            request,
            f"{money_display(row.amount, invoice.currency)} of {row.credit_memo} applied to "
            f"{invoice}.",
        )
        return HttpResponseRedirect(reverse("web:invoice_detail", args=[invoice.pk]))


class InvoiceCreditLinesView(FormPageView):
    """Credit lines of a posted invoice (invoice_credit): per line an amount or a quantity,
    the reason and what to do with the memo. Posting asks first, stating the memo's amounts
    (invoice_credit_preview, the same rules); a draft is saved at once."""

    template_name = "web/invoices/credit_lines.html"
    nav = "invoices"
    title = "Credit lines"

    def _form(self, invoice: Invoice, data=None) -> InvoiceCreditForm:
        lines = selectors.invoice_line_list_creditable(invoice=invoice)
        return InvoiceCreditForm(data, invoice=invoice, lines=lines)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        context.update(invoice=invoice, form=kwargs.get("form") or self._form(invoice))
        return context

    def post(self, request, pk):
        invoice = _invoice(pk)
        form = self._form(invoice, request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        action = data["action"]
        if action != "draft":
            preview = call_service_form(
                request,
                form,
                lambda: invoice_credit_preview(
                    invoice_id=invoice.pk, lines=data["lines"], apply=action == "apply"
                ),
            )
            if preview is None:
                return self.render_to_response(self.get_context_data(pk=pk, form=form))
            confirmation = _credit_confirmation(invoice, preview, action, data)
            given = request.POST.get(CONFIRM_FIELD)
            if given != confirmation.figures:
                return confirmation_response(
                    request, confirmation, nav=self.nav, changed=given is not None
                )
        result = call_service_form(
            request,
            form,
            lambda: invoice_credit(
                invoice_id=invoice.pk,
                lines=data["lines"],
                reason_code=data["reason_code"],
                note=data["note"],
                credit_date=data["credit_date"],
                action="draft" if action == "draft" else "posted",
                apply=action == "apply",
                created_by=actor(request),
            ),
        )
        if result is None:
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        memo = result.credit_memo
        done = {
            "draft": "saved as a draft",
            "posted": "posted; its credit is left to apply",
            "apply": "posted and applied to this invoice",
        }[action]
        messages.success(
            request,
            f"{memo} of {money_display(memo.total, memo.currency)} {done}.",
        )
        return HttpResponseRedirect(reverse("web:invoice_detail", args=[invoice.pk]))


def _credit_confirmation(invoice: Invoice, preview, action: str, data) -> Confirmation:
    currency = invoice.currency
    total = money_display(preview.total, currency)
    facts = [
        f"A credit memo of {total} for {invoice.account.name}: "
        f"{money_display(preview.total_charges, currency)} of charges and "
        f"{money_display(preview.total_tax, currency)} of tax, at the invoice lines' rates, "
        f"dated {data['credit_date']:%Y-%m-%d}.",
        *[
            f"{line.name}: {money_display(line.amount, currency)}"
            + (f" ({plain(line.quantity)} at the line's price)" if line.quantity != 1 else "")
            + f", tax {money_display(line.tax_amount, currency)}."
            for line in preview.lines
        ],
        "It is posted and numbered by the credit memo sequence policy (if one matches); a "
        "posted credit memo cannot be changed or deleted.",
        f"{money_display(preview.applied, currency)} of it is applied to {invoice}, whose "
        f"balance becomes {money_display(invoice.balance - preview.applied, currency)}."
        if action == "apply"
        else "Its credit is left to apply to an invoice later.",
    ]
    return Confirmation(
        question=f"Post a credit memo of {total} on {invoice}?",
        facts=facts,
        button=f"Post credit memo of {total}",
        back=reverse("web:invoice_credit_lines", args=[invoice.pk]),
        figures=f"{preview.total}|{preview.applied}|{len(preview.lines)}",
    )


class InvoiceNegativeLinesView(ConfirmedActionView):
    """Convert the invoice's negative charge lines into a credit memo applied back to it
    (invoice_negative_lines_convert), after a confirmation stating the amounts."""

    nav = "invoices"

    def confirmation(self, request, pk):
        invoice = _invoice(pk)
        plan = selectors.invoice_negative_lines_conversion(invoice=invoice)
        currency = invoice.currency
        return Confirmation(
            question=f"Convert the negative lines of {invoice} into a credit memo?",
            facts=[
                *[
                    f"{line.name}: {money_display(-line.amount, currency)} and tax "
                    f"{money_display(-line.tax_amount, currency)} become a credit memo line."
                    for line in plan.lines
                ],
                f"A posted credit memo of {money_display(plan.credit, currency)} (reason: "
                "cancellation) is numbered by the credit memo policy.",
                f"{invoice}'s total leaves those lines out and becomes "
                f"{money_display(plan.total_after, currency)}; "
                f"{money_display(plan.applied, currency)} of the memo is applied back to it, so "
                f"its balance stays {money_display(plan.balance_after, currency)}.",
            ],
            button=f"Convert into a credit memo of {money_display(plan.credit, currency)}",
            back=reverse("web:invoice_detail", args=[invoice.pk]),
            figures=f"{plan.credit}|{len(plan.lines)}",
            refusal=""
            if plan.lines and invoice.status == InvoiceStatus.POSTED
            else f"{invoice} has no negative charge line to convert.",
        )

    def act(self, request, pk):
        result = call_service(
            request,
            lambda: invoice_negative_lines_convert(invoice_id=pk, converted_by=actor(request)),
        )
        if result is not None:
            memo = result.credit_memo
            messages.success(
                request,
                f"Negative lines converted into {memo} of "
                f"{money_display(memo.total, memo.currency)}.",
            )
        return reverse("web:invoice_detail", args=[pk])


class CreditMemoPostView(ConfirmedActionView):
    """Post a draft credit memo (credit_memo_post) after a confirmation: numbered, final."""

    nav = "accounts"

    def confirmation(self, request, pk):
        memo = get_object_or_404(CreditMemo, pk=pk)
        amount = money_display(memo.total, memo.currency)
        return Confirmation(
            question=f"Post {memo} of {amount}?",
            facts=[
                f"{memo} for {memo.account.name} is posted and numbered by the credit memo "
                "sequence policy (if one matches); a posted memo is never changed or deleted.",
                f"Its {amount} is then credit to apply to the account's invoices (Apply credit "
                "on an invoice's page).",
            ],
            button=f"Post {memo}",
            back=reverse("web:account_detail", args=[memo.account_id]),
            figures=f"{memo.total}",
            refusal=""
            if memo.status == CreditMemo.Status.DRAFT
            else f"{memo} is {memo.get_status_display().lower()}, not a draft.",
        )

    def act(self, request, pk):
        memo = get_object_or_404(CreditMemo, pk=pk)
        posted = call_service(request, lambda: credit_memo_post(credit_memo_id=pk))
        if posted is not None:
            messages.success(
                request, f"{posted} posted: {money_display(posted.total, posted.currency)}."
            )
        return reverse("web:account_detail", args=[memo.account_id])


class CreditMemoVoidView(ConfirmedActionView):
    """Void a posted, unapplied credit memo (credit_memo_void) after a confirmation: an
    offsetting debit memo records it and is never billed."""

    nav = "invoices"

    def _back(self, memo) -> str:
        if memo.invoice_id:
            return reverse("web:invoice_detail", args=[memo.invoice_id])
        return reverse("web:account_detail", args=[memo.account_id])

    def confirmation(self, request, pk):
        memo = get_object_or_404(CreditMemo, pk=pk)
        amount = money_display(memo.total, memo.currency)
        refusal = ""
        if memo.status != CreditMemo.Status.POSTED:
            refusal = (
                f"{memo} is {memo.get_status_display().lower()}; only a posted memo is voided."
            )
        elif memo.balance != memo.total:
            refusal = f"{memo} has credit applied; unapply it first."
        elif memo.source in ("void", "write_off"):
            refusal = f"{memo} belongs to a void or a write-off; it is not voided on its own."
        return Confirmation(
            question=f"Void {memo} of {amount}?",
            facts=[
                f"{memo} becomes voided: its {amount} can no longer be applied. It keeps its "
                "number.",
                f"An offsetting debit memo of {amount} records the reversal; it is never billed.",
            ],
            button=f"Void {memo}",
            back=self._back(memo),
            figures=f"{memo.total}|{memo.balance}",
            refusal=refusal,
            danger=True,
        )

    def act(self, request, pk):
        memo = get_object_or_404(CreditMemo, pk=pk)
        done = call_service(
            request, lambda: credit_memo_void(credit_memo_id=pk, voided_by=actor(request))
        )
        if done is not None:
            messages.success(
                request,
                f"{done.credit_memo} voided; offsetting debit memo {done.debit_memo} recorded.",
            )
        return self._back(memo)


class CreditApplicationUnapplyView(ActionView):
    """Unapply one credit application (credit_application_unapply), back to its invoice."""

    def act(self, request, pk):
        application = get_object_or_404(
            CreditMemoApplication.objects.select_related("credit_memo", "invoice"), pk=pk
        )
        call_service(
            request,
            lambda: credit_application_unapply(application_id=pk, unapplied_by=actor(request)),
            success=f"{money_display(application.amount, application.credit_memo.currency)} of "
            f"{application.credit_memo} unapplied from {application.invoice}: it is open on the "
            "invoice and credit left on the memo again.",
        )
        return reverse("web:invoice_detail", args=[application.invoice_id])


class InvoiceEditView(FormPageView):
    """Edit a draft: its header (invoice_update); the page also lists the lines with their
    remove buttons, the add-adjustment form and the delete button."""

    template_name = "web/invoices/edit.html"
    nav = "invoices"
    title = "Edit draft invoice"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invoice = _invoice(kwargs["pk"])
        lines = selectors.invoice_line_list_for_invoice(invoice=invoice)
        context.update(
            invoice=invoice,
            currency=invoice.currency,
            lines=line_tree(lines),
            form=kwargs.get("form") or DraftEditForm(invoice=invoice),
            adjustment_form=kwargs.get("adjustment_form") or AdjustmentForm(),
            is_draft=invoice.status == InvoiceStatus.DRAFT,
        )
        return context

    def post(self, request, pk):
        invoice = _invoice(pk)
        form = DraftEditForm(request.POST, invoice=invoice)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        done = call_service_form(
            request,
            form,
            lambda: invoice_update(
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
        form = AdjustmentForm(request.POST)
        edit = reverse("web:invoice_edit", args=[invoice.pk])
        if not form.is_valid():
            return self._again(pk, form)
        data = form.cleaned_data
        line = call_service_form(
            request,
            form,
            lambda: invoice_adjustment_add(
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
        call_service(
            request,
            lambda: invoice_adjustment_remove(invoice_id=invoice.pk, line_id=line_pk),
            success="Adjustment removed; tax and totals recomputed.",
        )
        return reverse("web:invoice_edit", args=[invoice.pk])


class DraftDeleteView(ConfirmedActionView):
    """Delete a draft after the confirmation page: its amount and what it releases. A
    non-draft goes straight to the service, which refuses it with its own message."""

    nav = "invoices"

    def needs_confirmation(self, request, pk):
        return Invoice.objects.filter(pk=pk, status=InvoiceStatus.DRAFT).exists()

    def confirmation(self, request, pk):
        invoice = _invoice(pk)
        amount = money_display(invoice.total, invoice.currency)
        reach = selectors.invoice_draft_delete_reach(invoice=invoice)
        lines = invoice.lines.count()
        facts = [
            format_html(
                "Draft #{} of <strong>{}</strong> for <strong>{}</strong> is deleted with its "
                "{} line{}. It has no number, so no number is lost.",
                invoice.pk,
                invoice.account.name,
                amount,
                lines,
                pluralize(lines),
            ),
            f"What it billed is released: {reach.period_count} billed "
            f"period{pluralize(reach.period_count)} of {reach.schedule_count} billing "
            f"schedule{pluralize(reach.schedule_count)} roll back, so the next generation "
            "bills them again.",
        ]
        if reach.debit_memo_count:
            facts.append(
                f"{reach.debit_memo_count} debit memo{pluralize(reach.debit_memo_count)} "
                "merged into it become due again."
            )
        facts.append("This cannot be undone.")
        return Confirmation(
            question=f"Delete draft #{invoice.pk} for {amount}?",
            facts=facts,
            button=f"Delete draft #{invoice.pk}",
            back=reverse("web:invoice_edit", args=[invoice.pk]),
            figures=f"{amount}, {reach.period_count} periods",
            danger=True,
        )

    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        label, account_id = str(invoice), invoice.account_id
        done = call_service(request, lambda: invoice_draft_delete(invoice_id=invoice.pk) or True)
        if done is None:
            return reverse("web:invoice_detail", args=[invoice.pk])
        messages.success(
            request,
            f"{label} deleted; its periods are released and will be billed by the next generation.",
        )
        return reverse("web:account_detail", args=[account_id])


class CreditMemoNewView(FormPageView):
    """A standalone credit memo for an account (credit_memo_create, then credit_memo_post
    unless kept as a draft); it is applied from an invoice's page (Apply credit)."""

    template_name = "web/invoices/credit_memo_new.html"
    nav = "accounts"
    title = "New credit memo"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = get_or_404(account_selectors.account_get, account_id=kwargs["pk"])
        context.update(
            account=account, form=kwargs.get("form") or CreditMemoNewForm(account=account)
        )
        return context

    def post(self, request, pk):
        account = get_or_404(account_selectors.account_get, account_id=pk)
        form = CreditMemoNewForm(request.POST, account=account)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        data = form.cleaned_data
        memo = call_service_form(
            request,
            form,
            lambda: credit_memo_create(
                account_id=account.pk,
                currency=account.currency,
                memo_date=data["credit_date"],
                reason_code=data["reason_code"],
                reason=data["note"],
                lines=data["lines"],
                post=data["action"] == "posted",
            ),
        )
        if memo is None:
            return self.render_to_response(self.get_context_data(pk=pk, form=form))
        messages.success(
            request,
            f"{memo} of {money_display(memo.total, memo.currency)} "
            + (
                "posted: apply it from an invoice's page (Apply credit)."
                if memo.status == "posted"
                else "saved as a draft."
            ),
        )
        return HttpResponseRedirect(reverse("web:account_detail", args=[account.pk]))
