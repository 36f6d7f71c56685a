"""Accounts: searchable list; detail with profiles, contacts, payment methods, schedules,
invoices and errors; the "Generate invoices" action and the page that shows what it made."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html

from accounts import selectors as account_selectors
from accounts.models import Account
from billing import selectors as billing_selectors
from billing.models import Order
from core.exceptions import DomainError
from core.money import money_display
from core.vat import VatTreatment, cross_border_treatment
from invoicing import selectors as invoicing_selectors
from invoicing.services.generation import invoices_generate
from invoicing.services.preview import GenerationPreview, invoices_generate_preview
from web.forms import AccountSearchForm, GenerateForm
from web.views.base import PageView, actor, call_service, filtered_page, get_or_404
from web.views.confirm import Confirmation, ConfirmedActionView

ACCOUNT_INVOICES_SHOWN = 20
SESSION_KEY = "web_generations"
KEPT_RESULTS = 10


class AccountListView(PageView):
    template_name = "web/accounts/list.html"
    nav = "accounts"
    title = "Accounts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = AccountSearchForm(self.request.GET)
        page = filtered_page(
            self.request, form, lambda data: account_selectors.account_list(q=data["q"])
        )
        context.update(form=form, page=page)
        return context


# The EU VAT rules in a word each (the documents print the treatment's full reason).
VAT_TREATMENT_NAMES = {
    "AE": "reverse charge",
    "K": "intra-community supply",
    "G": "export",
    "O": "outside the scope of EU VAT",
}


def account_vat_treatments(account: Account) -> list[tuple[str, VatTreatment]]:
    """The EU VAT rules (core.vat) the account's sales fall under, for services and for goods,
    between its seller and its default billing address's country (the place of supply the
    tax engine reads from an invoice's billing address), as (label, treatment); empty when
    the rates apply."""
    seller = account.legal_entity or account_selectors.default_legal_entity()
    profile = account.default_profile
    address = profile.billing_address if profile else None
    if seller is None or address is None:
        return []
    treatments = []
    for kind, goods in (("services", False), ("goods", True)):
        treatment = cross_border_treatment(
            seller_country=seller.country,
            buyer_country=address.country,
            buyer_vat_id=account.vat_id,
            goods=goods,
        )
        if treatment is not None:
            name = VAT_TREATMENT_NAMES.get(treatment.category, treatment.reason)
            treatments.append((f"{kind.capitalize()}: {name}", treatment))
    return treatments


class AccountDetailView(PageView):
    template_name = "web/accounts/detail.html"
    nav = "accounts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = get_or_404(account_selectors.account_get, account_id=kwargs["pk"])
        invoices = invoicing_selectors.invoice_list_for_account(account=account)
        context.update(
            title=account.name,
            account=account,
            vat_treatments=account_vat_treatments(account),
            groups=billing_selectors.schedule_group_list_for_account(account=account),
            invoices=invoices[:ACCOUNT_INVOICES_SHOWN],
            invoice_count=invoices.count(),
            orders=billing_selectors.order_list_for_account(account=account),
            errors=invoicing_selectors.error_log_list_for_account(account=account)[:50],
            generate_form=GenerateForm(),
            receipts=invoicing_selectors.receipt_list_for_account(account=account)[:20],
            account_credit_memos=invoicing_selectors.credit_memo_list_for_account(account=account)[
                :20
            ],
        )
        return context


def _remember(request, result, *, label: str, back: str) -> None:
    """Keep a generation's outcome in the session for its result page (the last few)."""
    kept = request.session.get(SESSION_KEY, {})
    kept[result.request_id] = {
        "label": label,
        "back": back,
        "invoice_ids": list(result.invoice_ids),
        "errors": [e.as_dict() for e in result.errors],
        "posting_errors": [dict(e) for e in result.posting_errors],
    }
    while len(kept) > KEPT_RESULTS:
        kept.pop(next(iter(kept)))
    request.session[SESSION_KEY] = kept


