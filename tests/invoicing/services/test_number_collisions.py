"""Numbers never collide (issue 15): an imported number in a policy's future range is refused,
a taken number met by a policy is skipped, a used policy is neither deleted nor re-patterned,
and a new policy does not start where documents already hold its numbers."""

import datetime as dt
import re
import threading
import time
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from invoicing.exceptions import SequenceNumberTaken
from invoicing.models import CreditMemo, Invoice, InvoiceLine, SequencePolicy
from invoicing.services.generation import invoices_generate
from invoicing.services.ingestion import invoice_ingest
from invoicing.services.numbering import (
    number_taken_error,
    sequence_number_regex,
    sequence_number_take,
    sequence_numbers_take,
    sequence_policies_issuing,
)
from invoicing.services.posting import invoices_post
from invoicing.services.sequence_policies import (
    sequence_policy_create,
    sequence_policy_delete,
    sequence_policy_update,
)
from tests.factories import AccountFactory, CreditMemoFactory, InvoiceFactory
from tests.invoicing.api.test_invoices_ingest import posted_body

pytestmark = pytest.mark.django_db
API = "/api/v1/"
DAY = dt.date(2026, 11, 5)


@pytest.fixture
def iw(api_world):
    """The API world (policy 'US': INV-{SEQ}, width 4, nothing issued) with an ERP id."""
    api_world.account.external_id = "ERP-4711"
    api_world.account.save(update_fields=["external_id"])
    return api_world


def drafts(ops, n: int) -> list[int]:
    """n draft invoices of 10.00 through the ingestion API."""
    ids = []
    for i in range(n):
        body = posted_body(status="draft", number="", posted_date=None, unique_identifier="")
        body["lines"] = [{"name": f"Fee {i}", "quantity": "1", "unit_price": "10.00"}]
        response = ops.post(API + "invoices/ingest", body)
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def post_all(ops, ids) -> list[str]:
    numbers = []
    for pk in ids:
        response = ops.post(f"{API}invoices/{pk}/post")
        assert response.status_code == 200, response.content
        numbers.append(response.json()["number"])
    return numbers


def rows() -> dict:
    return {
        "invoices": Invoice.objects.count(),
        "posted": Invoice.objects.filter(status="posted").count(),
        "lines": InvoiceLine.objects.count(),
        "policies": list(
            SequencePolicy.objects.order_by("id").values_list(
                "id", "name", "pattern", "start", "min_width", "is_active", "next_value"
            )
        ),
    }


def take(policy, dates) -> list[str]:
    with transaction.atomic():
        return sequence_numbers_take(policy_id=policy.pk, on_dates=dates)


# --- the reproduction: an imported number ahead of the policy --------------------------------


def issued_later(number, value, next_value, unused=True) -> str:
    tail = (
        " To keep old numbers of this pattern, set the policy's start above the last of them "
        "(it has issued none yet)."
        if unused
        else ""
    )
    return (
        f"Number {number} is one sequence policy 'US' (INV-{{SEQ}}) issues later: its value "
        f"{value} is at or above the policy's next value {next_value}, and an imported number "
        "may not take a place the policy will fill. Import the invoice without a number so it "
        "takes the policy's next one, or give it a number outside the policy's pattern (e.g. "
        f"the previous system's).{tail}"
    )


def test_an_imported_number_ahead_of_the_policy_is_refused_and_posting_goes_past_it(ops, iw):
    """Issue 15: INV-…50 was accepted while the policy stood at 1, then every posting that
    reached 50 failed. Now the import is refused and posting numbers 1, 2, 3 straight on."""
    before = rows()
    response = ops.post(API + "invoices/ingest", posted_body(number="INV-0003"))

    assert response.status_code == 400, response.content
    assert response.json()["details"] == {"number": [issued_later("INV-0003", 3, 1)]}
    assert rows() == before

    assert post_all(ops, drafts(ops, 3)) == ["INV-0001", "INV-0002", "INV-0003"]
    assert SequencePolicy.objects.get().next_value == 4


def test_an_import_ahead_of_a_used_policy_is_refused_without_the_start_hint(ops, iw):
    post_all(ops, drafts(ops, 2))

    response = ops.post(API + "invoices/ingest", posted_body(number="INV-0050"))

    assert response.status_code == 400
    assert response.json()["details"] == {"number": [issued_later("INV-0050", 50, 3, unused=False)]}
    assert Invoice.objects.filter(number="INV-0050").count() == 0


