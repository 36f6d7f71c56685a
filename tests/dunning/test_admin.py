"""The dunning admin's doors (dunning/admin.py), through the admin's own views: policies are
written with their steps by the policy services; the "Send the reminders due…" action states
how many would go and to whom before it runs; disputes are opened on the add page and
resolved by an action; reminders are read-only; a read-only role changes nothing."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import LegalEntity
from core.permissions import READ_ONLY, roles_sync
from dunning.models import DunningPolicy, DunningReminder, DunningStep, InvoiceDispute
from dunning.services.disputes import invoice_dispute_open
from tests.factories import make_account
from tests.support.dunning import invoice_for, run_on, standard_policy
from tests.support.invoicing import subscribe

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _policy_form(legal_entity, steps: list[dict], *, initial: int = 0, **fields) -> dict:
    data = {
        "legal_entity": legal_entity.pk,
        "name": "Standard",
        "is_active": "on",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(initial),
        **fields,
    }
    for index, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{index}-{key}"] = value
    return data


def steps_of(policy) -> list[int]:
    return list(policy.steps.values_list("days_after_due", flat=True))


def test_a_policy_added_in_the_admin_goes_through_the_service(world, staff_client):
    response = staff_client.post(
        _url(DunningPolicy, "add"),
        _policy_form(
            world.seller,
            [{"days_after_due": "21"}, {"days_after_due": "-3"}, {"days_after_due": "7"}],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = DunningPolicy.objects.get()
    assert (policy.name, policy.legal_entity_id) == ("Standard", world.seller.pk)
    assert steps_of(policy) == [-3, 7, 21]
    listing = staff_client.get(_url(DunningPolicy, "changelist")).content.decode()
    assert "-3, +7, +21" in listing


def test_a_policy_without_steps_is_refused_on_the_form_and_nothing_is_written(world, staff_client):
    response = staff_client.post(_url(DunningPolicy, "add"), _policy_form(world.seller, []))
    assert response.status_code == 200
    assert "Add at least one step" in response.content.decode()
    assert DunningPolicy.objects.count() == 0 and DunningStep.objects.count() == 0


def test_a_policy_is_changed_and_deleted_through_the_services(dw, staff_client):
    policy = dw.policy
    steps = list(policy.steps.all())
    rows = [
        {"id": steps[0].pk, "policy": policy.pk, "days_after_due": "-3"},
        {"id": steps[1].pk, "policy": policy.pk, "days_after_due": "7", "DELETE": "on"},
        {"id": steps[2].pk, "policy": policy.pk, "days_after_due": "21"},
        {"policy": policy.pk, "days_after_due": "45"},
    ]
    response = staff_client.post(
        _url(DunningPolicy, "change", policy.pk),
        _policy_form(dw.seller, rows, initial=3, name="Firm"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert policy.name == "Firm" and steps_of(policy) == [-3, 21, 45]
    assert policy.steps.get(days_after_due=-3).pk == steps[0].pk

    response = staff_client.post(_url(DunningPolicy, "delete", policy.pk), {"post": "yes"})
    assert response.status_code == 302
    assert DunningPolicy.objects.count() == 0


def test_the_send_action_states_who_would_get_what_then_sends(dw, staff_client):
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
    url = _url(DunningPolicy, "changelist")
    chosen = {"action": "send_reminders", "_selected_action": [dw.policy.pk]}
    with freeze_time("2026-02-07 08:00"):
        page = staff_client.post(url, chosen).content.decode()
        assert DunningReminder.objects.count() == 0 and mail.outbox == []
        done = staff_client.post(url, {**chosen, "apply": "1", "date": "2026-02-07"}, follow=True)
    assert (
        "On 2026-02-07, 1 reminder(s) would be emailed: INV-0001 to ap@example.com "
        "(7 days after due)." in page
    )
    assert "Reminders for 2026-02-07: 1 sent, 0 skipped (opted out), 0 failed." in (
        done.content.decode()
    )
    assert list(DunningReminder.objects.values_list("days_after_due", "requested_by")) == [
        (7, "root")
    ]
    assert len(mail.outbox) == 1

    with freeze_time("2026-02-07 08:00"):
        future = staff_client.post(url, {**chosen, "apply": "1", "date": "2026-02-08"})
    assert "2026-02-08 is after today (2026-02-07)" in future.content.decode()
    assert len(mail.outbox) == 1


def test_a_dispute_is_opened_on_the_add_page_and_resolved_by_the_action(dw, staff_client):
    with freeze_time("2026-01-01 06:00"):
        invoice = invoice_for(dw.account, d(2026, 1, 1))
    response = staff_client.post(
        _url(InvoiceDispute, "add"), {"invoice": invoice.pk, "reason": "Seats billed twice"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dispute = InvoiceDispute.objects.get()
    assert (dispute.reason, dispute.opened_by, dispute.is_open) == (
        "Seats billed twice",
        "root",
        True,
    )
    again = staff_client.post(
        _url(InvoiceDispute, "add"), {"invoice": invoice.pk, "reason": "Again"}
    )
    assert again.status_code == 200 and "already disputed" in again.content.decode()
    assert InvoiceDispute.objects.count() == 1

    url = _url(InvoiceDispute, "changelist")
    chosen = {"action": "resolve_disputes", "_selected_action": [dispute.pk]}
    assert "Resolve disputes" in staff_client.post(url, chosen).content.decode()
    staff_client.post(url, {**chosen, "apply": "1", "resolution": "Billed once"})
    dispute.refresh_from_db()
    assert (dispute.is_open, dispute.resolution, dispute.resolved_by) == (
        False,
        "Billed once",
        "root",
    )
    page = staff_client.get(_url(InvoiceDispute, "change", dispute.pk)).content.decode()
    assert "Billed once" in page and 'name="_save"' not in page


def test_reminders_are_read_only_and_a_read_only_role_changes_nothing(dw, client):
    roles_sync()
    user = User.objects.create_user("rita", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=READ_ONLY))
    client.force_login(user)
    assert client.get(_url(DunningPolicy, "changelist")).status_code == 200
    assert client.get(_url(DunningReminder, "changelist")).status_code == 200
    assert client.get(_url(DunningPolicy, "add")).status_code == 403
    assert client.get(_url(InvoiceDispute, "add")).status_code == 403
    before = steps_of(dw.policy)
    client.post(
        _url(DunningPolicy, "changelist"),
        {"action": "send_reminders", "_selected_action": [dw.policy.pk], "apply": "1"},
    )
    client.post(
        _url(DunningPolicy, "change", dw.policy.pk),
        _policy_form(dw.seller, [], name="Changed"),
    )
    dw.policy.refresh_from_db()
    assert dw.policy.name == "Standard reminders" and steps_of(dw.policy) == before
    assert DunningReminder.objects.count() == 0


def _rows(dw, n: int) -> None:
    """n more invoices (each of a new account, due Jan 31), each reminded on Feb 7 and
    disputed; and n more policies of new sellers."""
    start = DunningPolicy.objects.count()
    invoices = []
    for i in range(n):
        account = make_account(f"Customer {start + i}", seller=dw.seller)
        subscribe(dw, account)
        with freeze_time("2026-01-01 06:00"):
            invoices.append(invoice_for(account, d(2026, 1, 1)))
        seller = LegalEntity.objects.create(name=f"Seller {start + i}")
        standard_policy(dw, legal_entity=seller, name=f"Policy {start + i}")
    run_on(d(2026, 2, 7))
    for invoice in invoices:
        invoice_dispute_open(invoice_id=invoice.pk, reason="Seats")


@pytest.mark.parametrize("model", [DunningPolicy, DunningStep, DunningReminder, InvoiceDispute])
def test_changelists_and_change_pages_render_in_queries_that_do_not_grow(dw, staff_client, model):
    _rows(dw, 1)
    url = _url(model, "changelist")
    staff_client.get(url)  # warm caches
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    _rows(dw, 3)
    with CaptureQueriesContext(connection) as more:
        response = staff_client.get(url)
    assert response.context["cl"].result_count == model.objects.count() > 1
    assert len(more) == len(few), [q["sql"] for q in more.captured_queries]
    obj = model.objects.order_by("pk").first()
    assert staff_client.get(_url(model, "change", obj.pk)).status_code == 200
