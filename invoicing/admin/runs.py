"""Admin for invoice schedulers and batch runs.

A scheduler is saved through `scheduler_save` (every scheduler rule, shown on the form),
deleted through `scheduler_delete`, and run, activated, deactivated and canceled by actions
calling `scheduler_run_now`, `scheduler_activate`, `scheduler_deactivate` and
`scheduler_cancel`. Batch runs and their keys are written by the run services only; their
actions start sub-runs (`batch_run_recover`, `batch_run_draft_to_posted`,
`batch_run_send_email`) or cancel a run (`batch_run_cancel`).
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_actions import TIMESTAMPS, ReadOnlyAdmin, ServiceAdmin, run_service
from core.exceptions import ValidationError
from core.text import TextCheckedModelForm
from invoicing.models import InvoiceBatchRun, InvoiceBatchRunKey, InvoiceScheduler
from invoicing.services.recovery import batch_run_recover
from invoicing.services.runs import (
    batch_run_cancel,
    batch_run_draft_to_posted,
    batch_run_send_email,
)
from invoicing.services.schedulers import (
    EDITABLE_FIELDS,
    scheduler_activate,
    scheduler_cancel,
    scheduler_deactivate,
    scheduler_delete,
    scheduler_next_run_at,
    scheduler_run_now,
    scheduler_save,
    scheduler_validate,
)

EDITABLE_STATUSES = (InvoiceScheduler.Status.DRAFT, InvoiceScheduler.Status.INACTIVE)


class InvoiceSchedulerForm(TextCheckedModelForm):
    """The model's checks, then every scheduler rule (scheduler_validate), on the form."""

    class Meta:
        model = InvoiceScheduler
        fields = ("status", *EDITABLE_FIELDS, "periodic_task", "last_run_at")

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            scheduler_validate(self.instance)
        except ValidationError as exc:
            for path, problems in exc.details.items():
                field = path.split(".")[0]
                self.add_error(field if field in self.fields else None, problems)


def _each(modeladmin, request, queryset, label: str, service, done: str) -> None:
    ok = 0
    for obj in queryset.order_by("pk"):
        if run_service(modeladmin, request, f"{label} {obj}", lambda obj=obj: service(obj)):
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{ok} {done}.", level=messages.SUCCESS)


@admin.register(InvoiceScheduler)
class InvoiceSchedulerAdmin(ServiceAdmin):
    form = InvoiceSchedulerForm
    list_display = (
        "name",
        "status",
        "cadence",
        "time",
        "timezone",
        "invoice_status",
        "last_run_at",
        "next_run",
    )
    list_filter = ("status", "cadence", "invoice_status")
    search_fields = ("name",)
    readonly_fields = ("status", "periodic_task", "last_run_at", *TIMESTAMPS)
    actions = ("run_now", "activate", "deactivate", "cancel")

    @admin.display(description="next run")
    def next_run(self, obj: InvoiceScheduler):
        if obj.status != InvoiceScheduler.Status.ACTIVE:
            return "—"
        at = scheduler_next_run_at(obj, after=timezone.now())
        return at.strftime("%Y-%m-%d %H:%M %Z") if at else "—"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            # Only a draft or inactive scheduler can be edited: deactivate it first.
            return (*EDITABLE_FIELDS, *self.readonly_fields)
        return self.readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_run_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.add_invoicebatchrun")

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status == InvoiceScheduler.Status.ACTIVE:
            return False
        return super().has_delete_permission(request, obj)

    def service_create(self, request, obj, form):
        return scheduler_save(**{f: getattr(obj, f) for f in EDITABLE_FIELDS})

    def service_update(self, request, obj, form):
        return scheduler_save(scheduler_id=obj.pk, **{f: getattr(obj, f) for f in EDITABLE_FIELDS})

    def service_delete(self, request, obj):
        scheduler_delete(scheduler_id=obj.pk)

    @admin.action(description="Run now (start a batch run today)", permissions=["run"])
    def run_now(self, request, queryset):
        for obj in queryset.order_by("pk"):
            run = run_service(
                self,
                request,
                str(obj),
                lambda obj=obj: scheduler_run_now(
                    scheduler_id=obj.pk, requested_by=request.user.username
                ),
            )
            if run is not None:
                url = reverse("admin:invoicing_invoicebatchrun_change", args=[run.pk])
                self.message_user(
                    request,
                    format_html('{}: <a href="{}">batch run {}</a> started.', obj, url, run.pk),
                    level=messages.SUCCESS,
                )

    @admin.action(description="Activate (beat fires them)", permissions=["change"])
    def activate(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Activate",
            lambda s: scheduler_activate(scheduler_id=s.pk),
            "scheduler(s) activated",
        )

    @admin.action(description="Deactivate (stop firing; editable again)", permissions=["change"])
    def deactivate(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Deactivate",
            lambda s: scheduler_deactivate(scheduler_id=s.pk),
            "scheduler(s) deactivated",
        )

    @admin.action(description="Cancel (for good)", permissions=["change"])
    def cancel(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Cancel",
            lambda s: scheduler_cancel(scheduler_id=s.pk),
            "scheduler(s) canceled",
        )


