"""The small slips of issue 12, point 17: plural names ("invoice addresses", not "addresss"), a
sentence after a name ending in a dot ("Inc.", not "Inc.."), one-time charges not shown as
"→ evergreen", an error about a draft named by its number once posted, the invoice date left
empty where empty means the target date; and, over every page of the demo data, unique element
ids and no aria reference to an element that is not there."""

import datetime as dt
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from billing.models import BillingSchedule
from demo.data import demo_load
from invoicing.models import Invoice
from invoicing.services.errors import error_log_record
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoice_post
from tests.support.invoicing import generate

pytestmark = pytest.mark.django_db
d = dt.date


# --- names ------------------------------------------------------------------------------------


def test_no_model_is_named_by_a_plural_that_only_adds_an_s():
    """Django's default plural adds "s": "invoice address" → "invoice addresss"."""
    ours = [c for c in apps.get_app_configs() if str(c.path).startswith(str(settings.BASE_DIR))]
    assert {"accounts", "billing", "invoicing"} <= {c.label for c in ours}
    wrong = [
        f"{model.__name__}: {model._meta.verbose_name_plural}"
        for config in ours
        for model in config.get_models()
        if str(model._meta.verbose_name_plural) == f"{model._meta.verbose_name}s"
        and re.search(r"(s|x|z|ch|sh|[^aeiou]y)$", str(model._meta.verbose_name))
    ]
    assert wrong == []


def test_the_admin_names_invoice_addresses_in_the_plural(admin_client_, billed):
    invoice = generate(billed, d(2026, 1, 31), action="draft")
    page = admin_client_.get(
        reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    ).content.decode()
    assert "Addresses" in page
    index = admin_client_.get(reverse("admin:index")).content.decode()
    assert "Invoice addresses" in index
    assert "addresss" not in (page + index).lower()


def test_a_name_ending_in_a_dot_is_not_followed_by_another(ops, billed):
    Account.objects.filter(pk=billed.account.pk).update(name="Northwind Analytics Inc.")
    response = ops.post(
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "2026-01-31", "invoice_date": "", "action": "draft"},
        follow=True,
    )
    page = response.content.decode()
    assert re.search(r"1 invoice created for\s+Northwind Analytics Inc\.\s*</p>", page)
    assert "Inc.." not in page


# --- one-time charges -------------------------------------------------------------------------


def test_one_time_charges_are_not_shown_as_evergreen(ops, db):
    demo_load(today=timezone.localdate())
    one_time = list(
        BillingSchedule.objects.filter(charge_type="one_time", end_date__isnull=True).order_by("id")
    )
    assert one_time, "the demo data has one-time charges"
    for schedule in one_time:
        page = ops.get(reverse("web:schedule_detail", args=[schedule.pk])).content.decode()
        dates = page.split("<dt>Dates</dt><dd>")[1].split("</dd>")[0]
        assert dates == f"{schedule.start_date:%Y-%m-%d} (one-time)"
        account = ops.get(
            reverse("web:account_detail", args=[schedule.account_id])
        ).content.decode()
        group = account.split(f'· order <a href="/orders/{schedule.order_id}/">')[1]
        group_header = group.split("</th>")[0]
        if "one-time" in group_header:
            assert "evergreen" not in group_header


# --- records named as people know them now ----------------------------------------------------


def test_an_error_about_a_draft_names_its_number_once_posted(ops, billed):
    draft = generate(billed, d(2026, 1, 31), action="draft")
    error_log_record(
        category="posting",
        code="no_sequence",
        message="No sequence policy matched; added one.",
        primary=draft,
    )
    url = reverse("web:error_list")
    assert f'<a href="/invoices/{draft.pk}/">Draft invoice #{draft.pk}</a>' in (
        ops.get(url).content.decode()
    )
    invoice_post(invoice_id=draft.pk)
    page = ops.get(url, {"state": "all"}).content.decode()
    assert f'<a href="/invoices/{draft.pk}/">Invoice INV-0001</a>' in page
    assert f"#{draft.pk}<" not in page


# --- the generate form ------------------------------------------------------------------------


def test_the_invoice_date_is_left_empty_where_empty_means_the_target_date(ops, billed):
    page = ops.get(reverse("web:account_detail", args=[billed.account.pk])).content.decode()
    invoice_date = re.search(r'<input[^>]*name="invoice_date"[^>]*>', page).group(0)
    assert "value=" not in invoice_date
    assert '<small class="help" id="id_invoice_date_helptext">Empty: the target date.</small>' in (
        page
    )
    target = re.search(r'<input[^>]*name="target_date"[^>]*>', page).group(0)
    assert f'value="{timezone.localdate():%Y-%m-%d}"' in target


# --- ids and aria references over every page --------------------------------------------------


class Markup(HTMLParser):
    REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls")

    def __init__(self):
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.references: list[tuple[str, str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids[attributes["id"]] += 1
        for name in self.REFERENCES:
            for target in (attributes.get(name) or "").split():
                self.references.append((name, target))
        if tag == "label" and attributes.get("for"):
            self.references.append(("label for", attributes["for"]))
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])


SKIPPED = ("/api/", "/admin/", "/static/", "/logout", "/customer/")
PER_KIND = 3  # pages of each kind (the path with its ids replaced) visited


def test_every_page_has_unique_ids_and_sound_aria_references(admin_client_, db):
    today = timezone.localdate()
    demo_load(today=today)
    invoices_generate(all_schedules=True, target_date=today, action="posted")
    first = Account.objects.order_by("id").first()
    invoices_generate(account_id=first.pk, target_date=today + dt.timedelta(days=62))
    assert Invoice.objects.filter(status="draft").exists()

    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    queue = ["/"]
    problems: list[str] = []
    while queue:
        url = queue.pop(0)
        kind = re.sub(r"\d+", "N", url.split("?")[0])
        if url in seen or kinds[kind] >= PER_KIND:
            continue
        seen.add(url)
        kinds[kind] += 1
        response = admin_client_.get(url)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        assert response.status_code == 200, url
        markup = Markup()
        page = response.content.decode()
        markup.feed(page)
        problems += [f"{url}: id {i!r} × {n}" for i, n in markup.ids.items() if n > 1]
        problems += [
            f"{url}: {name}={target!r} names no element"
            for name, target in markup.references
            if target not in markup.ids
        ]
        problems += [f"{url}: {slip!r}" for slip in ("Inc..", "addresss") if slip in page]
        for href in markup.links:
            href = href.split("#")[0]
            if href.startswith("/") and not href.startswith(SKIPPED) and "pdf" not in href:
                queue.append(href)
    assert len(seen) > 25, sorted(seen)
    assert {
        "/",
        "/invoices/N/",
        "/invoices/N/edit",
        "/invoices/N/void",
        "/orders/N/",
        "/accounts/N/",
    } <= set(kinds)
    assert problems == []
