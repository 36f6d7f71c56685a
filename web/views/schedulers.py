"""Invoice schedulers: list with their next run times; a form with every field whose
"Preview" button shows the next run times before saving; actions run now, activate,
deactivate and cancel."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.exceptions import DomainError, ValidationError
from invoicing import selectors
from invoicing.models import InvoiceScheduler
from invoicing.services.schedulers import (
    scheduler_activate,
    scheduler_cancel,
    scheduler_deactivate,
    scheduler_run_now,
    scheduler_save,
    scheduler_validate,
)
from web.forms import SchedulerForm
from web.views.base import (
    ActionView,
    FormPageView,
    PageView,
    actor,
    call_service,
    call_service_form,
    form_errors_add,
    paginate,
)
from web.views.confirm import Confirmation, ConfirmedActionView

PREVIEW_RUNS = 5


class SchedulerListView(PageView):
    template_name = "web/schedulers/list.html"
    nav = "schedulers"
    title = "Invoice schedulers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = paginate(self.request, selectors.scheduler_list())
        now = timezone.now()
        rows = []
        for scheduler in page:
            times = None
            if scheduler.status == InvoiceScheduler.Status.ACTIVE:
                times = selectors.scheduler_next_runs(scheduler=scheduler, count=3, after=now)
            rows.append((scheduler, times))
        context.update(page=page, rows=rows)
        return context


class SchedulerFormView(FormPageView):
    """New (no pk) or edit. POST with `preview` validates and shows the next run times
    without saving; POST with `save` calls scheduler_save."""

    template_name = "web/schedulers/form.html"
    nav = "schedulers"

    @property
    def readable(self) -> bool:
        """Read-only users see a scheduler, its next runs and its runs (not a new form)."""
        return "pk" in self.kwargs

    def scheduler(self) -> InvoiceScheduler | None:
        pk = self.kwargs.get("pk")
        return get_object_or_404(InvoiceScheduler, pk=pk) if pk else None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        scheduler = kwargs["scheduler"] if "scheduler" in kwargs else self.scheduler()
        form = kwargs.get("form") or SchedulerForm(instance=scheduler)
        if not context["role"].can_act:
            for field in form.fields.values():
                field.disabled = True
        preview = kwargs.get("preview")
        if preview is None and scheduler is not None:
            preview = selectors.scheduler_next_runs(
                scheduler=scheduler, count=PREVIEW_RUNS, after=timezone.now()
            )
        runs = (
            selectors.batch_run_list_for_scheduler(scheduler=scheduler)[:10]
            if scheduler is not None
            else []
        )
        context.update(
            scheduler=scheduler,
            form=form,
            preview=preview,
            preview_error=kwargs.get("preview_error"),
            preview_zone=form.instance.timezone
            if form.is_bound
            else getattr(scheduler, "timezone", "UTC"),
            runs=runs,
            title=f"Scheduler {scheduler.name}" if scheduler else "New scheduler",
        )
        return context

    def post(self, request, pk=None):
        scheduler = self.scheduler()
        form = SchedulerForm(request.POST, instance=scheduler or InvoiceScheduler())
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, scheduler=scheduler))
        if "preview" in request.POST:
            return self._preview(form, scheduler)
        values = form.scheduler_values()
        saved = call_service_form(
            request,
            form,
            lambda: scheduler_save(scheduler_id=scheduler.pk if scheduler else None, **values),
        )
        if saved is None:
            return self.render_to_response(self.get_context_data(form=form, scheduler=scheduler))
        messages.success(request, f"Scheduler '{saved.name}' saved ({saved.get_status_display()}).")
        return HttpResponseRedirect(reverse("web:scheduler_edit", args=[saved.pk]))

    def _preview(self, form: SchedulerForm, scheduler):
        """The next run times of the scheduler as the form has it, nothing saved."""
        candidate = form.instance  # the form's values, unsaved
        candidate.filters = form.scheduler_values()["filters"]
        preview, error = None, None
        try:
            scheduler_validate(candidate)
            preview = selectors.scheduler_next_runs(
                scheduler=candidate, count=PREVIEW_RUNS, after=timezone.now()
            )
        except ValidationError as exc:  # every error next to its field
            form_errors_add(form, exc)
            error = "No preview: fix the fields marked in the form."
        except DomainError as exc:
            error = exc.message
        return self.render_to_response(
            self.get_context_data(
                form=form, scheduler=scheduler, preview=preview or [], preview_error=error
            )
        )


class SchedulerRunNowView(ConfirmedActionView):
    """Start a run of the scheduler now, after the confirmation page: the run's dates, how
    many schedules it would bill, draft or posted. A canceled scheduler goes straight to the
    service, which refuses it with its own message."""

    nav = "schedulers"

    def needs_confirmation(self, request, pk):
        scheduler = get_object_or_404(InvoiceScheduler, pk=pk)
        return scheduler.status != InvoiceScheduler.Status.CANCELED

    def confirmation(self, request, pk):
        scheduler = get_object_or_404(InvoiceScheduler, pk=pk)
        reach = selectors.scheduler_run_now_reach(scheduler=scheduler)
        n = reach.schedule_count
        posted = scheduler.invoice_status == "posted"
        makes = "posted (numbered) invoices" if posted else "draft invoices"
        if scheduler.billing_period_count:
            makes += (
                f", at most {scheduler.billing_period_count} "
                f"period{pluralize(scheduler.billing_period_count)} per schedule"
            )
        facts = [
            format_html(
                "A batch run of <strong>{}</strong> starts now for run date {} (today in {}): "
                "target date <strong>{}</strong>, invoice date <strong>{}</strong>.",
                scheduler.name,
                reach.run_date.isoformat(),
                scheduler.timezone,
                reach.target_date.isoformat(),
                reach.invoice_date.isoformat(),
            ),
            format_html(
                "<strong>{} billing schedule{}</strong> {} due by the target date and {} its "
                "filters (suspended ones are left out); the run bills them as {}.",
                n,
                pluralize(n),
                pluralize(n, "is,are"),
                pluralize(n, "matches,match"),
                makes,
            ),
        ]
        if posted:
            facts.append(
                "Its invoices are posted as they are made: each is numbered then, and posting "
                "cannot be undone (a posted invoice is corrected by voiding it)."
            )
        facts.append(
            "If today is one of the scheduler's run dates, this run is today's run: the "
            "scheduled one does not start again today."
        )
        return Confirmation(
            question=f"Run scheduler '{scheduler.name}' now?",
            facts=facts,
            button=f"Start the run ({n} schedule{pluralize(n)})",
            back=reverse("web:scheduler_edit", args=[scheduler.pk]),
            figures=(
                f"{reach.run_date} {reach.target_date} {reach.invoice_date} "
                f"{scheduler.invoice_status} {n}"
            ),
        )

    def act(self, request, pk):
        scheduler = get_object_or_404(InvoiceScheduler, pk=pk)
        run = call_service(
            request,
            lambda: scheduler_run_now(scheduler_id=scheduler.pk, requested_by=actor(request)),
        )
        if run is None:
            return reverse("web:scheduler_list")
        messages.success(request, f"Run {run.pk} of '{scheduler.name}' started.")
        return reverse("web:run_detail", args=[run.pk])


class SchedulerStatusView(ActionView):
    """activate, deactivate or cancel, by the URL's `to`."""

    SERVICES = {
        "activate": (scheduler_activate, "activated"),
        "deactivate": (scheduler_deactivate, "deactivated"),
        "cancel": (scheduler_cancel, "canceled"),
    }

    def act(self, request, pk, to):
        scheduler = get_object_or_404(InvoiceScheduler, pk=pk)
        change, done = self.SERVICES[to]
        call_service(
            request,
            lambda: change(scheduler_id=scheduler.pk),
            success=f"Scheduler '{scheduler.name}' {done}.",
        )
        return reverse("web:scheduler_edit", args=[scheduler.pk])
