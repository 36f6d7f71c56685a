"""The services behind the UI's actions, by action name.

Resolution is strict: a module or function that does not exist raises ImproperlyConfigured
(tests/web/test_services.py resolves every entry), so a renamed service fails loudly instead
of silently losing its button.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# action name → (module, function)
SERVICES: dict[str, tuple[str, str]] = {
    "void": ("invoicing.services.void", "invoice_void"),
    "payment": ("invoicing.services.payments", "payment_record"),
    "email": ("invoicing.services.email", "invoice_email_send"),
    "email_bulk": ("invoicing.services.email", "invoices_email_send_bulk"),
    "pdf": ("invoicing.services.documents", "invoice_pdf_bytes"),
    "draft_update": ("invoicing.services.drafts", "invoice_update"),
    "adjustment_add": ("invoicing.services.drafts", "invoice_adjustment_add"),
    "adjustment_remove": ("invoicing.services.drafts", "invoice_adjustment_remove"),
    "draft_delete": ("invoicing.services.drafts", "invoice_draft_delete"),
    "run_start": ("invoicing.services.batch", "batch_run_start"),
    "run_recover": ("invoicing.services.batch", "batch_run_recover"),
    "run_draft_to_posted": ("invoicing.services.batch", "batch_run_draft_to_posted"),
    "run_send_emails": ("invoicing.services.batch", "batch_run_send_email"),
    "scheduler_save": ("invoicing.services.scheduling", "scheduler_save"),
    "scheduler_activate": ("invoicing.services.scheduling", "scheduler_activate"),
    "scheduler_deactivate": ("invoicing.services.scheduling", "scheduler_deactivate"),
    "scheduler_cancel": ("invoicing.services.scheduling", "scheduler_cancel"),
    "scheduler_next_run_at": ("invoicing.services.scheduling", "scheduler_next_run_at"),
    "scheduler_run_now": ("invoicing.services.batch", "scheduler_run_now"),
}


def service(name: str) -> Callable[..., Any]:
    """The service function for an action name."""
    module_name, attr = SERVICES[name]
    function = getattr(importlib.import_module(module_name), attr, None)
    if function is None:
        raise ImproperlyConfigured(
            f"web.optional.SERVICES[{name!r}]: {module_name}.{attr} is missing"
        )
    return function


def available(*names: str) -> dict[str, bool]:
    """{name: installed?} for templates."""
    return {name: service(name) is not None for name in names}
