"""The admin's doors are service calls: the base classes every model admin of the project uses.

`ServiceAdmin` (a ModelAdmin) and `ServiceInline` (for inlines) route every write of the admin's
own views through a service:

- add / change pages: `save_model` calls `service_create` / `service_update`;
- inline rows: `save_formset` calls the inline's `service_create` / `service_update` /
  `service_delete`;
- delete page and the "delete selected" action: `delete_model` calls `service_delete`.

By default these call the plain record services of `core.crud` (full_clean, save, 409 when a
record is still in use), the same ones the API uses for plain records; admins of records with
rules of their own override them with their domain services.

Services own their transactions (some are durable), so the add, change and delete views do
not wrap them in the admin's usual atomic block. A `DomainError` raised by a service on the
add or change page is shown on the form again, with the service's own message and the fields
it names; that service wrote nothing. (A page that makes several calls, e.g. a record and then
its inline rows, keeps what the earlier calls wrote; records whose rows belong to them, such as
an order's items or a memo's lines, are written by one call.) A refusal on the delete page is
shown as a message. `run_service` does the same for admin actions.

Records written only by services (`ReadOnlyAdmin`, `ReadOnlyInline`) are shown, never added,
changed or deleted here. No text field of an add or change page, nor of its inlines, takes a
control character: `get_form` and `get_formsets_with_inlines` hand out forms that refuse it
(core/text.py; the action forms derive from `TextCheckedForm`). Every base class shows amounts
at their currency's precision with the currency (core/admin_money.py).
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from core.admin_money import MoneyAdminMixin
from core.crud import instance_create, instance_delete, instance_update
from core.exceptions import DomainError, ValidationError
from core.text import TextCheckedModelForm, text_checked

TIMESTAMPS = ("created_at", "updated_at")
REFUSAL = "_service_refusal"


def run_service(modeladmin, request, label: str, call: Callable[[], Any]):
    """Call a service; a DomainError becomes an error message with the service's own text."""
    try:
        return call()
    except DomainError as exc:
        modeladmin.message_user(request, f"{label}: {exc.message}", level=messages.ERROR)
        return None


def action_form_page(modeladmin, request, queryset, *, title, intro, form, action_name, submit):
    """The intermediate page of an action that asks for input (templates/admin/action_form)."""
    return TemplateResponse(
        request,
        "admin/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "form": form,
            "action_name": action_name,
            "submit_label": submit,
        },
    )


def model_values(obj: models.Model, names) -> dict[str, Any]:
    """The values the admin form put on `obj` for the model fields among `names`."""
    concrete = {f.name for f in obj._meta.concrete_fields}
    return {name: getattr(obj, name) for name in names if name in concrete}


def kept_rows(formset, fields, *, order_by: str | None = None) -> list[dict[str, Any]]:
    """The rows an inline formset keeps (existing rows and filled-in new ones, not those marked
    for deletion) as dicts of `fields`, for services that write a record with all its rows."""
    rows = [
        row
        for row in formset.forms
        if (row.has_changed() or row.instance.pk is not None) and row not in formset.deleted_forms
    ]
    if order_by is not None:
        rows.sort(key=lambda row: row.cleaned_data[order_by])
    # The service replaces the rows: the change message names the parent's change only.
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    return [{f: row.cleaned_data[f] for f in fields if f in row.cleaned_data} for row in rows]


def record_rows(formset) -> None:
    """What the admin's change message and log entry read from a saved formset (new, changed
    and deleted objects), for formsets whose rows services write instead of formset.save()."""
    formset.deleted_objects = [
        row.instance for row in formset.deleted_forms if row.instance.pk is not None
    ]
    formset.new_objects = []
    formset.changed_objects = []
    for row in formset.forms:
        if row in formset.deleted_forms or not row.has_changed():
            continue
        if row.instance.pk is None:
            formset.new_objects.append(row.instance)
        else:
            formset.changed_objects.append((row.instance, row.changed_data))


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's in-memory `obj` the row the service saved (its pk, computed fields),
    so the admin's log entry, redirect and inlines refer to it."""
    obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
    obj._state.adding = False
    obj._state.db = saved._state.db


def _refusal_form(form_class: type[forms.BaseForm], refusal: DomainError):
    """The admin form, with the service's refusal attached to the fields it names."""

    class RefusedForm(form_class):  # type: ignore[misc,valid-type]
        def clean(self):
            cleaned = super().clean()
            details = refusal.details if isinstance(refusal, ValidationError) else {}
            named = False
            for path, problems in details.items():
                field = path.split(".")[0]
                if field in self.fields:
                    self.add_error(field, problems)
                    named = True
            if not named:
                self.add_error(None, refusal.message)
            return cleaned

    RefusedForm.__name__ = form_class.__name__
    return RefusedForm


class DefaultRecordForm(TextCheckedModelForm):
    """For records one of which is the default (`is_default`): the service unmarks the
    previous default in the same transaction, so the form does not refuse a second one."""

    def _get_validation_exclusions(self):
        return {*super()._get_validation_exclusions(), "is_default"}


class ServiceInline(MoneyAdminMixin):
    """Mixin for inlines: how a row added, changed or deleted on the parent's page is written.
    `fields` are the model fields the row's form changed (all of them for a new row)."""

    def service_create(self, request, parent: models.Model, obj: models.Model, fields: dict):
        fk = self.fk_name or next(
            f.name
            for f in obj._meta.concrete_fields
            if f.is_relation and f.related_model is type(parent)
        )
        return instance_create(type(obj), **{**fields, fk: parent})

    def service_update(self, request, parent: models.Model, obj: models.Model, fields: dict):
        return instance_update(obj, **fields)

    def service_delete(self, request, parent: models.Model, obj: models.Model) -> None:
        instance_delete(obj)


