"""Invoice schedulers: list with their next run times; a form with every field whose
"Preview" button shows the next run times before saving; actions run now, activate,
deactivate and cancel."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from core.exceptions import DomainError
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
from web.views.base import ActionView, FormPageView, PageView, actor, call_service, paginate

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
        saved = call_service(
            request,
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
        except DomainError as exc:
            error = exc.message
        return self.render_to_response(
            self.get_context_data(
                form=form, scheduler=scheduler, preview=preview or [], preview_error=error
            )
        )


class SchedulerRunNowView(ActionView):
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
