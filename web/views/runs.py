"""Batch runs: list (follow-up runs under their parent); start an ad hoc run; detail with a
live progress bar and the counters of its kind (the page polls `run_progress` every 2 s while
the run is started), what it dealt with (invoices, or emails), its error log and follow-up
runs; actions recover, post the drafts and send the emails, each after a confirmation page
stating counts and amounts (web/views/confirm.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.views import View

from core.money import money_display
from invoicing import selectors
from invoicing.models import InvoiceBatchRun
from invoicing.services.recovery import batch_run_recover
from invoicing.services.runs import batch_run_draft_to_posted, batch_run_send_email, batch_run_start
from web.forms import RunFilterForm, StartRunForm
from web.views.base import (
    FormPageView,
    PageView,
    actor,
    call_service,
    call_service_form,
    filtered_page,
    get_or_404,
    paginate,
)
from web.views.confirm import Confirmation, ConfirmedActionView

Run = InvoiceBatchRun
Kind = Run.Kind

# What each kind of run does, in a few words (list and detail pages).
KIND_DOES = {
    Kind.GENERATION: "generates invoices",
    Kind.DRAFT_TO_POSTED: "posts drafts",
    Kind.EMAIL: "sends emails",
    Kind.RECOVERY: "recovers a run",
}

# The counters of each kind: (name, label). A name is a field of the run, else a key of its
# summary (a list there counts its items).
COUNTERS = {
    Kind.GENERATION: (
        ("matching_schedules", "Matching schedules"),
        ("schedules_processed", "Schedules processed"),
        ("schedules_failed", "Schedules failed"),
        ("invoices_generated", "Invoices generated"),
        ("invoices_failed", "Invoices failed"),
        ("draft_invoices", "Draft invoices"),
        ("posted_invoices", "Posted invoices"),
    ),
    Kind.DRAFT_TO_POSTED: (
        ("invoices_selected", "Drafts selected"),
        ("posted_invoices", "Posted"),
        ("invoices_failed", "Failed to post"),
        ("draft_invoices", "Still draft"),
    ),
    Kind.EMAIL: (
        ("invoices_selected", "Posted invoices selected"),
        ("sent", "Sent"),
        ("skipped", "Skipped (opted out)"),
        ("already_sent", "Already sent before"),
        ("failed", "Failed"),
        ("not_posted", "No longer posted"),
    ),
    Kind.RECOVERY: (
        ("matching_schedules", "Schedules found stuck"),
        ("schedules_processed", "Schedules recovered"),
        ("schedules_failed", "Schedules not recovered"),
        ("schedules_billed", "Schedules billed"),
        ("invoices_generated", "Invoices generated"),
        ("invoices_canceled", "Invoices canceled"),
        ("invoices_failed", "Invoices not recovered"),
    ),
}
_FIELDS = {f.name for f in Run._meta.get_fields()}


def counter_value(run: Run, name: str) -> int:
    if name in _FIELDS:
        return getattr(run, name) or 0
    value = (run.summary or {}).get(name, 0)
    return len(value) if isinstance(value, list | tuple) else int(value or 0)


def run_counters(run: Run) -> list[tuple[str, str, int]]:
    return [(name, label, counter_value(run, name)) for name, label in COUNTERS[run.kind]]


def run_outcome(run: Run) -> str:
    """What the run did, in one line (the list's "Result" column)."""
    n = lambda name: counter_value(run, name)  # noqa: E731
    if run.kind == Kind.DRAFT_TO_POSTED:
        text = f"{n('posted_invoices')} posted"
        if n("invoices_failed"):
            text += f", {n('invoices_failed')} failed"
        return text
    if run.kind == Kind.EMAIL:
        return f"{n('sent')} sent, {n('skipped')} skipped, {n('failed')} failed"
    if run.kind == Kind.RECOVERY:
        text = f"{n('schedules_processed')} schedules recovered"
        if n("invoices_canceled"):
            text += f", {n('invoices_canceled')} invoices canceled"
        return text
    generated = n("invoices_generated")
    return f"{generated} invoice{pluralize(generated)} generated"


def run_progress_data(run: Run) -> dict:
    """What the progress bar and counters show; also the JSON the page polls."""
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "status_display": run.get_status_display(),
        "stage": run.stage,
        "stage_display": run.get_stage_display(),
        "progress": run.progress,
        "finished": run.status != Run.Status.STARTED,
        "chunks_total": run.chunks_total,
        "chunks_done": run.chunks_done,
        "redispatches": run.redispatches,
        "counters": {name: value for name, _, value in run_counters(run)},
        "amounts": run.amounts or [],
        "completed_at": run.completed_at.isoformat() if run.completed_at else None,
    }


def _plain_items(values: dict, *, leave_out: set[str] = frozenset()) -> list[tuple[str, str]]:
    """A run's filters or summary as (label, text) pairs for people."""
    out = []
    for key, value in (values or {}).items():
        if key in leave_out:
            continue
        if isinstance(value, dict):
            text = value.get("message") or ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        out.append((key.replace("_", " "), text))
    return out