def test_an_inactive_policy_still_guards_its_future_numbers(ops, iw):
    SequencePolicy.objects.create(name="Old", pattern="OLD-{SEQ}", min_width=3, is_active=False)

    response = ops.post(API + "invoices/ingest", posted_body(number="OLD-007"))

    assert response.status_code == 400
    assert response.json()["details"]["number"][0].startswith(
        "Number OLD-007 is one sequence policy 'Old' (OLD-{SEQ}) issues later: its value 7 is "
        "at or above the policy's next value 1"
    )


@pytest.mark.parametrize(
    ("policy", "number"),
    [
        # The previous system's own pattern.
        ({}, "LEGACY-0042"),
        # The policy's pattern below its start: a migration keeps its old numbers this way.
        ({"start": 100}, "INV-0042"),
        # Another width: the policy renders INV-0042, never INV-00042.
        ({}, "INV-00042"),
        # Off the policy's steps (1, 3, 5, …).
        ({"increment": 2}, "INV-0042"),
    ],
    ids=["other pattern", "below the start", "other width", "off the steps"],
)
def test_a_number_the_policies_never_issue_is_kept(ops, iw, policy, number):
    SequencePolicy.objects.filter(pk=iw.policy.pk).update(**policy)

    response = ops.post(API + "invoices/ingest", posted_body(number=number))

    assert response.status_code == 201, response.content
    assert response.json()["number"] == number
    assert SequencePolicy.objects.get().next_value is None


def test_a_number_of_a_past_value_with_another_date_stamp_is_kept(ops, iw):
    """The policy has passed value 1 (it issued INV-2026-000001): INV-2025-000001 is free and
    never issued again."""
    SequencePolicy.objects.filter(pk=iw.policy.pk).update(
        pattern="INV-{DATE}-{SEQ}", min_width=6, next_value=2
    )

    kept = ops.post(API + "invoices/ingest", posted_body(number="INV-2025-000001"))
    ahead = ops.post(
        API + "invoices/ingest", posted_body(number="INV-2025-000002", unique_identifier="u2")
    )

    assert kept.status_code == 201, kept.content
    assert ahead.status_code == 400
    assert list(ahead.json()["details"]) == ["number"]


def test_a_migration_sets_the_start_then_imports_its_old_numbers(ops, admin, iw):
    """The workflow the refusal points to: start the unused policy above the old numbers,
    import them with their numbers, and new invoices continue after them."""
    assert admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"start": 4}).status_code == 200
    for n in (1, 2, 3):
        body = posted_body(number=f"INV-000{n}", unique_identifier=f"old-{n}")
        assert ops.post(API + "invoices/ingest", body).status_code == 201

    assert post_all(ops, drafts(ops, 2)) == ["INV-0004", "INV-0005"]


# --- the take skips taken numbers ------------------------------------------------------------


def test_generation_skips_a_number_an_earlier_import_took(iw):
    """An import made before this check (INV-0002) sits in the policy's range: generation
    numbers around it instead of failing every key that reaches it."""
    InvoiceFactory(account=iw.account, posted=True, number="INV-0002")
    numbers = []
    for month in (1, 2, 3):
        result = invoices_generate(
            account_id=iw.account.pk, target_date=dt.date(2026, month, 1), action="posted"
        )
        assert result.errors == []
        numbers += [i.number for i in result.invoices]

    assert numbers == ["INV-0001", "INV-0003", "INV-0004"]
    assert SequencePolicy.objects.get().next_value == 5
    assert Invoice.objects.filter(status="posted").count() == 4


def test_posting_on_demand_skips_a_taken_number_instead_of_a_server_error(ops, iw):
    """Issue 15: a used policy deleted and created again handed out INV-0001 again and
    `POST invoices/{id}/post` answered 500. A policy that meets a taken number skips it."""
    first, second = drafts(ops, 2)
    assert post_all(ops, [first]) == ["INV-0001"]
    SequencePolicy.objects.filter(pk=iw.policy.pk).update(next_value=None)  # the old state

    assert post_all(ops, [second]) == ["INV-0002"]
    assert SequencePolicy.objects.get().next_value == 3


