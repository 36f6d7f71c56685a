"""Dunning policies (dunning/services/policies.py): one per legal entity, written with their
steps; steps replaced by day; every refusal names its field and changes nothing."""

import datetime as dt

import pytest
from freezegun import freeze_time

from accounts.models import LegalEntity
from core.crud import InUse, instance_delete
from core.exceptions import ValidationError
from dunning.exceptions import DunningPolicyNotFound
from dunning.models import DunningPolicy, DunningReminder, DunningStep
from dunning.services.policies import (
    dunning_policy_create,
    dunning_policy_delete,
    dunning_policy_update,
)
from invoicing.models import EmailTemplate, SequencePolicy
from tests.support.dunning import invoice_for, reminder_rows, run_on
from tests.support.invoicing import subscribe

pytestmark = pytest.mark.django_db
d = dt.date


def policy_rows() -> list[tuple]:
    return sorted(DunningPolicy.objects.values_list("pk", "legal_entity_id", "name", "is_active"))


def step_rows() -> list[tuple]:
    return list(
        DunningStep.objects.order_by("policy_id", "days_after_due").values_list(
            "pk", "policy_id", "days_after_due", "email_template_id"
        )
    )


def test_create_orders_the_steps_by_day(world):
    template = EmailTemplate.objects.create(name="Final", subject="Final: {number}", body="-")
    policy = dunning_policy_create(
        legal_entity=world.seller,
        name="  Standard  ",
        steps=[
            {"days_after_due": 21, "email_template": template.pk},
            {"days_after_due": "-3"},
            {"days_after_due": 7, "email_template": None},
        ],
    )
    assert (policy.name, policy.is_active, policy.legal_entity_id) == (
        "Standard",
        True,
        world.seller.pk,
    )
    assert [(s.days_after_due, s.email_template_id) for s in policy.steps.all()] == [
        (-3, None),
        (7, None),
        (21, template.pk),
    ]
    assert [str(s) for s in policy.steps.all()] == [
        "3 days before due",
        "7 days after due",
        "21 days after due",
    ]


def test_every_error_is_named_at_once_and_nothing_is_written(world):
    inactive = EmailTemplate.objects.create(name="Old", subject="-", body="-", is_active=False)
    with pytest.raises(ValidationError) as refused:
        dunning_policy_create(
            legal_entity=None,
            name="",
            steps=[
                {"days_after_due": 7},
                {"days_after_due": "seven"},
                {"days_after_due": 7},
                {"days_after_due": 400, "email_template": inactive},
                {"days_after_due": None, "email_template": 999999},
                {"days_after_due": 2.5},
            ],
        )
    assert refused.value.details == {
        "legal_entity": ["Choose the legal entity (seller) whose invoices this policy reminds of."],
        "name": ["This field cannot be blank."],
        "steps[1].days_after_due": ["'seven' is not a whole number of days."],
        "steps[2].days_after_due": ["Step 1 is 7 days after due already: one step a day."],
        "steps[3].days_after_due": [
            "400 is out of range: a step is at most 365 days before or after the due date."
        ],
        "steps[3].email_template": [
            "Email template 'Old' is inactive: activate it or choose another."
        ],
        "steps[4].days_after_due": [
            "Give the days after the due date (negative: before it), e.g. -3 or 7."
        ],
        "steps[4].email_template": ["Email template 999999 does not exist."],
        "steps[5].days_after_due": ["'2.5' is not a whole number of days."],
    }
    assert policy_rows() == [] and step_rows() == []

    with pytest.raises(ValidationError) as refused:
        dunning_policy_create(legal_entity=world.seller, name="Empty", steps=[])
    assert list(refused.value.details) == ["steps"]
    assert policy_rows() == []


def test_one_policy_per_legal_entity(world):
    dunning_policy_create(legal_entity=world.seller, name="First", steps=[{"days_after_due": 7}])
    before = (policy_rows(), step_rows())
    with pytest.raises(ValidationError) as refused:
        dunning_policy_create(
            legal_entity=world.seller, name="Second", steps=[{"days_after_due": 7}]
        )
    assert refused.value.details == {
        "legal_entity": [
            "Legal entity 'Ledgerline Demo Inc.' has a dunning policy already ('First'): "
            "edit that one."
        ]
    }
    assert (policy_rows(), step_rows()) == before


def test_update_replaces_steps_by_day_and_keeps_the_history(world):
    """A day kept keeps its step row; a day dropped goes, its reminders keep their day, and the
    same day added back is not sent again to the invoice it was sent to."""
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    subscribe(world, world.account)
    policy = dunning_policy_create(
        legal_entity=world.seller,
        name="Standard",
        steps=[{"days_after_due": -3}, {"days_after_due": 7}],
    )
    minus3, plus7 = policy.steps.all()
    with freeze_time("2026-01-01 06:00"):
        invoice_for(world.account, d(2026, 1, 1))
    run_on(d(2026, 2, 7))
    assert reminder_rows() == [("INV-0001", 7, d(2026, 2, 7), "sent")]

    template = EmailTemplate.objects.create(name="T", subject="-", body="-")
    dunning_policy_update(
        policy_id=policy.pk,
        name="Gentle",
        steps=[{"days_after_due": -3, "email_template": template}, {"days_after_due": 14}],
    )
    policy.refresh_from_db()
    assert policy.name == "Gentle"
    rows = step_rows()
    assert rows[0] == (minus3.pk, policy.pk, -3, template.pk)
    assert rows[1][2:] == (14, None) and len(rows) == 2
    reminder = DunningReminder.objects.get()
    assert (reminder.step_id, reminder.days_after_due) == (None, 7)

    dunning_policy_update(
        policy_id=policy.pk, steps=[{"days_after_due": 7}, {"days_after_due": 14}]
    )
    assert run_on(d(2026, 2, 8)).due == []  # 7 was sent; 14 has not come
    assert [r[2] for r in step_rows()] == [7, 14] and plus7.pk not in [r[0] for r in step_rows()]


def test_update_refusals_change_nothing(world):
    policy = dunning_policy_create(
        legal_entity=world.seller, name="Standard", steps=[{"days_after_due": 7}]
    )
    other = LegalEntity.objects.create(name="Other Seller LLC")
    dunning_policy_create(legal_entity=other, name="Other", steps=[{"days_after_due": 1}])
    before = (policy_rows(), step_rows())
    with pytest.raises(ValidationError) as refused:
        dunning_policy_update(policy_id=policy.pk, legal_entity=other, steps=[])
    assert set(refused.value.details) == {"legal_entity", "steps"}
    with pytest.raises(ValidationError) as refused:
        dunning_policy_update(policy_id=policy.pk, color="red")
    assert refused.value.details == {"color": ["Not a field of a dunning policy."]}
    with pytest.raises(DunningPolicyNotFound):
        dunning_policy_update(policy_id=999999, name="x")
    assert (policy_rows(), step_rows()) == before


def test_delete_keeps_reminders_and_a_template_in_use_cannot_be_deleted(world):
    template = EmailTemplate.objects.create(name="T", subject="-", body="-")
    policy = dunning_policy_create(
        legal_entity=world.seller,
        name="Standard",
        steps=[{"days_after_due": 7, "email_template": template}],
    )
    with pytest.raises(InUse) as refused:
        instance_delete(template)
    assert refused.value.details == {"used_by": ["dunning steps"]}
    dunning_policy_delete(policy_id=policy.pk)
    assert policy_rows() == [] and step_rows() == []
    instance_delete(template)
    with pytest.raises(DunningPolicyNotFound):
        dunning_policy_delete(policy_id=policy.pk)