# What the supervisor and recovery record on a run (invoicing.services.runs.run_event).
EVENT_LABELS = {
    "chunk_redispatched": "Chunk queued again",
    "plan_redispatched": "Planning queued again",
    "keys_reported": "Keys reported as not billed",
    "keys_reopened": "Failed keys reopened",
    "closed": "Closed by the supervisor",
    "recovered": "Recovered",
}


def run_events(run: Run) -> list[dict]:
    """The run's events, newest first, each with a label and a line of detail."""
    out = []
    for event in reversed(run.events or []):
        parts = []
        if event.get("chunk") is not None:
            parts.append(f"chunk {event['chunk']}")
        if event.get("keys"):
            parts.append(f"{event['keys']} key{pluralize(event['keys'])}")
        if event.get("attempt"):
            parts.append(f"attempt {event['attempt']}")
        if event.get("sub_run"):
            parts.append(f"run {event['sub_run']}")
        if event.get("detail"):
            parts.append(str(event["detail"]))
        out.append(
            {
                "at": event.get("at", ""),
                "event": event.get("event", ""),
                "label": EVENT_LABELS.get(event.get("event", ""), event.get("event", "")),
                "detail": ", ".join(parts),
            }
        )
    return out


def _totals(totals) -> str:
    return " + ".join(money_display(total, currency) for currency, total in totals) or "nothing"