def test_bulk_posting_skips_every_taken_number_and_keeps_id_order(iw):
    for number in ("INV-0002", "INV-0003", "INV-0005"):
        InvoiceFactory(account=iw.account, posted=True, number=number)
    ids = [InvoiceFactory(account=iw.account).pk for _ in range(4)]

    posted, failures = invoices_post(invoice_ids=ids, posted_date=DAY)

    assert (posted, failures) == (ids, [])
    assert list(Invoice.objects.filter(pk__in=ids).order_by("pk").values_list("number")) == [
        ("INV-0001",),
        ("INV-0004",),
        ("INV-0006",),
        ("INV-0007",),
    ]
    assert SequencePolicy.objects.get().next_value == 8


def test_a_credit_memo_policy_skips_numbers_credit_memos_hold_not_invoices(iw):
    policy = SequencePolicy.objects.create(
        name="CM", target="credit_memo", pattern="CM-{SEQ}", min_width=2
    )
    InvoiceFactory(account=iw.account, posted=True, number="CM-01")  # another kind of document
    CreditMemoFactory(account=iw.account, number="CM-02")

    assert take(policy, [DAY, DAY]) == ["CM-01", "CM-03"]
    policy.refresh_from_db()
    assert policy.next_value == 4


def test_a_skip_uses_the_date_of_the_document_it_numbers(iw):
    policy = SequencePolicy.objects.create(
        name="Dated", pattern="D-{DATE}-{SEQ}", min_width=1, is_active=False
    )
    InvoiceFactory(account=iw.account, posted=True, number="D-2026-1")
    InvoiceFactory(account=iw.account, posted=True, number="D-2027-3")

    numbers = take(policy, [dt.date(2026, 5, 1), dt.date(2027, 5, 1)])

    # 1 is taken in 2026: 2 for the first; 3 is taken in 2027: 4 for the second.
    assert numbers == ["D-2026-2", "D-2027-4"]


def test_taking_numbers_never_meets_the_same_wall_twice(iw):
    """The rolled-back take used to hand the same taken number out again on every retry."""
    InvoiceFactory(account=iw.account, posted=True, number="INV-0001")

    for _ in range(3):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert sequence_number_take(policy_id=iw.policy.pk, on_date=DAY) == "INV-0002"
            raise RuntimeError  # the posting rolls back: nothing consumed
    assert take(iw.policy, [DAY]) == ["INV-0002"]


# --- used policies: deactivated, never deleted nor re-patterned -------------------------------


def test_a_used_policy_is_not_deleted_but_can_be_deactivated(ops, admin, iw):
    post_all(ops, drafts(ops, 1))
    before = rows()

    response = admin.delete(f"{API}sequence-policies/{iw.policy.pk}")

    assert response.status_code == 409
    assert response.json() == {
        "code": "sequence_policy_in_use",
        "message": (
            "Sequence policy 'US' has issued numbers (its next value is 2), so it cannot be "
            "deleted: a policy created later with its pattern could issue those numbers again. "
            "Deactivate it instead (is_active false); its history stays."
        ),
        "details": {"policy": iw.policy.pk, "next_value": 2},
    }
    assert rows() == before
    deactivated = admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"is_active": False})
    assert deactivated.status_code == 200
    assert SequencePolicy.objects.get().is_active is False


def test_an_unused_policy_is_deleted(admin, iw):
    assert admin.delete(f"{API}sequence-policies/{iw.policy.pk}").status_code == 204
    assert not SequencePolicy.objects.exists()


KEPT = [
    ("pattern", "X-{SEQ}"),
    ("date_format", "MM-YYYY"),
    ("fiscal_year_start_month", 4),
    ("min_width", 6),
    ("start", 10),
    ("increment", 2),
    ("currency", "EUR"),
    ("target", "credit_memo"),
]


@pytest.mark.parametrize(("field", "value"), KEPT, ids=[k[0] for k in KEPT])
def test_a_used_policy_keeps_its_numbering_settings(ops, admin, iw, field, value):
    post_all(ops, drafts(ops, 1))
    before = rows()

    response = admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {field: value})

    assert response.status_code == 400, response.content
    label = field.replace("_", " ")
    assert response.json()["details"] == {
        field: [
            f"Sequence policy 'US' has issued numbers (next value 2), so its {label} stays as "
            "it is: changing it would break its sequence or issue numbers again. To number "
            "differently, deactivate this policy and create a new one (a new policy with this "
            "pattern starts after its last number)."
        ]
    }
    assert rows() == before