class ServiceAdmin(MoneyAdminMixin, admin.ModelAdmin):
    """A ModelAdmin whose add, change and delete go through services (see the module doc).
    Money, prices and quantities are shown for people (core/admin_money.py)."""

    # --- the services (override per model) ---------------------------------------------------

    def service_create(self, request, obj: models.Model, form) -> models.Model:
        return instance_create(type(obj), **model_values(obj, form.cleaned_data))

    def service_update(self, request, obj: models.Model, form) -> models.Model:
        original = type(obj)._default_manager.get(pk=obj.pk)
        return instance_update(original, **model_values(obj, form.changed_data))

    def service_delete(self, request, obj: models.Model) -> None:
        instance_delete(obj)

    # --- the admin's hooks call them -------------------------------------------------------

    def save_model(self, request, obj, form, change):
        saved = (
            self.service_update(request, obj, form)
            if change
            else self.service_create(request, obj, form)
        )
        if saved is not None and saved is not obj:
            adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        parent = form.instance
        deleted = [row for row in formset.deleted_forms if row.instance.pk is not None]
        written = [
            row for row in formset.forms if row not in formset.deleted_forms and row.has_changed()
        ]
        record_rows(formset)
        if not deleted and not written:
            return
        inline = self._inline_for(request, parent, formset)
        for row in deleted:
            inline.service_delete(request, parent, row.instance)
        for row in written:
            obj = row.instance
            if obj.pk is None:
                inline.service_create(request, parent, obj, model_values(obj, row.cleaned_data))
            else:
                original = type(obj)._default_manager.get(pk=obj.pk)
                inline.service_update(
                    request, parent, original, model_values(obj, row.changed_data)
                )

    def _inline_for(self, request, parent, formset) -> ServiceInline:
        for inline in self.get_inline_instances(request, parent):
            if inline.model is formset.model:
                if not isinstance(inline, ServiceInline):
                    raise TypeError(f"{type(inline).__name__} must subclass ServiceInline.")
                return inline
        raise LookupError(f"No inline of {type(self).__name__} writes {formset.model.__name__}.")

    def delete_model(self, request, obj):
        self.service_delete(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Rows written only by services (a line's taxes, a memo's lines) go with their record:
        # its service deletes them, so their own admin's missing Delete does not block it.
        service_only = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, ReadOnlyAdmin)
        }
        return deleted, counts, perms_needed - service_only, protected

    def delete_queryset(self, request, queryset):
        for obj in queryset.order_by("pk"):
            self.service_delete(request, obj)

    # --- services own their transactions; a refusal is shown on the form ------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = text_checked(super().get_form(request, obj, change, **kwargs))
        refusal = getattr(request, REFUSAL, None)
        return _refusal_form(form, refusal) if refusal is not None else form

    def get_formsets_with_inlines(self, request, obj=None):
        # Every inline's rows refuse control characters, whatever the inline's base class.
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            formset.form = text_checked(formset.form)
            yield formset, inline

    @method_decorator(csrf_protect)
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # Shown on the form again: the second pass finds the form invalid and saves nothing.
            setattr(request, REFUSAL, exc)
            return self._changeform_view(request, object_id, form_url, extra_context)

    @method_decorator(csrf_protect)
    def delete_view(self, request, object_id, extra_context=None):
        try:
            return self._delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            opts = self.model._meta
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[unquote(object_id)],
                current_app=self.admin_site.name,
            )
            return HttpResponseRedirect(url)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except DomainError as exc:
            # "Delete selected" (or another action without its own run_service) refused.
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ReadOnlyAdmin(ServiceAdmin):
    """Records written only by services: listed and shown, never added, changed or deleted."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class NoBulkDeleteMixin:
    """For admins whose delete depends on each record: "delete selected" would skip the page
    that shows why a record cannot be deleted."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyInline(MoneyAdminMixin):
    """An inline that lists rows written by services."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def third_party_admins_text_checked(site: admin.AdminSite) -> list[str]:
    """Make the admins of installed third-party apps (users and groups, API tokens, Celery
    beat's tasks) refuse control characters too: their add and change forms and their inlines'
    rows get the check the project's own admins have through ServiceAdmin (core/text.py).
    Called once, from core's AppConfig.ready(), after the admin has discovered every app.
    Returns the models hooked."""
    hooked = []
    for model, model_admin in site._registry.items():
        if isinstance(model_admin, ServiceAdmin) or getattr(model_admin, "_text_checked", False):
            continue
        model_admin.get_form = _checked_get_form(model_admin.get_form)
        model_admin.get_formsets_with_inlines = _checked_formsets(
            model_admin.get_formsets_with_inlines
        )
        model_admin._text_checked = True
        hooked.append(model._meta.label)
    return sorted(hooked)


def _checked_get_form(get_form):
    def get_form_checked(*args, **kwargs):
        return text_checked(get_form(*args, **kwargs))

    return get_form_checked


def _checked_formsets(get_formsets_with_inlines):
    def get_formsets_with_inlines_checked(*args, **kwargs):
        for formset, inline in get_formsets_with_inlines(*args, **kwargs):
            formset.form = text_checked(formset.form)
            yield formset, inline

    return get_formsets_with_inlines_checked
