"""Celery task of dunning: the daily beat entry point (CELERY_BEAT_SCHEDULE in
config/settings/base.py names it). Thin: it calls the run service for today (or the date
given) and returns its counts. It follows invoicing's task policy (invoicing/tasks.py
`POLICY`): acknowledged late, retried on transient database errors only, time limits. A
retry or a second delivery sends nothing twice: every reminder is claimed before it is sent
(dunning/services/reminders.py)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from dunning.services.reminders import dunning_run
from invoicing.tasks import POLICY

SEND_REMINDERS = "dunning.send_reminders"  # stored in beat's PeriodicTask rows: never rename


@shared_task(name=SEND_REMINDERS, soft_time_limit=3000, time_limit=3600, **POLICY)
def send_dunning_reminders_task(on: str | None = None) -> dict[str, int]:
    """Send the reminders due today (`on`: an ISO date instead)."""
    day = dt.date.fromisoformat(on) if on else timezone.localdate()
    return dunning_run(on=day, requested_by="daily task").counts