def test_a_used_policy_keeps_its_legal_entity(ops, admin, iw):
    post_all(ops, drafts(ops, 1))

    response = admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"legal_entity": iw.seller.pk})

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["legal_entity"]
    assert SequencePolicy.objects.get().legal_entity_id is None


def test_a_used_policy_is_renamed_and_its_dates_changed_and_a_put_of_the_same_settings_passes(
    ops, admin, iw
):
    post_all(ops, drafts(ops, 1))
    url = f"{API}sequence-policies/{iw.policy.pk}"
    body = admin.get(url).json()
    body.update(name="US invoices", effective_from="2026-01-01")
    for read_only in ("id", "next_value", "created_at", "updated_at"):
        body.pop(read_only)

    response = admin.put(url, body)

    assert response.status_code == 200, response.content
    policy = SequencePolicy.objects.get()
    assert (policy.name, policy.effective_from, policy.pattern, policy.next_value) == (
        "US invoices",
        dt.date(2026, 1, 1),
        "INV-{SEQ}",
        2,
    )


def test_a_policy_created_again_after_its_predecessor_starts_after_its_numbers(ops, admin, iw):
    """Issue 15: deactivating (once deleting) a used policy and creating one with its pattern
    handed out its numbers again. The new policy must start after them."""
    post_all(ops, drafts(ops, 2))
    admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"is_active": False})
    body = {"name": "US 2", "pattern": "INV-{SEQ}", "min_width": 4}
    before = rows()

    refused = admin.post(API + "sequence-policies/", body)

    assert refused.status_code == 400
    assert refused.json()["details"] == {
        "start": [
            "2 invoices already hold numbers this policy would issue (from 1 on), the highest "
            "INV-0002. Start at 3 or above, or choose another pattern."
        ]
    }
    assert rows() == before
    created = admin.post(API + "sequence-policies/", body | {"start": 3})
    assert created.status_code == 201, created.content
    assert post_all(ops, drafts(ops, 1)) == ["INV-0003"]


def test_a_single_held_number_is_named(admin, iw):
    CreditMemoFactory(account=iw.account, number="CM-0007")

    response = admin.post(
        API + "sequence-policies/",
        {"name": "CM", "target": "credit_memo", "pattern": "CM-{SEQ}", "min_width": 4},
    )

    assert response.json()["details"] == {
        "start": [
            "A credit memo already holds CM-0007, a number this policy would issue (from 1 on). "
            "Start at 8 or above, or choose another pattern."
        ]
    }


def test_an_unused_policy_cannot_move_its_start_back_over_imported_numbers(ops, admin, iw):
    admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"start": 10})
    ops.post(API + "invoices/ingest", posted_body(number="INV-0005"))

    response = admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"start": 1})

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["start"]
    assert SequencePolicy.objects.get().start == 10


def test_two_active_policies_with_one_pattern_are_refused_unless_their_dates_part(admin, iw):
    body = {"name": "EU", "pattern": "INV-{SEQ}", "min_width": 4, "currency": "EUR"}
    twin = (
        "Active sequence policy 'US' already numbers with the pattern INV-{SEQ} over these "
        "dates: two policies with one pattern would hand out the same numbers (a number is "
        "unique across sellers and currencies). Give this policy its own pattern (e.g. with "
        "the seller's prefix), deactivate 'US' first, or make their effective dates not "
        "overlap."
    )

    refused = admin.post(API + "sequence-policies/", body)
    assert (refused.status_code, refused.json()["details"]) == (400, {"pattern": [twin]})

    SequencePolicy.objects.filter(pk=iw.policy.pk).update(effective_to=dt.date(2026, 12, 31))
    parted = admin.post(API + "sequence-policies/", body | {"effective_from": "2027-01-01"})
    assert parted.status_code == 201, parted.content

    overlap = admin.patch(f"{API}sequence-policies/{parted.json()['id']}", {"effective_from": None})
    assert overlap.status_code == 400
    assert list(overlap.json()["details"]) == ["effective_from"]


def test_reactivating_a_policy_whose_pattern_another_active_policy_took_is_refused(admin, iw):
    admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"is_active": False})
    assert (
        admin.post(
            API + "sequence-policies/", {"name": "US 2", "pattern": "INV-{SEQ}", "min_width": 4}
        ).status_code
        == 201
    )

    response = admin.patch(f"{API}sequence-policies/{iw.policy.pk}", {"is_active": True})

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["is_active"]
    assert SequencePolicy.objects.get(pk=iw.policy.pk).is_active is False


