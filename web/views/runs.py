"""Batch runs: list; start an ad hoc run; detail with a live progress bar and counters (the
page polls `run_progress` every 2 s while the run is started), its invoices, error log and
sub-runs; actions recover, draft to posted and send emails."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View

from invoicing import selectors
from invoicing.models import InvoiceBatchRun
from invoicing.services.recovery import batch_run_recover
from invoicing.services.runs import batch_run_draft_to_posted, batch_run_send_email, batch_run_start
from web.forms import RunFilterForm, StartRunForm
from web.views.base import (
    ActionView,
    FormPageView,
    PageView,
    actor,
    call_service,
    get_or_404,
    paginate,
)

Run = InvoiceBatchRun
COUNTERS = (
    ("matching_schedules", "Matching schedules"),
    ("schedules_processed", "Schedules processed"),
    ("schedules_failed", "Schedules failed"),
    ("invoices_generated", "Invoices generated"),
    ("invoices_failed", "Invoices failed"),
    ("draft_invoices", "Draft invoices"),
    ("posted_invoices", "Posted invoices"),
)


def run_progress_data(run: Run) -> dict:
    """What the progress bar and counters show; also the JSON the page polls."""
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "stage": run.stage,
        "stage_display": run.get_stage_display(),
        "progress": run.progress,
        "finished": run.status != Run.Status.STARTED,
        "chunks_total": run.chunks_total,
        "chunks_done": run.chunks_done,
        "counters": {name: getattr(run, name) for name, _ in COUNTERS},
        "amounts": run.amounts or [],
        "completed_at": run.completed_at.isoformat() if run.completed_at else None,
    }


def _plain_items(values: dict) -> list[tuple[str, str]]:
    """A run's filters or summary as (label, text) pairs for people."""
    out = []
    for key, value in (values or {}).items():
        if isinstance(value, dict):
            text = value.get("message") or ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        out.append((key.replace("_", " "), text))
    return out


class RunListView(PageView):
    template_name = "web/runs/list.html"
    nav = "runs"
    title = "Batch runs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = RunFilterForm(self.request.GET)
        data = form.cleaned_data if form.is_valid() else {}
        qs = selectors.batch_run_list(status=data.get("status", ""), kind=data.get("kind", ""))
        context.update(form=form, page=paginate(self.request, qs))
        return context


class RunStartView(FormPageView):
    template_name = "web/runs/start.html"
    nav = "runs"
    title = "Start a batch run"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(form=kwargs.get("form") or StartRunForm())
        return context

    def post(self, request):
        form = StartRunForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        data = form.cleaned_data
        run = call_service(
            request,
            lambda: batch_run_start(
                target_date=data["target_date"],
                invoice_date=data["invoice_date"],
                invoice_status=data["invoice_status"],
                filters=form.filters(),
                billing_period_count=data["billing_period_count"],
                requested_by=actor(request),
            ),
        )
        if run is None:
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(request, f"Run {run.pk} started.")
        return HttpResponseRedirect(reverse("web:run_detail", args=[run.pk]))


class RunDetailView(PageView):
    template_name = "web/runs/detail.html"
    nav = "runs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = get_or_404(selectors.batch_run_get, run_id=kwargs["pk"])
        invoices = selectors.invoice_list_for_run(run=run)
        errors = selectors.error_log_list_for_run(run=run)
        data = run_progress_data(run)
        context.update(
            title=str(run),
            run=run,
            progress=data,
            counters=[(name, label, getattr(run, name)) for name, label in COUNTERS],
            page=paginate(self.request, invoices),
            errors=errors[:100],
            error_count=errors.count(),
            sub_runs=selectors.batch_run_list_for_parent(run=run),
            filter_items=_plain_items(run.filters),
            summary_items=_plain_items(run.summary),
            is_generation=run.kind == Run.Kind.GENERATION,
            is_started=run.status == Run.Status.STARTED,
        )
        return context


class RunProgressView(LoginRequiredMixin, View):
    """The run's progress and counters as JSON, polled by the run page while it is started."""

    def get(self, request, pk):
        run = get_object_or_404(Run, pk=pk)
        response = JsonResponse(run_progress_data(run))
        response["Cache-Control"] = "no-store"
        return response


class RunRecoverView(ActionView):
    def act(self, request, pk):
        run = get_object_or_404(Run, pk=pk)
        sub = call_service(
            request, lambda: batch_run_recover(run_id=run.pk, requested_by=actor(request))
        )
        if sub is not None:
            messages.success(request, f"Recovery started as run {sub.pk}.")
            return reverse("web:run_detail", args=[sub.pk])
        return reverse("web:run_detail", args=[run.pk])


class RunDraftToPostedView(ActionView):
    def act(self, request, pk):
        run = get_object_or_404(Run, pk=pk)
        sub = call_service(
            request, lambda: batch_run_draft_to_posted(run_id=run.pk, requested_by=actor(request))
        )
        if sub is not None:
            messages.success(request, f"Posting the drafts of run {run.pk} as run {sub.pk}.")
            return reverse("web:run_detail", args=[sub.pk])
        return reverse("web:run_detail", args=[run.pk])


class RunSendEmailsView(ActionView):
    """Email the run's posted invoices as an email sub-run (opt-outs honoured, invoices
    already emailed skipped)."""

    def act(self, request, pk):
        run = get_object_or_404(Run, pk=pk)
        sub = call_service(
            request, lambda: batch_run_send_email(run_id=run.pk, requested_by=actor(request))
        )
        if sub is None:
            return reverse("web:run_detail", args=[run.pk])
        messages.success(request, f"Sending the emails of run {run.pk} as run {sub.pk}.")
        return reverse("web:run_detail", args=[sub.pk])
