"""Admin for dunning: policies with their steps (written together by the policy services), the
reminders sent (read-only: the run writes them), invoice disputes (opened on the add page,
resolved by an action; kept for the record, never deleted). Every write calls a service
(core/admin_actions.py).

The policies' action "Send the reminders due…" asks for the run date, states how many
reminders would be emailed and to whom, and runs `dunning_run` for the selected policies'
sellers."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from core.admin_actions import (
    TIMESTAMPS,
    ReadOnlyAdmin,
    ServiceAdmin,
    action_form_page,
    adopt,
    kept_rows,
    model_values,
    run_service,
)
from core.exceptions import ValidationError
from core.text import TextCheckedForm, TextCheckedModelForm
from dunning import selectors
from dunning.models import DunningPolicy, DunningReminder, DunningStep, InvoiceDispute
from dunning.services.disputes import invoice_dispute_open, invoice_dispute_resolve
from dunning.services.policies import (
    POLICY_FIELDS,
    dunning_policy_create,
    dunning_policy_delete,
    dunning_policy_update,
)
from dunning.services.reminders import dunning_run

STEP_FIELDS = ("days_after_due", "email_template")


class DunningStepInline(admin.TabularInline):
    """Written with the policy (dunning_policy_create / _update): the rows shown replace the
    policy's steps; a day kept keeps its step."""

    model = DunningStep
    fields = STEP_FIELDS
    raw_id_fields = ("email_template",)
    extra = 0
    ordering = ("days_after_due",)


@admin.register(DunningPolicy)
class DunningPolicyAdmin(ServiceAdmin):
    list_display = ("name", "legal_entity", "is_active", "step_days")
    list_filter = ("is_active",)
    list_select_related = ("legal_entity",)
    search_fields = ("name", "legal_entity__name")
    readonly_fields = TIMESTAMPS
    inlines = (DunningStepInline,)
    actions = ("send_reminders",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="Steps (days after due)")
    def step_days(self, policy: DunningPolicy) -> str:
        return ", ".join(f"{s.days_after_due:+d}" for s in policy.steps.all()) or "—"

    def save_model(self, request, obj, form, change):
        """Nothing yet: the policy is written with its steps, in save_related."""

    def save_related(self, request, form, formsets, change):
        policy = form.instance
        (steps_formset,) = formsets
        steps = kept_rows(steps_formset, STEP_FIELDS, order_by="days_after_due")
        if change:
            fields = model_values(policy, [f for f in form.changed_data if f in POLICY_FIELDS])
            steps_changed = steps_formset.has_changed() or bool(steps_formset.deleted_forms)
            saved = dunning_policy_update(
                policy_id=policy.pk, steps=steps if steps_changed else None, **fields
            )
        else:
            fields = model_values(policy, POLICY_FIELDS)
            saved = dunning_policy_create(steps=steps, **fields)
        adopt(policy, saved)

    def service_delete(self, request, obj):
        dunning_policy_delete(policy_id=obj.pk)

    @admin.action(description="Send the reminders due…", permissions=["change"])
    def send_reminders(self, request, queryset):
        entities = sorted(queryset.values_list("legal_entity_id", flat=True))
        form = RunForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            on = timezone.localdate()
            if form.is_bound and "date" not in form.errors:
                on = form.cleaned_data.get("date") or on
            due = selectors.dunning_due(on=on, legal_entity_ids=entities)
            return action_form_page(
                self,
                request,
                queryset,
                title="Send the reminders due",
                intro=due_statement(on, due),
                form=form,
                action_name="send_reminders",
                submit="Send the reminders",
            )
        result = run_service(
            self,
            request,
            "Reminders",
            lambda: dunning_run(
                on=form.cleaned_data["date"],
                legal_entity_ids=entities,
                requested_by=request.user.get_username(),
            ),
        )
        if result is not None:
            level = messages.WARNING if result.counts["failed"] else messages.SUCCESS
            self.message_user(request, result.summary, level)
        return None