def test_a_pattern_whose_numbers_do_not_fit_a_document_is_refused(admin, iw):
    response = admin.post(
        API + "sequence-policies/",
        {"name": "Long", "pattern": "LONG-{DATE}-{SEQ}", "min_width": 50},
    )

    assert response.status_code == 400
    assert response.json()["details"] == {
        "pattern": [
            "Numbers of this pattern are up to 66 characters long (with min_width 50); a "
            "document number holds at most 64. Shorten the pattern or lower min_width."
        ]
    }


def test_the_services_refuse_an_unknown_field_and_a_missing_policy(iw):
    with pytest.raises(TypeError, match="next_value"):
        sequence_policy_update(policy_id=iw.policy.pk, next_value=1)
    with pytest.raises(TypeError, match="next_value"):
        sequence_policy_create(name="X", pattern="X-{SEQ}", next_value=1)
    with pytest.raises(Exception, match="Sequence policy 999999 does not exist.") as missing:
        sequence_policy_delete(policy_id=999999)
    assert (missing.value.code, missing.value.status_code) == ("sequence_policy_not_found", 404)


# --- the admin calls the same services -------------------------------------------------------


def _admin_url(view, *args):
    return reverse(f"admin:invoicing_sequencepolicy_{view}", args=args)


def test_the_admin_shows_a_used_policys_numbering_read_only_and_refuses_its_delete(
    ops, admin_client_logged, iw
):
    post_all(ops, drafts(ops, 1))

    page = admin_client_logged.get(_admin_url("change", iw.policy.pk))
    form = page.context["adminform"].form
    assert "pattern" not in form.fields and "start" not in form.fields
    assert {"name", "is_active", "effective_from"} <= set(form.fields)

    deleted = admin_client_logged.post(_admin_url("delete", iw.policy.pk), {"post": "yes"})
    assert deleted.status_code == 302
    messages = [str(m) for m in deleted.wsgi_request._messages]
    assert messages[0].startswith("Sequence policy 'US' has issued numbers")
    assert SequencePolicy.objects.filter(pk=iw.policy.pk).exists()


def test_the_admin_refuses_a_new_policy_over_held_numbers_on_its_form(admin_client_logged, iw):
    InvoiceFactory(account=iw.account, posted=True, number="EU-00009")

    response = admin_client_logged.post(
        _admin_url("add"),
        {
            "name": "EU",
            "target": "invoice",
            "pattern": "EU-{SEQ}",
            "min_width": "5",
            "date_format": "YYYY",
            "fiscal_year_start_month": "1",
            "start": "1",
            "increment": "1",
            "currency": "EUR",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "start": [
            "An invoice already holds EU-00009, a number this policy would issue (from 1 on). "
            "Start at 10 or above, or choose another pattern."
        ]
    }
    assert not SequencePolicy.objects.filter(name="EU").exists()


# --- which numbers a policy issues ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "date_format", "width", "number", "value"),
    [
        ("INV-{SEQ}", "YYYY", 4, "INV-0042", 42),
        ("INV-{SEQ}", "YYYY", 4, "INV-12345", 12345),
        ("INV-{SEQ}", "YYYY", 4, "INV-042", None),  # narrower than the width
        ("INV-{SEQ}", "YYYY", 4, "INV-01234", None),  # padded beyond the width
        ("INV-{DATE}-{SEQ}", "MM-DD-YYYY", 6, "INV-04-15-2026-000007", 7),
        ("INV-{DATE}-{SEQ}", "YYYY-YY", 6, "INV-2025-26-000007", 7),
        ("INV-{DATE}-{SEQ}", "YYYY", 6, "INV-04-2026-000007", None),
        ("{SEQ}", "YYYY", 0, "0", 0),
        ("A.B+{SEQ} (x)", "YYYY", 1, "A.B+9 (x)", 9),
        ("A.B+{SEQ} (x)", "YYYY", 1, "AxB+9 (x)", None),  # the dot is literal
    ],
)
def test_the_pattern_regex_reads_back_the_value(pattern, date_format, width, number, value):
    regex = sequence_number_regex(pattern=pattern, date_format=date_format, min_width=width)
    found = re.fullmatch(regex, number)
    assert (int(found.group(1)) if found else None) == value