class GenerateView(ConfirmedActionView):
    """Generate invoices for an account or an order (invoices_generate), then show what it
    created on the result page. Posted invoices only after the confirmation page, which
    states how many invoices for how much, planned as the generation plans them
    (invoices_generate_preview). Drafts, a form with errors, or a request that would make
    nothing (or that the service refuses) go straight on."""

    scope = "account_id"
    _planned: GenerationPreview | None

    def target(self, pk):
        model = Account if self.scope == "account_id" else Order
        obj = get_object_or_404(model, pk=pk)
        name = "web:account_detail" if self.scope == "account_id" else "web:order_detail"
        return obj, reverse(name, args=[obj.pk])

    def planned(self, request, pk) -> GenerationPreview | None:
        """What a posted generation would make (None: no confirmation to ask for)."""
        if not hasattr(self, "_planned"):
            self._planned = None
            obj, _ = self.target(pk)
            form = GenerateForm(request.POST)
            if form.is_valid() and form.cleaned_data["action"] == "posted":
                data = form.cleaned_data
                try:
                    self._planned = invoices_generate_preview(
                        **{self.scope: obj.pk},
                        target_date=data["target_date"],
                        invoice_date=data["invoice_date"],
                    )
                except DomainError:
                    self._planned = None  # the service refuses it again, with its message
        return self._planned

    def needs_confirmation(self, request, pk):
        planned = self.planned(request, pk)
        return planned is not None and bool(planned.invoices)

    def confirmation(self, request, pk):
        obj, back = self.target(pk)
        planned = self.planned(request, pk)
        assert planned is not None
        data = GenerateForm(request.POST)
        data.is_valid()
        target = data.cleaned_data["target_date"]
        invoice_date = data.cleaned_data["invoice_date"] or target
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for p in planned.invoices:
            totals[p.invoice.currency] += p.invoice.total
        n, schedules = len(planned.invoices), planned.schedule_count
        amounts = " + ".join(money_display(totals[c], c) for c in sorted(totals))
        facts = [
            format_html(
                "{} billing schedule{} of <strong>{}</strong> due on or before {} {} billed on "
                "<strong>{} invoice{}</strong> dated {}, totalling <strong>{}</strong> (tax as "
                "estimated now; posting computes the actual tax).",
                schedules,
                pluralize(schedules),
                obj,
                target.isoformat(),
                pluralize(schedules, "is,are"),
                n,
                pluralize(n),
                invoice_date.isoformat(),
                amounts,
            ),
        ]
        if 1 < n <= 20:
            facts.append(
                "One by one: "
                + ", ".join(
                    money_display(p.invoice.total, p.invoice.currency) for p in planned.invoices
                )
                + "."
            )
        facts += [
            "They are posted at once: each is numbered then, with the next number of its "
            "seller's sequence; the numbers are only known then.",
            "Posting cannot be undone: a posted invoice is corrected by voiding it. To look at "
            "the invoices first, generate drafts instead.",
        ]
        return Confirmation(
            question=f"Generate and post {n} invoice{pluralize(n)} for {amounts}?",
            facts=facts,
            button=f"Generate and post {n} invoice{pluralize(n)}",
            back=back,
            figures=f"{n} invoices, {amounts}",
        )

    def act(self, request, pk):
        obj, back = self.target(pk)
        form = GenerateForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label or field.replace("_", " ").capitalize()
                messages.error(request, f"{label}: {' '.join(errors)}")
            return back
        data = form.cleaned_data
        result = call_service(
            request,
            lambda: invoices_generate(
                **{self.scope: obj.pk},
                target_date=data["target_date"],
                invoice_date=data["invoice_date"],
                action=data["action"],
                requested_by=actor(request),
            ),
        )
        if result is None:
            return back
        _remember(request, result, label=str(obj), back=back)
        return reverse("web:generation_result", args=[result.request_id])


class GenerationResultView(PageView):
    template_name = "web/generation_result.html"
    title = "Generated invoices"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        kept = self.request.session.get(SESSION_KEY, {}).get(kwargs["request_id"])
        if kept is None:
            raise Http404("This generation's result is no longer kept; see the invoices list.")
        invoices = invoicing_selectors.invoice_list_for_generation(ids=kept["invoice_ids"])
        schedules = {
            s.pk: s
            for s in billing_selectors.billing_schedule_list_for_ids(
                ids=[e["billing_schedule"] for e in kept["errors"]]
            )
        }
        errors = [{**e, "schedule": schedules.get(e["billing_schedule"])} for e in kept["errors"]]
        context.update(
            kept=kept,
            invoices=invoices,
            errors=errors,
            posting_errors=kept["posting_errors"],
            request_id=kwargs["request_id"],
            nav="accounts" if "/accounts/" in kept["back"] else "orders",
        )
        return context
