"""The daily beat task of dunning (dunning/tasks.py): registered under its stored name, in the
beat schedule (which django-celery-beat's scheduler stores as a PeriodicTask), following the
one task policy, sending the reminders due today, nothing twice on a second delivery."""

import datetime as dt
import json

import pytest
from celery import current_app
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.db import InterfaceError, OperationalError
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from freezegun import freeze_time

from config.celery import app
from dunning import tasks
from dunning.models import DunningReminder
from tests.support.dunning import invoice_for, reminder_rows

d = dt.date


def test_the_task_is_registered_and_follows_the_one_policy():
    task = tasks.send_dunning_reminders_task
    assert tasks.SEND_REMINDERS == "dunning.send_reminders"
    assert current_app.tasks["dunning.send_reminders"] == task
    assert task.acks_late is True
    assert task.autoretry_for == (OperationalError, InterfaceError)
    assert (task.retry_backoff, task.retry_backoff_max, task.max_retries) == (2, 60, 5)
    assert 0 < task.soft_time_limit < task.time_limit


def test_beat_runs_it_every_morning():
    entry = settings.CELERY_BEAT_SCHEDULE["dunning-send-reminders"]
    assert entry["task"] == tasks.SEND_REMINDERS
    assert entry["schedule"] == crontab(hour=6, minute=0)
    assert app.conf.beat_schedule["dunning-send-reminders"]["task"] == tasks.SEND_REMINDERS


@pytest.mark.django_db
def test_the_database_scheduler_stores_the_entry_as_a_periodic_task():
    """As DatabaseScheduler.setup_schedule does for each beat_schedule entry at start."""
    name = "dunning-send-reminders"
    DatabaseScheduler.Entry.from_entry(name, app=app, **app.conf.beat_schedule[name])
    stored = PeriodicTask.objects.get(name="dunning-send-reminders")
    assert (stored.task, stored.enabled, json.loads(stored.args or "[]")) == (
        "dunning.send_reminders",
        True,
        [],
    )
    cron = stored.crontab
    assert (cron.minute, cron.hour, cron.day_of_week, cron.day_of_month) == ("0", "6", "*", "*")


@pytest.mark.django_db
def test_the_task_sends_todays_reminders_once(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
    with freeze_time("2026-02-07 06:00"):
        assert tasks.send_dunning_reminders_task.delay().get() == {
            "sent": 1,
            "skipped": 0,
            "failed": 0,
            "not_due": 0,
        }
        # A second delivery of the same message finds the reminder sent.
        assert tasks.send_dunning_reminders_task.delay().get()["sent"] == 0
    assert reminder_rows() == [("INV-0001", 7, d(2026, 2, 7), "sent")]
    assert DunningReminder.objects.get().requested_by == "daily task"
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_task_takes_a_date(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
    with freeze_time("2026-03-01 06:00"):
        tasks.send_dunning_reminders_task.delay("2026-01-28").get()
    assert reminder_rows() == [("INV-0001", -3, d(2026, 1, 28), "sent")]
