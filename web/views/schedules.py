"""Billing schedules: filtered list; detail with period items and their invoices."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from billing.models import BillingSchedule
from invoicing.models import BillingPeriodItem
from web import selectors
from web.forms import ScheduleFilterForm
from web.views.base import PageView, paginate


class ScheduleListView(PageView):
    template_name = "web/schedules/list.html"
    nav = "schedules"
    title = "Billing schedules"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = ScheduleFilterForm(self.request.GET)
        data = form.cleaned_data if form.is_valid() else {}
        qs = selectors.schedule_list(
            status=data.get("status", ""),
            account=data.get("account", ""),
            next_from=data.get("next_from"),
            next_to=data.get("next_to"),
            charge_type=data.get("charge_type", ""),
        )
        context.update(form=form, page=paginate(self.request, qs))
        return context


class ScheduleDetailView(PageView):
    template_name = "web/schedules/detail.html"
    nav = "schedules"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        schedule = get_object_or_404(
            BillingSchedule.objects.select_related(
                "account",
                "order",
                "order_item",
                "product",
                "unit",
                "group",
                "original_schedule",
                "parent_schedule",
                "legal_entity",
                "payment_term",
                "bill_to",
                "saved_payment_method",
            ),
            pk=kwargs["pk"],
        )
        items = (
            BillingPeriodItem.objects.filter(schedule=schedule)
            .select_related("invoice", "usage_summary", "batch_run")
            .order_by("-period_start", "-id")
        )
        context.update(
            title=str(schedule),
            schedule=schedule,
            page=paginate(self.request, items),
            derived=schedule.derived_schedules.order_by("id"),
            errors=selectors.error_logs_for([schedule]),
        )
        return context