class RunForm(TextCheckedForm):
    date = forms.DateField(
        initial=timezone.localdate,
        help_text="The run date (YYYY-MM-DD, not after today): the steps whose day has come.",
    )

    def clean_date(self):
        on = self.cleaned_data["date"]
        if on > timezone.localdate():
            raise forms.ValidationError(
                f"{on} is after today ({timezone.localdate()}): reminders go on their day."
            )
        return on


def due_statement(on, due) -> str:
    """What a run on `on` would do, in one sentence (how many, to whom)."""
    going = [d for d in due if not d.opted_out]
    skipped = len(due) - len(going)
    if not due:
        return f"No reminder is due on {on} for the selected policies: nothing would be sent."
    shown = ", ".join(
        f"{d.invoice.number} to {d.recipient or '(no recipient)'} ({d.step})" for d in going[:20]
    )
    more = f" and {len(going) - 20} more" if len(going) > 20 else ""
    text = f"On {on}, {len(going)} reminder(s) would be emailed: {shown}{more}."
    if skipped:
        text += f" {skipped} would be skipped (opted out of bulk email)."
    return text


@admin.register(DunningStep)
class DunningStepAdmin(ReadOnlyAdmin):
    """Steps are written with their policy, on the policy's page."""

    list_display = ("policy", "days_after_due", "email_template")
    list_select_related = ("policy", "email_template")


@admin.register(DunningReminder)
class DunningReminderAdmin(ReadOnlyAdmin):
    """Written by the run (the daily task, send_dunning_reminders, the staff UI, the API)."""

    list_display = ("invoice", "step_label", "sent_on", "status", "email", "requested_by")
    list_filter = ("status", "sent_on")
    list_select_related = ("invoice", "email__invoice")
    search_fields = ("=invoice__number", "invoice__account__name")
    raw_id_fields = ("invoice", "step", "email")
    date_hierarchy = "sent_on"


class DisputeOpenForm(TextCheckedModelForm):
    class Meta:
        model = InvoiceDispute
        fields = ("invoice", "reason")


class ResolveForm(TextCheckedForm):
    resolution = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="How it was settled."
    )


@admin.register(InvoiceDispute)
class InvoiceDisputeAdmin(ServiceAdmin):
    """Opened on the add page (invoice_dispute_open), resolved by the action
    (invoice_dispute_resolve); a dispute is a record: never edited or deleted."""

    list_display = ("invoice", "opened_at", "opened_by", "is_open", "resolved_at", "resolved_by")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter),)
    list_select_related = ("invoice",)
    search_fields = ("=invoice__number", "invoice__account__name", "reason")
    raw_id_fields = ("invoice",)
    actions = ("resolve_disputes",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DisputeOpenForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("invoice", "reason")
        return (
            "invoice",
            "reason",
            "opened_at",
            "opened_by",
            "resolved_at",
            "resolved_by",
            "resolution",
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    @admin.display(boolean=True, description="Open")
    def is_open(self, dispute: InvoiceDispute) -> bool:
        return dispute.is_open

    def has_change_permission(self, request, obj=None) -> bool:
        # The list's action resolves; a dispute's own page is read-only.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def service_create(self, request, obj, form):
        invoice = form.cleaned_data.get("invoice")
        if invoice is None:
            raise ValidationError({"invoice": "Choose the posted invoice that is disputed."})
        return invoice_dispute_open(
            invoice_id=invoice.pk,
            reason=form.cleaned_data.get("reason", ""),
            opened_by=request.user.get_username(),
        )

    @admin.action(description="Resolve the selected disputes…", permissions=["change"])
    def resolve_disputes(self, request, queryset):
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                title="Resolve disputes",
                intro="Dunning of these invoices resumes with the latest step whose day has come.",
                form=form,
                action_name="resolve_disputes",
                submit="Resolve",
            )
        done = 0
        for dispute in queryset.filter(resolved_at__isnull=True).order_by("id"):
            resolved = run_service(
                self,
                request,
                str(dispute.invoice),
                lambda d=dispute: invoice_dispute_resolve(
                    invoice_id=d.invoice_id,
                    resolution=form.cleaned_data["resolution"],
                    resolved_by=request.user.get_username(),
                ),
            )
            done += resolved is not None
        if done:
            self.message_user(request, f"{done} dispute(s) resolved.", messages.SUCCESS)
        return None
