"""Billing schedules: filtered list; detail with period items and their invoices."""

from __future__ import annotations

from billing import selectors as billing_selectors
from invoicing import selectors as invoicing_selectors
from web.forms import ScheduleFilterForm
from web.views.base import PageView, filtered_page, get_or_404, paginate


class ScheduleListView(PageView):
    template_name = "web/schedules/list.html"
    nav = "schedules"
    title = "Billing schedules"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = ScheduleFilterForm(self.request.GET)
        page = filtered_page(
            self.request,
            form,
            lambda data: billing_selectors.billing_schedule_list(
                status=data["status"],
                account=data["account"],
                next_from=data["next_from"],
                next_to=data["next_to"],
                charge_type=data["charge_type"],
            ),
        )
        context.update(form=form, page=page)
        return context


class ScheduleDetailView(PageView):
    template_name = "web/schedules/detail.html"
    nav = "schedules"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        schedule = get_or_404(billing_selectors.billing_schedule_get, schedule_id=kwargs["pk"])
        items = invoicing_selectors.billing_period_item_list_for_schedule(schedule=schedule)
        context.update(
            title=str(schedule),
            schedule=schedule,
            page=paginate(self.request, items),
            derived=billing_selectors.billing_schedule_list_derived_from(schedule=schedule),
            errors=invoicing_selectors.error_log_list_for_records(records=[schedule]),
        )
        return context