class SubRunInline(admin.TabularInline):
    model = InvoiceBatchRun
    fk_name = "parent_run"
    extra = 0
    fields = ("kind", "status", "progress", "started_at", "completed_at", "summary")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InvoiceBatchRun)
class InvoiceBatchRunAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "scheduler",
        "status",
        "stage",
        "progress",
        "target_date",
        "matching_schedules",
        "invoices_generated",
        "schedules_failed",
        "started_at",
        "completed_at",
        "kind",
        "parent_run",
    )
    list_filter = ("kind", "status", "stage")
    list_select_related = ("scheduler", "parent_run")
    actions = ("recover", "draft_to_posted", "send_email", "cancel_run")
    inlines = (SubRunInline,)

    def has_recover_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.add_invoicebatchrun")

    def has_post_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.add_invoicebatchrun") and request.user.has_perm(
            "invoicing.change_invoice"
        )

    def has_stop_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.change_invoicebatchrun")

    def _sub_runs(self, request, queryset, label: str, service) -> None:
        for run in queryset.order_by("pk"):
            sub = run_service(
                self,
                request,
                f"Run {run.pk}",
                lambda run=run: service(run_id=run.pk, requested_by=request.user.username),
            )
            if sub is not None:
                sub.refresh_from_db()
                url = reverse("admin:invoicing_invoicebatchrun_change", args=[sub.pk])
                self.message_user(
                    request,
                    format_html(
                        'Run {}: {} <a href="{}">sub-run {}</a> {}.',
                        run.pk,
                        label,
                        url,
                        sub.pk,
                        sub.get_status_display().lower(),
                    ),
                    level=messages.SUCCESS,
                )

    @admin.action(
        description="Recover (reset stuck schedules, cancel stuck drafts)",
        permissions=["recover"],
    )
    def recover(self, request, queryset):
        self._sub_runs(request, queryset, "recovery", batch_run_recover)

    @admin.action(description="Post the run's draft invoices", permissions=["post"])
    def draft_to_posted(self, request, queryset):
        self._sub_runs(request, queryset, "draft-to-posted", batch_run_draft_to_posted)

    @admin.action(description="Email the run's posted invoices", permissions=["post"])
    def send_email(self, request, queryset):
        self._sub_runs(request, queryset, "email", batch_run_send_email)

    @admin.action(description="Cancel the run (drop its unprocessed keys)", permissions=["stop"])
    def cancel_run(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Cancel",
            lambda run: batch_run_cancel(run_id=run.pk),
            "run(s) canceled",
        )


@admin.register(InvoiceBatchRunKey)
class InvoiceBatchRunKeyAdmin(ReadOnlyAdmin):
    list_display = ("run", "chunk", "key", "status")
    list_filter = ("status",)
    raw_id_fields = ("run",)
