"""Template helpers of the staff UI: money, status badges, quantities, record links, and
instants shown with their time zone (`when`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.addresses import address_lines_of
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


def record_label(content_type, object_id, record=None) -> str:
    """A record as people know it now: 'Invoice EU-000010' once posted (not the draft's id it
    had when an error was logged), 'Draft invoice #39', 'Billing schedule BS-0000012'. Without
    the record (deleted, or a model without a label of its own): 'Invoice batch run #5'."""
    name = str(content_type.name)
    if record is not None and type(record).__str__ is not Model.__str__:
        text = str(record)
        return text if name.lower() in text.lower() else f"{name.capitalize()} {text}"
    return f"{name.capitalize()} #{object_id}"


@register.simple_tag
def record_link(content_type, object_id, record=None) -> str:
    """A link to the record an error log row is about: its web page, else its admin page.
    `record` (the row's prefetched `primary` or `related`) gives its current label."""
    if content_type is None or object_id is None:
        return "—"
    label = record_label(content_type, object_id, record)
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


@register.filter(expects_localtime=False)
def when(value, zone: str = "") -> str:
    """An instant as 'YYYY-MM-DD HH:MM <zone>': in `zone` (an IANA name, e.g. a scheduler's
    'America/New_York'), else in the site's time zone (settings.TIME_ZONE, e.g. 'UTC'). The
    one way the staff UI shows a time, so every time says its zone:
    `{{ run.started_at|when }}`, `{{ at|when:scheduler.timezone }}`. None shows '—'."""
    if value is None or value == "":
        return "—"
    if not isinstance(value, dt.datetime):
        return str(value)
    label = zone or timezone.get_current_timezone_name()
    try:
        tz = ZoneInfo(zone) if zone else timezone.get_current_timezone()
    except (ZoneInfoNotFoundError, ValueError):
        tz, label = timezone.get_current_timezone(), timezone.get_current_timezone_name()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    local = value.astimezone(tz)
    return format_html(
        '<time datetime="{}">{} {}</time>',
        local.isoformat(timespec="seconds"),
        local.strftime("%Y-%m-%d %H:%M"),
        label,
    )


@register.filter
def address_lines(address, home_country: str = "") -> tuple[str, ...]:
    """An address's printed lines in its country's order (core.addresses, as on the PDFs); the
    country's name only when it is not `home_country` (e.g. the seller's):
    `{% for line in a|address_lines:seller_country %}{{ line }}<br>{% endfor %}`."""
    if address is None:
        return ()
    return address_lines_of(address, home_country=home_country or "")
