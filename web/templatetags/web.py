"""Template helpers of the staff UI: money, status badges, quantities, record links."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core.money import currency_exponent, money_display, plain

register = template.Library()

# Statuses by tone: a badge's colour says "fine", "needs a look", "broken" or "over".
_TONES = {
    "ok": {
        "posted",
        "completed",
        "active",
        "activated",
        "settled",
        "sent",
        "ready",
        "ready_for_invoicing",
        "done",
        "invoiced",
    },
    "warn": {
        "draft",
        "draft_in_progress",
        "posting_in_progress",
        "void_in_progress",
        "processing",
        "started",
        "queued",
        "pending",
        "partially_settled",
        "completed_with_errors",
        "not_settled",
        "new",
    },
    "bad": {"error", "failed", "open"},
    "off": {
        "voided",
        "canceled",
        "inactive",
        "completely_billed",
        "skipped",
        "not_sent",
        "resolved",
    },
}
_TONE_OF = {status: tone for tone, statuses in _TONES.items() for status in statuses}


@register.filter
def money(amount, currency: str) -> str:
    """`{{ invoice.total|money:invoice.currency }}` → '1,234.50 USD'."""
    if amount is None or amount == "":
        return "—"
    return money_display(Decimal(str(amount)), currency)


@register.filter
def qty(value) -> str:
    """A quantity without trailing zeros: 15.000000 → '15', 24.750000 → '24.75'."""
    if value is None or value == "":
        return "—"
    return plain(Decimal(str(value)))


@register.filter
def price(value, currency: str) -> str:
    """A unit price with the currency's decimal places, more only where it has them:
    160.000000 USD → '160.00', 0.012500 USD → '0.0125'."""
    if value is None or value == "":
        return "—"
    value = Decimal(str(value))
    places = max(currency_exponent(currency), -value.normalize().as_tuple().exponent, 0)
    return f"{value:,.{places}f}"


@register.simple_tag
def badge(status: str, label: str = "") -> str:
    """A status badge; its text is the label (the status's display), its colour the tone."""
    tone = _TONE_OF.get(status, "info")
    return format_html(
        '<span class="badge badge-{}" data-status="{}">{}</span>', tone, status, label or status
    )


# Web pages for error-log records; anything else links to its Django admin page.
_RECORD_VIEWS = {
    ("invoicing", "invoice"): "web:invoice_detail",
    ("billing", "billingschedule"): "web:schedule_detail",
    ("billing", "order"): "web:order_detail",
    ("accounts", "account"): "web:account_detail",
    ("invoicing", "invoicebatchrun"): "web:run_detail",
    ("invoicing", "invoicescheduler"): "web:scheduler_edit",
}


def record_url(content_type, object_id) -> str | None:
    if content_type is None or object_id is None:
        return None
    name = _RECORD_VIEWS.get((content_type.app_label, content_type.model))
    if name:
        return reverse(name, args=[object_id])
    try:
        return reverse(
            f"admin:{content_type.app_label}_{content_type.model}_change", args=[object_id]
        )
    except NoReverseMatch:
        return None


@register.simple_tag
def record_link(content_type, object_id) -> str:
    """A link to the record an error log row is about: its web page, else its admin page."""
    if content_type is None or object_id is None:
        return "—"
    label = f"{content_type.name} #{object_id}"
    url = record_url(content_type, object_id)
    if url is None:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@register.filter
def weekday_name(value) -> str:
    """0 → 'Monday' … 6 → 'Sunday' (the scheduler's weekday field)."""
    try:
        return WEEKDAYS[int(value)]
    except (TypeError, ValueError, IndexError):
        return "—"


@register.filter
def indent(depth) -> str:
    """Left padding of a nested (bundle child) line, in em."""
    try:
        return f"{0.4 + 1.5 * int(depth):.1f}em"
    except (TypeError, ValueError):
        return "0.4em"
