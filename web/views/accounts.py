"""Accounts: searchable list; detail with profiles, contacts, payment methods, schedules,
invoices and errors; the "Generate invoices" action and the page that shows what it made."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from accounts.models import Account
from billing.models import BillingSchedule, BillingScheduleGroup, Order
from invoicing.models import ErrorLog, Invoice
from invoicing.services.generation import invoices_generate
from web import selectors
from web.forms import AccountSearchForm, GenerateForm
from web.views.base import ActionView, PageView, actor, call_service, paginate

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
        q = form.cleaned_data["q"] if form.is_valid() else ""
        context.update(form=form, page=paginate(self.request, selectors.account_list(q=q)), q=q)
        return context


def account_error_logs(account: Account):
    """Open errors about the account's schedules, invoices and orders, or the account."""
    ct = ContentType.objects.get_for_models(Account, BillingSchedule, Invoice, Order)
    return (
        ErrorLog.objects.filter(is_resolved=False)
        .filter(
            Q(primary_type=ct[Account], primary_id=account.pk)
            | Q(
                primary_type=ct[BillingSchedule],
                primary_id__in=BillingSchedule.objects.filter(account=account).values("pk"),
            )
            | Q(
                primary_type=ct[Invoice],
                primary_id__in=Invoice.objects.filter(account=account).values("pk"),
            )
            | Q(
                primary_type=ct[Order],
                primary_id__in=Order.objects.filter(account=account).values("pk"),
            )
        )
        .select_related("primary_type", "related_type")
        .order_by("-updated_at", "-id")
    )


class AccountDetailView(PageView):
    template_name = "web/accounts/detail.html"
    nav = "accounts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = get_object_or_404(
            Account.objects.select_related("legal_entity").prefetch_related(
                "contacts",
                "payment_methods",
                "billing_profiles__payment_term",
                "billing_profiles__bill_to",
                "billing_profiles__saved_payment_method",
                "billing_profiles__billing_address",
                "billing_profiles__shipping_address",
            ),
            pk=kwargs["pk"],
        )
        groups = (
            BillingScheduleGroup.objects.filter(account=account)
            .select_related("product", "order", "bundle_group")
            .prefetch_related(
                Prefetch(
                    "schedules",
                    queryset=BillingSchedule.objects.select_related("product").order_by("id"),
                )
            )
            .order_by("order_id", "id")
        )
        invoices = Invoice.objects.filter(account=account).order_by("-id")
        context.update(
            title=account.name,
            account=account,
            groups=groups,
            invoices=invoices[:ACCOUNT_INVOICES_SHOWN],
            invoice_count=invoices.count(),
            orders=Order.objects.filter(account=account).order_by("-id"),
            errors=account_error_logs(account)[:50],
            generate_form=GenerateForm(),
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


class GenerateView(ActionView):
    """Generate invoices for an account or an order (invoices_generate), then show what it
    created on the result page."""

    scope = "account_id"

    def target(self, pk):
        model = Account if self.scope == "account_id" else Order
        obj = get_object_or_404(model, pk=pk)
        name = "web:account_detail" if self.scope == "account_id" else "web:order_detail"
        return obj, reverse(name, args=[obj.pk])

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
        invoices = (
            Invoice.objects.filter(pk__in=kept["invoice_ids"])
            .select_related("account")
            .order_by("id")
        )
        schedules = {
            s.pk: s
            for s in BillingSchedule.objects.filter(
                pk__in=[e["billing_schedule"] for e in kept["errors"]]
            ).select_related("product")
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
