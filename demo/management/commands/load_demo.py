"""`manage.py load_demo [--today YYYY-MM-DD]`: load the demo data (idempotent)."""

import argparse
import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.exceptions import DomainError
from demo.data import demo_load

LABELS = {
    "accounts": ("account", "accounts"),
    "orders": ("order", "orders"),
    "schedules": ("schedule", "schedules"),
    "schedule_groups": ("schedule group", "schedule groups"),
    "usage_summaries": ("usage summary", "usage summaries"),
    "contacts": ("contact", "contacts"),
    "billing_profiles": ("billing profile", "billing profiles"),
    "payment_methods": ("saved payment method", "saved payment methods"),
    "legal_entities": ("legal entity", "legal entities"),
    "payment_terms": ("payment term", "payment terms"),
    "units": ("unit of measure", "units of measure"),
    "products": ("product", "products"),
    "tax_rates": ("tax rate", "tax rates"),
    "sequence_policies": ("sequence policy", "sequence policies"),
    "dunning_policies": ("dunning policy", "dunning policies"),
}


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use a date as YYYY-MM-DD, not {value!r}")


class Command(BaseCommand):
    help = (
        "Load the demo data: two legal entities, products, tax rates, sequence policies and "
        "20 accounts (DEMO-001…DEMO-020) with activated orders dated relative to today. "
        "Running it again creates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            type=_date,
            default=None,
            help="The date the demo orders are dated from (YYYY-MM-DD; default: today).",
        )

    def handle(self, *args, today=None, **options):
        try:
            counts = demo_load(today=today or timezone.localdate())
        except DomainError as exc:
            raise CommandError(str(exc))
        # The headline figures first: accounts, orders, schedules.
        created = [
            f"{counts[key]} {labels[0 if counts[key] == 1 else 1]}"
            for key, labels in LABELS.items()
            if counts.get(key)
        ]
        if not created:
            self.stdout.write("Demo data already loaded; nothing changed.")
        else:
            self.stdout.write(self.style.SUCCESS("Demo data ready: " + ", ".join(created) + "."))
