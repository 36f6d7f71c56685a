"""The Celery tasks: the names services queue them by (invoicing/dispatch.py) are the registered
tasks, every task follows the one policy (late acknowledgement, retries of transient database
errors only, time limits), and the tasks are idempotent."""

import datetime as dt

import pytest
from celery import current_app
from celery.exceptions import NotRegistered
from django.db import InterfaceError, OperationalError

from core.exceptions import NotFound
from invoicing import dispatch, tasks
from invoicing.models import InvoiceDocument
from invoicing.services import runs
from tests.support.invoicing import generate

d = dt.date
TASKS = [
    tasks.scheduler_fire_task,
    tasks.batch_run_plan_task,
    tasks.batch_run_chunk_task,
    tasks.batch_run_summarise_task,
    tasks.batch_run_draft_to_posted_task,
    tasks.batch_run_send_email_task,
    tasks.batch_run_recover_task,
    tasks.render_invoice_pdf_task,
    tasks.convert_negative_lines_task,
    tasks.supervise_runs_task,
]


def test_the_dispatch_names_are_exactly_the_registered_tasks():
    registered = {name for name in current_app.tasks if name.startswith("invoicing.")}
    assert registered == set(dispatch.TASK_NAMES)
    assert [t.name for t in TASKS] == list(dispatch.TASK_NAMES)
    for task in TASKS:
        assert current_app.tasks[task.name] == task
    with pytest.raises(NotRegistered):
        dispatch.task_queue("invoicing.no_such_task", 1)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_every_task_follows_the_one_policy(task):
    assert task.acks_late is True
    assert task.autoretry_for == (OperationalError, InterfaceError)
    assert (task.retry_backoff, task.retry_backoff_max, task.max_retries) == (2, 60, 5)
    assert 0 < task.soft_time_limit < task.time_limit


@pytest.mark.django_db
def test_a_transient_database_error_is_retried(monkeypatch):
    calls = []

    class Summarised:
        status = "completed"

    def flaky(*, run_id):
        calls.append(run_id)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return Summarised()

    monkeypatch.setattr(runs, "batch_run_summarise", flaky)
    # Eager Celery runs the retry at once (a worker waits for the back-off first).
    result = tasks.batch_run_summarise_task.apply(args=(7,), throw=False)
    assert (result.get(), calls) == ("completed", [7, 7])


@pytest.mark.django_db
def test_a_domain_error_is_not_retried(monkeypatch):
    calls = []

    def missing(*, run_id):
        calls.append(run_id)
        raise NotFound(f"Invoice batch run {run_id} does not exist.")

    monkeypatch.setattr(runs, "batch_run_summarise", missing)
    with pytest.raises(NotFound):
        tasks.batch_run_summarise_task.delay(7)
    assert calls == [7]


@pytest.mark.django_db
def test_the_render_task_is_idempotent(lw):
    invoice = generate(lw, d(2026, 1, 15))
    first = tasks.render_invoice_pdf_task.delay(invoice.pk).get()
    second = tasks.render_invoice_pdf_task.delay(invoice.pk).get()
    assert first == second
    assert InvoiceDocument.objects.count() == 1
    assert tasks.render_invoice_pdf_task.delay(999999).get() is None