class RunListView(PageView):
    """Unfiltered: the top-level runs, newest first, each followed by its follow-up runs.
    Filtered by status or kind: every matching run, follow-up runs included."""

    template_name = "web/runs/list.html"
    nav = "runs"
    title = "Batch runs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = RunFilterForm(self.request.GET)
        data = form.cleaned_data if form.is_valid() else {}
        status, kind = data.get("status", ""), data.get("kind", "")
        page = filtered_page(  # bad filters list nothing (the page shows why)
            self.request, form, lambda _: selectors.batch_run_list(status=status, kind=kind)
        )
        nested = not (status or kind)
        rows = []
        for run in page:
            rows.append((run, False, KIND_DOES[run.kind], run_outcome(run)))
            if nested:
                rows += [
                    (sub, True, KIND_DOES[sub.kind], run_outcome(sub)) for sub in run.sub_runs.all()
                ]
        context.update(form=form, page=page, rows=rows, nested=nested)
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
        run = call_service_form(
            request,
            form,
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
        errors = selectors.error_log_list_for_run(run=run)
        counters = run_counters(run)
        is_email = run.kind == Kind.EMAIL
        context.update(
            title=str(run),
            run=run,
            does=KIND_DOES[run.kind],
            progress=run_progress_data(run),
            counters=counters,
            page=paginate(
                self.request,
                selectors.invoice_email_list_for_run(run=run)
                if is_email
                else selectors.invoice_list_for_run(run=run),
            ),
            is_email=is_email,
            errors=errors[:100],
            error_count=errors.count(),
            sub_runs=selectors.batch_run_list_for_parent(run=run),
            filter_items=_plain_items(run.filters),
            summary_items=_plain_items(run.summary, leave_out={name for name, _, _ in counters}),
            is_generation=run.kind == Kind.GENERATION,
            is_started=run.status == Run.Status.STARTED,
            events=run_events(run),
        )
        return context


class RunProgressView(LoginRequiredMixin, View):
    """The run's progress and counters as JSON, polled by the run page while it is started."""

    def get(self, request, pk):
        run = get_object_or_404(Run, pk=pk)
        response = JsonResponse(run_progress_data(run))
        response["Cache-Control"] = "no-store"
        return response


class _RunActionView(ConfirmedActionView):
    """A follow-up run of a finished generation run, after its confirmation page. A run
    the service refuses (a follow-up run; one still started, for posting and emailing) goes
    straight to the service, which says why."""

    nav = "runs"
    while_started = False  # may it start while the run is still started?

    def run(self, pk) -> Run:
        return get_object_or_404(Run, pk=pk)

    def needs_confirmation(self, request, pk):
        run = self.run(pk)
        return run.kind == Kind.GENERATION and (
            self.while_started or run.status != Run.Status.STARTED
        )

    def back(self, run: Run) -> str:
        return reverse("web:run_detail", args=[run.pk])


class RunRecoverView(_RunActionView):
    while_started = True

    def confirmation(self, request, pk):
        run = self.run(pk)
        reach = selectors.batch_run_recover_reach(run=run)
        facts = []
        if run.status == Run.Status.STARTED:
            facts.append(f"Run {run.pk} is still started: recovery finishes it.")
        facts += [
            f"{reach.pending_keys} grouping key{pluralize(reach.pending_keys)} not yet "
            f"processed ({reach.pending_schedules} schedule{pluralize(reach.pending_schedules)})"
            " are billed now by the recovery, unless a worker is processing them: those are "
            "left to it. Keys that failed because a worker was lost or their schedules were "
            "held by another transaction are billed again too.",
            f"{reach.stuck_invoices} invoice{pluralize(reach.stuck_invoices)} stuck in progress "
            f"{pluralize(reach.stuck_invoices, 'is,are')} canceled and what they billed is "
            "released.",
            f"{reach.stuck_schedules} billing schedule{pluralize(reach.stuck_schedules)} left "
            "processing or in error are reset to ready for invoicing (their open generation "
            "errors resolved).",
            "The run is then summarised with its final status. Recovery runs as a follow-up "
            "run and cannot be undone.",
        ]
        return Confirmation(
            question=f"Recover run {run.pk}?",
            facts=facts,
            button=f"Recover run {run.pk}",
            back=self.back(run),
            figures=(
                f"{reach.pending_keys} keys, {reach.pending_schedules} schedules pending, "
                f"{reach.stuck_invoices} invoices, {reach.stuck_schedules} schedules stuck"
            ),
        )

    def act(self, request, pk):
        run = self.run(pk)
        sub = call_service(
            request, lambda: batch_run_recover(run_id=run.pk, requested_by=actor(request))
        )
        if sub is not None:
            messages.success(request, f"Recovery started as run {sub.pk}.")
            return reverse("web:run_detail", args=[sub.pk])
        return self.back(run)


class RunDraftToPostedView(_RunActionView):
    def confirmation(self, request, pk):
        run = self.run(pk)
        reach = selectors.batch_run_post_reach(run=run)
        n, amounts = reach.count, _totals(reach.totals)
        return Confirmation(
            question=f"Post {n} draft invoice{pluralize(n)} of run {run.pk} for {amounts}?"
            if n
            else f"Post the drafts of run {run.pk}?",
            facts=[
                format_html(
                    "The <strong>{} draft invoice{}</strong> of run {}, totalling "
                    "<strong>{}</strong> (tax as estimated now; posting computes the actual "
                    "tax), are posted by a follow-up run.",
                    n,
                    pluralize(n),
                    run.pk,
                    amounts,
                ),
                "Each is numbered when it is posted, with the next number of its seller's "
                "sequence, in invoice order: the numbers are only known then.",
                "A draft whose numbering fails stays draft, logged on the follow-up run.",
                "Posting cannot be undone: a posted invoice is corrected by voiding it.",
            ],
            button=f"Post {n} draft{pluralize(n)}",
            back=self.back(run),
            figures=f"{n} drafts, {amounts}",
            refusal="" if n else f"Run {run.pk} has no draft invoice: there is nothing to post.",
        )

    def act(self, request, pk):
        run = self.run(pk)
        sub = call_service(
            request, lambda: batch_run_draft_to_posted(run_id=run.pk, requested_by=actor(request))
        )
        if sub is not None:
            messages.success(request, f"Posting the drafts of run {run.pk} as run {sub.pk}.")
            return reverse("web:run_detail", args=[sub.pk])
        return self.back(run)


class RunSendEmailsView(_RunActionView):
    """Email the run's posted invoices as an email sub-run (opt-outs honoured, invoices
    already emailed skipped)."""

    def confirmation(self, request, pk):
        run = self.run(pk)
        reach = selectors.batch_run_email_reach(run=run)
        n = reach.to_send
        facts = [
            format_html(
                "<strong>{} email{}</strong>, one per posted invoice of run {} (totalling {}), "
                "{} sent by a follow-up run to each invoice's bill-to address.",
                n,
                pluralize(n),
                run.pk,
                _totals(reach.to_send_totals),
                pluralize(n, "is,are"),
            ),
            f"{reach.opted_out} invoice{pluralize(reach.opted_out)} of accounts that opted out "
            f"of bulk email {pluralize(reach.opted_out, 'is,are')} skipped.",
            f"{reach.already_sent} invoice{pluralize(reach.already_sent)} already emailed "
            f"{pluralize(reach.already_sent, 'is,are')} not sent again.",
            "An email cannot be called back once it is sent.",
        ]
        return Confirmation(
            question=f"Send {n} invoice email{pluralize(n)} of run {run.pk}?"
            if n
            else f"Send the emails of run {run.pk}?",
            facts=facts,
            button=f"Send {n} email{pluralize(n)}",
            back=self.back(run),
            figures=f"{n} to send, {reach.opted_out} opted out, {reach.already_sent} sent before",
            refusal=""
            if n
            else (
                f"There is no email to send: of the {reach.posted} posted invoice"
                f"{pluralize(reach.posted)} of run {run.pk}, {reach.already_sent} "
                f"{pluralize(reach.already_sent, 'was,were')} already emailed and "
                f"{reach.opted_out} belong{pluralize(reach.opted_out, 's,')} to accounts that "
                "opted out of bulk email."
            ),
        )

    def act(self, request, pk):
        run = self.run(pk)
        sub = call_service(
            request, lambda: batch_run_send_email(run_id=run.pk, requested_by=actor(request))
        )
        if sub is None:
            return self.back(run)
        messages.success(request, f"Sending the emails of run {run.pk} as run {sub.pk}.")
        return reverse("web:run_detail", args=[sub.pk])
