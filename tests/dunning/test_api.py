"""The dunning API: `dunning-policies/` (CRUD with nested steps), `dunning/due`, `dunning/run`,
`dunning-reminders/`, `invoices/{id}/dunning`, `invoices/{id}/dispute` and
`invoices/{id}/resolve-dispute`: shapes, errors by path, roles (read-only reads, never
writes), and nothing changed on a refusal."""

import datetime as dt

import pytest
from django.core import mail
from freezegun import freeze_time

from accounts.models import LegalEntity
from dunning.models import DunningPolicy, DunningReminder, DunningStep, InvoiceDispute
from invoicing.models import EmailTemplate
from tests.support.dunning import invoice_for

pytestmark = pytest.mark.django_db
d = dt.date


def policy_state() -> tuple:
    return (
        sorted(DunningPolicy.objects.values_list("pk", "legal_entity_id", "name", "is_active")),
        sorted(DunningStep.objects.values_list("pk", "policy_id", "days_after_due")),
    )


@pytest.fixture
def acme_invoice(dw):
    with freeze_time("2026-01-01 06:00"):
        return invoice_for(dw.account, d(2026, 1, 1))  # INV-0001, due Jan 31, 53.13


# --- policies ---------------------------------------------------------------------------------


def test_policies_crud_with_steps(world, ops):
    template = EmailTemplate.objects.create(name="Final", subject="Final {number}", body="-")
    created = ops.post(
        "/api/v1/dunning-policies/",
        {
            "legal_entity": world.seller.pk,
            "name": "Standard",
            "steps": [
                {"days_after_due": 21, "email_template": template.pk},
                {"days_after_due": -3},
                {"days_after_due": 7, "email_template": None},
            ],
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    pk = body["id"]
    steps = body["steps"]
    assert [(s["days_after_due"], s["email_template"]) for s in steps] == [
        (-3, None),
        (7, None),
        (21, template.pk),
    ]
    assert {k: body[k] for k in ("legal_entity", "name", "is_active")} == {
        "legal_entity": world.seller.pk,
        "name": "Standard",
        "is_active": True,
    }
    listed = ops.get("/api/v1/dunning-policies/", {"legal_entity": world.seller.pk}).json()
    assert listed["count"] == 1 and listed["results"][0] == body
    assert ops.get(f"/api/v1/dunning-policies/{pk}").json() == body

    # PATCH without steps keeps them; with steps replaces them, a kept day keeps its step.
    patched = ops.patch(f"/api/v1/dunning-policies/{pk}", {"is_active": False}).json()
    assert patched["is_active"] is False and patched["steps"] == steps
    patched = ops.patch(
        f"/api/v1/dunning-policies/{pk}",
        {"steps": [{"days_after_due": 7}, {"days_after_due": 30}]},
    ).json()
    assert [(s["id"] == steps[1]["id"], s["days_after_due"]) for s in patched["steps"]] == [
        (True, 7),
        (False, 30),
    ]
    put = ops.put(
        f"/api/v1/dunning-policies/{pk}",
        {"legal_entity": world.seller.pk, "name": "Gentle", "is_active": True, "steps": []},
    )
    assert put.status_code == 400 and list(put.json()["details"]) == ["steps"]
    assert ops.delete(f"/api/v1/dunning-policies/{pk}").status_code == 204
    assert policy_state() == ([], [])


def test_policy_errors_name_their_path_and_change_nothing(world, ops):
    inactive = EmailTemplate.objects.create(name="Old", subject="-", body="-", is_active=False)
    ops.post(
        "/api/v1/dunning-policies/",
        {"legal_entity": world.seller.pk, "name": "Standard", "steps": [{"days_after_due": 7}]},
    )
    before = policy_state()
    again = ops.post(
        "/api/v1/dunning-policies/",
        {
            "legal_entity": world.seller.pk,
            "name": "Second",
            "steps": [
                {"days_after_due": 7},
                {"days_after_due": 7, "email_template": inactive.pk},
            ],
        },
    )
    assert again.status_code == 400
    assert again.json()["details"] == {
        "legal_entity": [
            "Legal entity 'Ledgerline Demo Inc.' has a dunning policy already ('Standard'): "
            "edit that one."
        ],
        "steps[1].days_after_due": ["Step 1 is 7 days after due already: one step a day."],
        "steps[1].email_template": [
            "Email template 'Old' is inactive: activate it or choose another."
        ],
    }
    other = LegalEntity.objects.create(name="Other Seller LLC")
    bad = ops.post(
        "/api/v1/dunning-policies/",
        {
            "legal_entity": other.pk,
            "name": "Other",
            "steps": [{"days_after_due": 400}, {"email_template": 999999}],
        },
    )
    assert bad.status_code == 400
    assert set(bad.json()["details"]) == {
        "steps[0].days_after_due",
        "steps[1].days_after_due",
        "steps[1].email_template",
    }
    assert policy_state() == before


def test_read_only_reads_policies_and_cannot_change_them(dw, reader):
    assert reader.get("/api/v1/dunning-policies/").json()["count"] == 1
    before = policy_state()
    pk = dw.policy.pk
    for response in (
        reader.post("/api/v1/dunning-policies/", {"name": "x"}),
        reader.patch(f"/api/v1/dunning-policies/{pk}", {"name": "x"}),
        reader.delete(f"/api/v1/dunning-policies/{pk}"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert policy_state() == before


# --- runs -------------------------------------------------------------------------------------


def test_due_dry_run_run_and_rerun(dw, acme_invoice, ops, reader):
    dw.globex.bulk_email_opt_out = True
    dw.globex.save()
    with freeze_time("2026-01-01 06:00"):
        globex = invoice_for(dw.globex, d(2026, 1, 1))

    with freeze_time("2026-02-07 07:00"):
        due = reader.get("/api/v1/dunning/due").json()  # default: today
        dry = ops.post("/api/v1/dunning/run", {"date": "2026-02-07", "dry_run": True}).json()
        assert DunningReminder.objects.count() == 0 and mail.outbox == []
        run = ops.post("/api/v1/dunning/run", {"date": "2026-02-07"}).json()
        rerun = ops.post("/api/v1/dunning/run", {"date": "2026-02-07"}).json()

    expected_due = [
        {
            "invoice": acme_invoice.pk,
            "number": "INV-0001",
            "account": dw.account.pk,
            "account_name": "Acme Corp",
            "due_date": "2026-01-31",
            "step": dw.policy.steps.get(days_after_due=7).pk,
            "days_after_due": 7,
            "step_date": "2026-02-07",
            "to": "ap@example.com",
            "opted_out": False,
        },
        {
            "invoice": globex.pk,
            "number": "INV-0002",
            "account": dw.globex.pk,
            "account_name": "Globex Ltd",
            "due_date": "2026-01-31",
            "step": dw.policy.steps.get(days_after_due=7).pk,
            "days_after_due": 7,
            "step_date": "2026-02-07",
            "to": "ap@example.com",
            "opted_out": True,
        },
    ]
    assert due == {"date": "2026-02-07", "due": expected_due}
    assert dry == {
        "date": "2026-02-07",
        "dry_run": True,
        "summary": "Dry run for 2026-02-07: 1 reminder(s) would be emailed, 1 skipped (opted "
        "out of bulk email); nothing sent.",
        "counts": None,
        "due": expected_due,
        "reminders": [],
    }
    assert run["counts"] == {"sent": 1, "skipped": 1, "failed": 0, "not_due": 0}
    assert run["summary"] == ("Reminders for 2026-02-07: 1 sent, 1 skipped (opted out), 0 failed.")
    assert [
        (r["number"], r["days_after_due"], r["step_label"], r["sent_on"], r["status"], r["to"])
        for r in run["reminders"]
    ] == [
        ("INV-0001", 7, "7 days after due", "2026-02-07", "sent", "ap@example.com"),
        ("INV-0002", 7, "7 days after due", "2026-02-07", "skipped", "ap@example.com"),
    ]
    assert run["reminders"][0]["sent_at"] == "2026-02-07T07:00:00Z"
    assert run["reminders"][1]["sent_at"] is None
    assert run["reminders"][0]["requested_by"] == "ops-token"
    assert rerun["counts"] == {"sent": 0, "skipped": 0, "failed": 0, "not_due": 0}
    assert rerun["due"] == [] and len(mail.outbox) == 1

    listed = reader.get("/api/v1/dunning-reminders/", {"invoice": acme_invoice.pk}).json()
    assert [(r["number"], r["status"]) for r in listed["results"]] == [("INV-0001", "sent")]


def test_run_refusals(dw, acme_invoice, ops, reader):
    with freeze_time("2026-02-07 07:00"):
        future = ops.post("/api/v1/dunning/run", {"date": "2026-02-08"})
        missing = ops.post("/api/v1/dunning/run", {})
        bad_date = reader.get("/api/v1/dunning/due", {"date": "07/02/2026"})
        forbidden = reader.post("/api/v1/dunning/run", {"date": "2026-02-07"})
    assert (future.status_code, future.json()["details"]) == (
        400,
        {
            "date": [
                "2026-02-08 is after today (2026-02-07): reminders go on their day, never "
                "ahead of it."
            ]
        },
    )
    assert missing.status_code == 400 and list(missing.json()["details"]) == ["date"]
    assert bad_date.status_code == 400 and list(bad_date.json()["details"]) == ["date"]
    assert forbidden.status_code == 403
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


# --- one invoice ------------------------------------------------------------------------------


def test_invoice_dunning_dispute_and_resolve(dw, acme_invoice, ops, reader):
    pk = acme_invoice.pk
    with freeze_time("2026-01-28 07:00"):
        ops.post("/api/v1/dunning/run", {"date": "2026-01-28"})
    with freeze_time("2026-02-01 09:00"):
        state = reader.get(f"/api/v1/invoices/{pk}/dunning").json()
        disputed = ops.post(f"/api/v1/invoices/{pk}/dispute", {"reason": "Seats billed twice"})
        again = ops.post(f"/api/v1/invoices/{pk}/dispute", {"reason": "Again"})
    assert {k: state[k] for k in ("invoice", "number", "policy", "disputed", "dispute")} == {
        "invoice": pk,
        "number": "INV-0001",
        "policy": dw.policy.pk,
        "disputed": False,
        "dispute": None,
    }
    assert (state["stopped"], state["stop_message"]) == (None, "")
    assert state["next"] == {
        "step": dw.policy.steps.get(days_after_due=7).pk,
        "days_after_due": 7,
        "on": "2026-02-07",
    }
    assert [(r["days_after_due"], r["status"], r["sent_on"]) for r in state["dunning"]] == [
        (-3, "sent", "2026-01-28")
    ]

    assert disputed.status_code == 201
    body = disputed.json()
    assert (body["disputed"], body["stopped"], body["next"]) == (True, "disputed", None)
    assert body["stop_message"] == (
        "The invoice is disputed: dunning is paused until the dispute is resolved."
    )
    assert {k: body["dispute"][k] for k in ("reason", "opened_by", "opened_at", "is_open")} == {
        "reason": "Seats billed twice",
        "opened_by": "ops-token",
        "opened_at": "2026-02-01T09:00:00Z",
        "is_open": True,
    }
    assert again.status_code == 409 and again.json()["code"] == "invoice_disputed"

    with freeze_time("2026-02-07 07:00"):
        paused = ops.post("/api/v1/dunning/run", {"date": "2026-02-07"}).json()
    assert paused["due"] == []

    forbidden = reader.post(f"/api/v1/invoices/{pk}/resolve-dispute", {})
    assert forbidden.status_code == 403
    with freeze_time("2026-02-10 12:00"):
        resolved = ops.post(f"/api/v1/invoices/{pk}/resolve-dispute", {"resolution": "Billed once"})
        twice = ops.post(f"/api/v1/invoices/{pk}/resolve-dispute", {})
    assert resolved.status_code == 200
    body = resolved.json()
    assert (body["disputed"], body["dispute"], body["stopped"]) == (False, None, None)
    assert body["next"]["on"] == "2026-02-10" and body["next"]["days_after_due"] == 7
    assert [(x["resolution"], x["resolved_by"], x["is_open"]) for x in body["disputes"]] == [
        ("Billed once", "ops-token", False)
    ]
    assert twice.status_code == 409 and twice.json()["code"] == "invoice_not_disputed"


def test_dispute_refusals_change_nothing(dw, acme_invoice, ops, reader):
    pk = acme_invoice.pk
    empty = ops.post(f"/api/v1/invoices/{pk}/dispute", {"reason": ""})
    assert empty.status_code == 400 and list(empty.json()["details"]) == ["reason"]
    assert reader.post(f"/api/v1/invoices/{pk}/dispute", {"reason": "x"}).status_code == 403
    unknown = ops.post("/api/v1/invoices/999999/dispute", {"reason": "x"})
    assert unknown.status_code == 404
    assert ops.get("/api/v1/invoices/999999/dunning").status_code == 404
    assert InvoiceDispute.objects.count() == 0


# --- the invoice resource's `dunning` and `disputed` (API.md) ------------------------------------


def test_the_invoice_shows_its_reminders_and_patches_its_dispute(dw, acme_invoice, ops, reader):
    url = f"/api/v1/invoices/{acme_invoice.pk}"
    body = reader.get(url).json()
    assert (body["dunning"], body["disputed"]) == ([], False)
    with freeze_time("2026-02-07 07:00"):
        ops.post("/api/v1/dunning/run", {"date": "2026-02-07"})
    body = reader.get(url).json()
    assert [r["step"] for r in body["dunning"]] == [7]
    assert body["dunning"][0]["sent_at"].startswith("2026-02-07T07:00")
    listed = reader.get("/api/v1/invoices/", {"number": "INV-0001"}).json()["results"]
    assert (listed[0]["dunning"], listed[0]["disputed"]) == (body["dunning"], False)

    assert reader.patch(url, {"disputed": True}).status_code == 403
    opened = ops.patch(url, {"disputed": True, "dispute_reason": "Seats billed after cancel"})
    assert opened.status_code == 200, opened.content
    assert opened.json()["disputed"] is True
    assert InvoiceDispute.objects.get().reason == "Seats billed after cancel"
    again = ops.patch(url, {"disputed": True})
    assert again.status_code == 409
    resolved = ops.patch(url, {"disputed": False})
    assert resolved.status_code == 200 and resolved.json()["disputed"] is False