def test_the_database_reads_the_pattern_regex_as_python_does(iw):
    for number in ("A.B+7 (x)", "AxB+7 (x)", "A.B+07 (x)", "INV-0001"):
        InvoiceFactory(account=iw.account, posted=True, number=number)
    regex = sequence_number_regex(pattern="A.B+{SEQ} (x)", date_format="YYYY", min_width=1)

    assert list(Invoice.objects.filter(number__regex=regex).values_list("number")) == [
        ("A.B+7 (x)",)
    ]


def test_policies_issuing_a_number_are_every_invoice_policy_ahead_of_it(iw):
    SequencePolicy.objects.filter(pk=iw.policy.pk).update(next_value=5)
    other = SequencePolicy.objects.create(name="Other", pattern="INV-{SEQ}", min_width=4)
    SequencePolicy.objects.create(name="CM", target="credit_memo", pattern="INV-{SEQ}", min_width=4)

    assert [(i.policy, i.value) for i in sequence_policies_issuing("INV-0004")] == [(other, 4)]
    assert [(i.policy.name, i.value) for i in sequence_policies_issuing("INV-0005")] == [
        ("US", 5),
        ("Other", 5),
    ]
    assert [i.policy.name for i in sequence_policies_issuing("INV-0005", target="credit_memo")] == [
        "CM"
    ]


# --- a number taken by a racing writer is a domain error, never a 500 --------------------------


def test_a_unique_violation_on_the_number_is_named(iw):
    InvoiceFactory(account=iw.account, posted=True, number="INV-0009")

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        InvoiceFactory(account=iw.account, posted=True, number="INV-0009")

    error = number_taken_error(caught.value)
    assert isinstance(error, SequenceNumberTaken)
    assert (error.code, error.status_code, error.details) == (
        "sequence_number_taken",
        409,
        {"number": "INV-0009", "document": "invoice"},
    )
    assert error.message == (
        "Number INV-0009 was taken by another invoice written at the same time; nothing was "
        "posted. Post again: the document then takes the next free number."
    )
    assert number_taken_error(caught.value, document=CreditMemo) is None


def test_another_unique_violation_is_not_a_number(iw):
    InvoiceFactory(account=iw.account, unique_identifier="u-1")

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        InvoiceFactory(account=iw.account, unique_identifier="u-1")

    assert number_taken_error(caught.value) is None


@pytest.mark.django_db(transaction=True)
def test_an_import_racing_a_writer_for_its_policy_number_is_a_409_naming_it(api_world):
    """A writer outside the policy's lock (here a plain insert) holds INV-0001 uncommitted
    while an import takes the policy's next number, INV-0001: the import waits on the
    unique index, then fails. It answers SequenceNumberTaken and writes nothing."""
    account = api_world.account
    # The racer writes for another account: the import locks its own account's row.
    other = AccountFactory()
    inserted = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def racer():
        try:
            with transaction.atomic():
                InvoiceFactory(account=other, posted=True, number="INV-0001")
                inserted.set()
                assert release.wait(timeout=30)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            inserted.set()
            connection.close()

    def release_when_blocked():
        # Let the racer commit once the import waits on it (a lock wait in pg_stat_activity).
        for _ in range(300):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.05)
        release.set()
        connection.close()

    thread = threading.Thread(target=racer)
    thread.start()
    assert inserted.wait(timeout=30)
    releaser = threading.Thread(target=release_when_blocked)
    releaser.start()
    body = {
        "account": account,
        "status": "posted",
        "invoice_date": dt.date(2026, 11, 1),
        "due_date": dt.date(2026, 12, 1),
        "lines": [
            {
                "name": "Fee",
                "quantity": Decimal("1"),
                "unit_price": Decimal("10.00"),
                "taxable": False,
                "taxes": [],
            }
        ],
    }
    try:
        with pytest.raises(SequenceNumberTaken, match="Number INV-0001 was taken"):
            invoice_ingest(data=body)
    finally:
        release.set()
        thread.join(timeout=30)
        releaser.join(timeout=30)

    assert errors == []
    assert list(Invoice.objects.values_list("number", flat=True)) == ["INV-0001"]
    assert SequencePolicy.objects.get().next_value is None  # the failed import rolled back
