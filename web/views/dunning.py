"""Dunning in the staff UI: the "Dunning" page (what a run on a date would send and to whom, a
"Send …" button behind a confirmation, and the reminders written for that date: the run's
result), the policies (list, new, edit with their steps, delete) and an invoice's dispute
(open, resolve: the invoice page's dunning panel, `{% dunning_panel %}`, posts here).

Every action calls one service of dunning/services/; the forms of these pages are here, next
to the only views that use them."""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.forms import formset_factory
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import LegalEntity
from core.exceptions import DomainError, ValidationError
from core.money import money_display
from core.text import TextCheckedForm
from dunning import selectors
from dunning.models import DunningPolicy, DunningReminder
from dunning.services.disputes import invoice_dispute_open, invoice_dispute_resolve
from dunning.services.policies import (
    dunning_policy_create,
    dunning_policy_delete,
    dunning_policy_update,
)
from dunning.services.reminders import dunning_run
from invoicing.models import EmailTemplate, Invoice
from web.forms import DateField, FilterForm
from web.views.base import (
    ActionView,
    FormPageView,
    PageView,
    actor,
    call_service,
    paginate,
)
from web.views.confirm import Confirmation, ConfirmedActionView

NAV = "dunning"
LISTED = 50  # reminders named on a confirmation page


# --- forms ---------------------------------------------------------------------------------


class DayForm(FilterForm):
    date = DateField(required=False, label="Run date", help_text="Empty: today.")


class PolicyForm(TextCheckedForm):
    name = forms.CharField(max_length=100)
    legal_entity = forms.ModelChoiceField(
        queryset=LegalEntity.objects.order_by("name"),
        label="Legal entity (seller)",
        help_text="One policy per seller: it reminds of that seller's posted invoices.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")


