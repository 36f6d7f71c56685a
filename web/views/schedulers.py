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
from invoicing.models import InvoiceScheduler
from web import selectors
from web.forms import SchedulerForm
from web.optional import available, service
from web.views.base import ActionView, FormPageView, PageView, actor, call_service, paginate

PREVIEW_RUNS = 5
SCHEDULER_ACTIONS = (
    "scheduler_save",
    "scheduler_activate",
    "scheduler_deactivate",
    "scheduler_cancel",
    "scheduler_run_now",
)


class SchedulerListView(PageView):
    template_name = "web/schedulers/list.html"
    nav = "schedulers"
    title = "Invoice schedulers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = paginate(self.request, InvoiceScheduler.objects.order_by("name", "id"))
        now = timezone.now()
        rows = []
        for scheduler in page:
            times = None
            if scheduler.status == InvoiceScheduler.Status.ACTIVE:
                times = selectors.scheduler_next_runs(scheduler, count=3, after=now)
            rows.append((scheduler, times))
        context.update(page=page, rows=rows, actions=available(*SCHEDULER_ACTIONS))
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
                scheduler, count=PREVIEW_RUNS, after=timezone.now()
            )
        runs = scheduler.runs.order_by("-id")[:10] if scheduler is not None else []
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
            actions=available(*SCHEDULER_ACTIONS),
        )
        return context

    def post(self, request, pk=None):
        scheduler = self.scheduler()
        form = SchedulerForm(request.POST, instance=scheduler or InvoiceScheduler())
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, scheduler=scheduler))
        if "preview" in request.POST:
            return self._preview(form, scheduler)
        save = service("scheduler_save")
        if save is None:
            messages.error(request, "Saving schedulers is not available on this installation.")
            return self.render_to_response(self.get_context_data(form=form, scheduler=scheduler))
        values = form.scheduler_values()
        saved = call_service(
            request,
            lambda: save(scheduler_id=scheduler.pk if scheduler else None, **values),
        )
        if saved is None:
            return self.render_to_response(self.get_context_data(form=form, scheduler=scheduler))
        messages.success(request, f"Scheduler '{saved.name}' saved ({saved.get_status_display()}).")
        return HttpResponseRedirect(reverse("web:scheduler_edit", args=[saved.pk]))

    def _preview(self, form: SchedulerForm, scheduler):
        """The next run times of the scheduler as the form has it, nothing saved."""
        from invoicing.services.scheduling import scheduler_validate

        candidate = form.instance  # the form's values, unsaved
        candidate.filters = form.scheduler_values()["filters"]
        preview, error = None, None
        try:
            scheduler_validate(candidate)
            preview = selectors.scheduler_next_runs(
                candidate, count=PREVIEW_RUNS, after=timezone.now()
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
        run_now = service("scheduler_run_now")
        if run_now is None:
            messages.error(request, "Running schedulers is not available on this installation.")
            return reverse("web:scheduler_list")
        run = call_service(
            request, lambda: run_now(scheduler_id=scheduler.pk, requested_by=actor(request))
        )
        if run is None:
            return reverse("web:scheduler_list")
        messages.success(request, f"Run {run.pk} of '{scheduler.name}' started.")
        return reverse("web:run_detail", args=[run.pk])


class SchedulerStatusView(ActionView):
    """activate, deactivate or cancel, by the URL's `to`."""

    SERVICES = {
        "activate": ("scheduler_activate", "activated"),
        "deactivate": ("scheduler_deactivate", "deactivated"),
        "cancel": ("scheduler_cancel", "canceled"),
    }

    def act(self, request, pk, to):
        scheduler = get_object_or_404(InvoiceScheduler, pk=pk)
        name, done = self.SERVICES[to]
        change = service(name)
        if change is None:
            messages.error(request, "Changing a scheduler's status is not available here.")
        else:
            call_service(
                request,
                lambda: change(scheduler_id=scheduler.pk),
                success=f"Scheduler '{scheduler.name}' {done}.",
            )
        return reverse("web:scheduler_edit", args=[scheduler.pk])