class StepForm(TextCheckedForm):
    # No help text: the step table's caption says it (a help text would be referred to by
    # the input's aria-describedby, and the table shows none).
    days_after_due = forms.IntegerField(required=False, label="Days after due")
    email_template = forms.ModelChoiceField(
        queryset=EmailTemplate.objects.none(),
        required=False,
        label="Email template",
        empty_label="Built-in reminder",
    )
    remove = forms.BooleanField(required=False, label="Remove")

    def __init__(self, *args, policy: DunningPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # The active templates, and those the policy's steps use (an inactive one stays shown,
        # so that saving does not drop it silently: the service then says it is inactive).
        used = Q(dunning_steps__policy=policy) if policy is not None else Q(pk__in=[])
        self.fields["email_template"].queryset = (
            EmailTemplate.objects.filter(Q(is_active=True) | used).distinct().order_by("name")
        )


StepFormSet = formset_factory(StepForm, extra=2)


# --- the dunning page: what is due, the run, its result ---------------------------------------


class DunningView(PageView):
    """What a run on the date (default today) would send, and what was written for it."""

    template_name = "web/dunning/home.html"
    nav = NAV
    title = "Dunning"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = DayForm(self.request.GET or None)
        today = timezone.localdate()
        on = today
        if form.is_bound and form.is_valid():
            on = form.cleaned_data.get("date") or today
        due = selectors.dunning_due(on=on) if not form.errors else []
        sent = paginate(self.request, selectors.dunning_reminder_list(sent_on=on))
        context.update(
            form=form,
            on=on,
            today=today,
            future=on > today,
            due=due,
            going=[d for d in due if not d.opted_out],
            skipped=[d for d in due if d.opted_out],
            page=sent,
            counts=selectors.dunning_reminder_counts(sent_on=on),
            policies=selectors.dunning_policy_list(),
        )
        return context


def _run_date(request):
    form = DayForm({"date": request.POST.get("date", "")})
    if not form.is_valid():
        return None
    return form.cleaned_data.get("date") or timezone.localdate()


class DunningRunView(ConfirmedActionView):
    """Send the reminders due on the posted date, after a confirmation stating how many
    emails go and to whom. The figures confirmed are the reminders themselves (a digest of
    invoice and step), so a reminder that came due or dropped out meanwhile shows the page
    again."""

    nav = NAV

    def needs_confirmation(self, request):
        on = _run_date(request)
        return on is not None and on <= timezone.localdate()  # else: the service refuses

    def confirmation(self, request):
        on = _run_date(request)
        due = selectors.dunning_due(on=on)
        going = [d for d in due if not d.opted_out]
        skipped = [d for d in due if d.opted_out]
        back = f"{reverse('web:dunning')}?date={on.isoformat()}"
        n = len(going)
        facts = [
            format_html(
                "<strong>{} reminder email{}</strong> {} sent now through the invoice email "
                "outbox, for run date {}:",
                n,
                pluralize(n),
                pluralize(n, "is,are"),
                on.isoformat(),
            ),
            *(
                format_html(
                    "{} ({}, {}) to <strong>{}</strong>: {} ({})",
                    d.invoice.number,
                    d.invoice.account.name,
                    money_display(d.invoice.balance, d.invoice.currency),
                    d.recipient or "no recipient: it will fail",
                    d.step,
                    d.step_date.isoformat(),
                )
                for d in going[:LISTED]
            ),
        ]
        if n > LISTED:
            facts.append(f"… and {n - LISTED} more.")
        if skipped:
            facts.append(
                f"{len(skipped)} reminder{pluralize(len(skipped))} recorded as skipped: "
                + ", ".join(f"{d.invoice.number} ({d.invoice.account.name})" for d in skipped)
                + " (opted out of bulk email)."
            )
        facts.append(
            "Each reminder is sent once per invoice and step: running this again, or the "
            "daily task, sends none of them twice."
        )
        digest = hashlib.sha1(
            ",".join(f"{d.invoice.pk}:{d.step.days_after_due}" for d in due).encode()
        ).hexdigest()[:12]
        return Confirmation(
            question=f"Send {n} reminder{pluralize(n)} for {on.isoformat()}?",
            facts=facts,
            button=f"Send {n} reminder{pluralize(n)}",
            back=back,
            figures=f"{on.isoformat()} {n} {len(skipped)} {digest}",
            refusal="" if due else f"No reminder is due on {on.isoformat()}: nothing to send.",
        )

    def act(self, request):
        on = _run_date(request)
        if on is None:
            messages.error(request, "Give the run date as YYYY-MM-DD, e.g. 2026-02-07.")
            return reverse("web:dunning")
        result = call_service(request, lambda: dunning_run(on=on, requested_by=actor(request)))
        if result is not None:
            level = messages.WARNING if result.counts["failed"] else messages.SUCCESS
            messages.add_message(request, level, result.summary)
        return f"{reverse('web:dunning')}?date={on.isoformat()}"


# --- policies -----------------------------------------------------------------------------


class PolicyListView(PageView):
    template_name = "web/dunning/policies.html"
    nav = NAV
    title = "Dunning policies"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        covered = DunningPolicy.objects.values_list("legal_entity_id", flat=True)
        context.update(
            policies=selectors.dunning_policy_list(),
            uncovered=LegalEntity.objects.exclude(pk__in=covered)
            .filter(Q(is_active=True) | Q(invoices__isnull=False))
            .distinct(),
        )
        return context


class PolicyFormView(FormPageView):
    """New (no pk) or edit: the policy's fields and its steps (blank rows add steps, "Remove"
    drops one); saved by dunning_policy_create / dunning_policy_update in one call."""

    template_name = "web/dunning/policy_form.html"
    nav = NAV

    @property
    def readable(self) -> bool:
        return "pk" in self.kwargs

    def policy(self) -> DunningPolicy | None:
        pk = self.kwargs.get("pk")
        if not pk:
            return None
        try:
            return selectors.dunning_policy_get(policy_id=pk)
        except DunningPolicy.DoesNotExist as exc:
            raise Http404(str(exc)) from exc

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policy = kwargs["policy"] if "policy" in kwargs else self.policy()
        form = kwargs.get("form") or PolicyForm(initial=_policy_initial(policy))
        steps = kwargs.get("steps") or StepFormSet(
            prefix="steps", initial=_steps_initial(policy), form_kwargs={"policy": policy}
        )
        if not context["role"].can_act:
            for f in [form, *steps.forms]:
                for field in f.fields.values():
                    field.disabled = True
        context.update(
            policy=policy,
            form=form,
            steps=steps,
            title=f"Dunning policy {policy.name}" if policy else "New dunning policy",
            reminders=(
                selectors.dunning_reminder_list().filter(step__policy=policy)[:10] if policy else []
            ),
        )
        return context

    def post(self, request, pk=None):
        policy = self.policy()
        form = PolicyForm(request.POST)
        steps = StepFormSet(request.POST, prefix="steps", form_kwargs={"policy": policy})
        if not (form.is_valid() & steps.is_valid()):  # both validated: every error at once
            return self._again(policy, form, steps)
        rows = []  # (form, step) of the steps kept, in the order shown
        for step_form in steps.forms:
            data = step_form.cleaned_data
            blank = data.get("days_after_due") is None and not data.get("email_template")
            if data.get("remove") or blank:
                continue
            rows.append((step_form, {k: data.get(k) for k in ("days_after_due", "email_template")}))
        fields = {k: form.cleaned_data[k] for k in ("name", "legal_entity", "is_active")}
        try:
            if policy is None:
                saved = dunning_policy_create(steps=[s for _, s in rows], **fields)
            else:
                saved = dunning_policy_update(
                    policy_id=policy.pk, steps=[s for _, s in rows], **fields
                )
        except ValidationError as exc:
            _errors_on_forms(exc, form, rows)
            return self._again(policy, form, steps)
        except DomainError as exc:
            messages.error(request, exc.message)
            return self._again(policy, form, steps)
        messages.success(
            request,
            f"Dunning policy '{saved.name}' saved: steps "
            + ", ".join(f"{s.days_after_due:+d}" for s in saved.steps.all())
            + " days from the due date.",
        )
        return HttpResponseRedirect(reverse("web:dunning_policy_edit", args=[saved.pk]))

    def _again(self, policy, form, steps):
        return self.render_to_response(self.get_context_data(policy=policy, form=form, steps=steps))


def _policy_initial(policy: DunningPolicy | None) -> dict:
    if policy is None:
        return {"is_active": True, "name": "Standard reminders"}
    return {"name": policy.name, "legal_entity": policy.legal_entity, "is_active": policy.is_active}


def _steps_initial(policy: DunningPolicy | None) -> list[dict]:
    if policy is None:
        return [{"days_after_due": -3}, {"days_after_due": 7}, {"days_after_due": 21}]
    return [
        {"days_after_due": s.days_after_due, "email_template": s.email_template}
        for s in policy.steps.all()
    ]


def _errors_on_forms(exc: ValidationError, form: PolicyForm, rows: list) -> None:
    """Each error of the service at its field: `steps[i].x` on the i-th step kept."""
    for path, errors in exc.details.items():
        target, field = form, path
        if path.startswith("steps["):
            index = int(path[len("steps[") : path.index("]")])
            field = path.split(".", 1)[1] if "." in path else None
            target = rows[index][0] if index < len(rows) else form
        elif path == "steps":
            field = None
        for error in errors:
            if field is not None and field not in target.fields:
                target.add_error(None, f"{path}: {error}")
            else:
                target.add_error(field, error)


class PolicyDeleteView(ConfirmedActionView):
    nav = NAV

    def confirmation(self, request, pk):
        policy = get_object_or_404(DunningPolicy, pk=pk)
        sent = DunningReminder.objects.filter(step__policy=policy).count()
        return Confirmation(
            question=f"Delete dunning policy '{policy.name}'?",
            facts=[
                f"{policy.legal_entity}'s invoices get no more reminders.",
                f"The {sent} reminder{pluralize(sent)} sent under it stay in the invoices' "
                "dunning history.",
            ],
            button="Delete the policy",
            back=reverse("web:dunning_policy_edit", args=[policy.pk]),
            figures=f"{policy.pk} {policy.steps.count()}",
            danger=True,
        )

    def act(self, request, pk):
        policy = get_object_or_404(DunningPolicy, pk=pk)
        call_service(
            request,
            lambda: dunning_policy_delete(policy_id=policy.pk),
            success=f"Dunning policy '{policy.name}' deleted.",
        )
        return reverse("web:dunning_policy_list")


# --- an invoice's dispute -----------------------------------------------------------------


def _invoice_url(pk: int) -> str:
    return reverse("web:invoice_detail", args=[pk]) + "#dunning"


class InvoiceDisputeView(ActionView):
    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        call_service(
            request,
            lambda: invoice_dispute_open(
                invoice_id=invoice.pk,
                reason=request.POST.get("reason", ""),
                opened_by=actor(request),
            ),
            success=f"Invoice {invoice} is disputed: its reminders are paused.",
        )
        return _invoice_url(invoice.pk)


class InvoiceResolveDisputeView(ActionView):
    def act(self, request, pk):
        invoice = get_object_or_404(Invoice, pk=pk)
        call_service(
            request,
            lambda: invoice_dispute_resolve(
                invoice_id=invoice.pk,
                resolution=request.POST.get("resolution", ""),
                resolved_by=actor(request),
            ),
            success=f"The dispute of invoice {invoice} is resolved: its reminders resume.",
        )
        return _invoice_url(invoice.pk)
