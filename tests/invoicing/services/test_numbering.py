import datetime as dt
import importlib
import threading
from itertools import count

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.transaction import TransactionManagementError

from accounts.models import LegalEntity
from invoicing.exceptions import AmbiguousSequencePolicy, NoSequencePolicy
from invoicing.models import SequencePolicy
from invoicing.services.numbering import (
    date_stamp,
    sequence_number_take,
    sequence_policy_select,
)

DAY = dt.date(2026, 11, 5)

_names = count(1)


def make_policy(**fields) -> SequencePolicy:
    fields.setdefault("name", f"Policy {next(_names)}")
    return SequencePolicy.objects.create(**fields)


def take(policy: SequencePolicy, on_date: dt.date = DAY) -> str:
    with transaction.atomic():
        return sequence_number_take(policy_id=policy.pk, on_date=on_date)


def select(**conditions) -> SequencePolicy:
    conditions.setdefault("target", SequencePolicy.Target.INVOICE)
    conditions.setdefault("legal_entity_id", None)
    conditions.setdefault("currency", "EUR")
    conditions.setdefault("on_date", DAY)
    return sequence_policy_select(**conditions)


class Rollback(Exception):
    pass


# --- Formatting ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_pattern_date_and_width():
    policy = make_policy(pattern="INV-{DATE}-{SEQ}", date_format="MM-YYYY", min_width=6)

    assert take(policy) == "INV-11-2026-000001"
    assert take(policy, dt.date(2026, 12, 1)) == "INV-12-2026-000002"
    policy.refresh_from_db()
    assert policy.next_value == 3


@pytest.mark.django_db
def test_the_default_stamp_is_the_year():
    policy = make_policy(pattern="INV-{DATE}-{SEQ}")

    assert policy.date_format == "YYYY"
    assert take(policy) == "INV-2026-000001"


@pytest.mark.parametrize(
    ("date_format", "start_month", "on_date", "stamp"),
    [
        ("YYYY", 1, dt.date(2026, 3, 31), "2026"),
        ("YYYY", 4, dt.date(2026, 3, 31), "2026"),  # the start month is for YYYY-YY only
        ("MM-YYYY", 1, dt.date(2026, 3, 31), "03-2026"),
        ("MM-DD-YYYY", 1, dt.date(2026, 3, 1), "03-01-2026"),
        ("MM-DD-YYYY", 1, dt.date(2026, 12, 31), "12-31-2026"),
        # Fiscal year starting in April: the first calendar year, then the last two digits of
        # the year it ends in.
        ("YYYY-YY", 4, dt.date(2026, 3, 31), "2025-26"),
        ("YYYY-YY", 4, dt.date(2026, 4, 1), "2026-27"),
        ("YYYY-YY", 4, dt.date(2026, 12, 31), "2026-27"),
        ("YYYY-YY", 4, dt.date(1999, 4, 1), "1999-00"),
        ("YYYY-YY", 12, dt.date(2026, 11, 30), "2025-26"),
        ("YYYY-YY", 12, dt.date(2026, 12, 1), "2026-27"),
        # Starting in January the fiscal year is the calendar year: it begins and ends in 2026.
        ("YYYY-YY", 1, dt.date(2026, 1, 1), "2026-26"),
        ("YYYY-YY", 1, dt.date(2026, 12, 31), "2026-26"),
    ],
)
def test_date_stamps(date_format, start_month, on_date, stamp):
    assert (
        date_stamp(date_format=date_format, on_date=on_date, fiscal_year_start_month=start_month)
        == stamp
    )


@pytest.mark.django_db
def test_fiscal_year_numbers_on_fixed_dates():
    policy = make_policy(
        pattern="INV/{DATE}/{SEQ}", date_format="YYYY-YY", fiscal_year_start_month=4, min_width=5
    )

    assert take(policy, dt.date(2026, 3, 31)) == "INV/2025-26/00001"
    assert take(policy, dt.date(2026, 4, 1)) == "INV/2026-27/00002"


@pytest.mark.django_db
def test_every_format_numbers_on_a_fixed_date():
    numbers = {
        date_format: take(make_policy(pattern="{DATE}-{SEQ}", date_format=date_format), DAY)
        for date_format in SequencePolicy.DateFormat.values
    }

    assert numbers == {
        "YYYY": "2026-000001",
        "MM-YYYY": "11-2026-000001",
        "MM-DD-YYYY": "11-05-2026-000001",
        "YYYY-YY": "2026-26-000001",
    }


@pytest.mark.parametrize("date_format", ["%Y", "yyyy", "YY", "INV", ""])
def test_a_stamp_outside_the_reference_formats_is_refused(date_format):
    with pytest.raises(ValueError, match="not a date stamp format"):
        date_stamp(date_format=date_format, on_date=DAY)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"date_format": "%Y"}, "sequence_date_format_valid"),
        ({"date_format": "YYYY-YY", "fiscal_year_start_month": 13}, "sequence_fiscal_year"),
        ({"fiscal_year_start_month": 0}, "sequence_fiscal_year_start_month_valid"),
    ],
)
def test_the_database_refuses_a_constant_stamp(fields, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        make_policy(pattern="INV-{DATE}-{SEQ}", **fields)

    assert not SequencePolicy.objects.exists()


@pytest.mark.django_db
def test_full_clean_names_the_value_and_the_accepted_formats():
    policy = SequencePolicy(name="Bad", date_format="%Y", fiscal_year_start_month=13)

    with pytest.raises(ValidationError) as exc:
        policy.full_clean()

    assert exc.value.message_dict == {
        "date_format": [
            '"%Y" is not a date stamp format. '
            "Accepted: YYYY, MM-YYYY, MM-DD-YYYY, YYYY-YY (fiscal year)."
        ],
        "fiscal_year_start_month": ["Ensure this value is less than or equal to 12."],
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("%Y", "YYYY"),
        ("%m-%Y", "MM-YYYY"),
        ("%m-%d-%Y", "MM-DD-YYYY"),
        ("yyyy", "YYYY"),
        ("MM-dd-yyyy", "MM-DD-YYYY"),
        ("Yyyy-yy", "YYYY-YY"),
        ("%Y%m", "MM-YYYY"),
        ("%Y-%m-%d", "MM-DD-YYYY"),
        ("%y", "YYYY"),
        ("YYYY", "YYYY"),
        ("", "YYYY"),  # a constant stamp becomes the year
    ],
)
def test_the_data_migration_maps_strftime_formats_to_reference_formats(old, new):
    migration = importlib.import_module("invoicing.migrations.0005_sequence_policy_date_stamps")

    assert migration.reference_format(old) == new


@pytest.mark.django_db
def test_default_pattern():
    assert take(make_policy()) == "INV-000001"


@pytest.mark.django_db
def test_value_wider_than_min_width_is_not_truncated():
    policy = make_policy(pattern="{SEQ}", min_width=2, start=12345)

    assert take(policy) == "12345"


@pytest.mark.django_db
def test_other_braces_in_the_pattern_stay_literal():
    policy = make_policy(pattern="{X}-{DATE}/{SEQ}", date_format="YYYY", min_width=3)

    assert take(policy) == "{X}-2026/001"


@pytest.mark.django_db
def test_start_and_increment():
    policy = make_policy(pattern="CM-{SEQ}", start=1000, increment=10, min_width=0)

    assert [take(policy) for _ in range(3)] == ["CM-1000", "CM-1010", "CM-1020"]
    policy.refresh_from_db()
    assert policy.next_value == 1030


@pytest.mark.django_db
def test_next_value_wins_over_start():
    policy = make_policy(pattern="{SEQ}", start=1, next_value=42, min_width=0)

    assert take(policy) == "42"


# --- Transactions and locking --------------------------------------------------------------


@pytest.mark.django_db
def test_rolled_back_take_does_not_consume_a_number():
    policy = make_policy(pattern="INV-{SEQ}")

    with pytest.raises(Rollback), transaction.atomic():
        assert sequence_number_take(policy_id=policy.pk, on_date=DAY) == "INV-000001"
        raise Rollback

    policy.refresh_from_db()
    assert policy.next_value is None
    assert take(policy) == "INV-000001"
    assert take(policy) == "INV-000002"


@pytest.mark.django_db
def test_missing_policy_is_a_no_sequence_policy_error():
    policy = make_policy()
    policy_id = policy.pk
    policy.delete()

    with pytest.raises(NoSequencePolicy) as exc:
        take(SequencePolicy(pk=policy_id))

    assert exc.value.details == {"policy_id": policy_id}


@pytest.mark.django_db(transaction=True)
def test_take_outside_a_transaction_is_refused():
    policy = make_policy()

    with pytest.raises(TransactionManagementError, match="inside the posting transaction"):
        sequence_number_take(policy_id=policy.pk, on_date=DAY)

    policy.refresh_from_db()
    assert policy.next_value is None


@pytest.mark.django_db(transaction=True)
def test_policy_row_stays_locked_until_the_taking_transaction_ends():
    policy = make_policy(pattern="{SEQ}", min_width=0)
    taken = threading.Event()
    release = threading.Event()
    holder_result: list[str] = []
    holder_errors: list[BaseException] = []

    def holder():
        try:
            with transaction.atomic():
                holder_result.append(sequence_number_take(policy_id=policy.pk, on_date=DAY))
                taken.set()
                assert release.wait(timeout=30)
        except BaseException as exc:  # reported by the main thread
            holder_errors.append(exc)
        finally:
            taken.set()
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert taken.wait(timeout=30)
        # While the holder's transaction is open, another transaction cannot take a number.
        with pytest.raises(OperationalError, match="lock"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            sequence_number_take(policy_id=policy.pk, on_date=DAY)
    finally:
        release.set()
        thread.join(timeout=30)

    assert not holder_errors
    assert holder_result == ["1"]
    assert take(policy) == "2"


@pytest.mark.django_db(transaction=True)
def test_concurrent_takes_are_gapless_and_unique():
    threads_count = 8
    iterations = 25
    policy = make_policy(pattern="N-{SEQ}", min_width=0)
    barrier = threading.Barrier(threads_count)
    committed: list[str] = []
    rolled_back: list[str] = []
    errors: list[BaseException] = []

    def rolls_back(worker: int, iteration: int) -> bool:
        return (worker + iteration) % 4 == 0

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(iterations):
                try:
                    with transaction.atomic():
                        number = sequence_number_take(policy_id=policy.pk, on_date=DAY)
                        if rolls_back(index, i):
                            rolled_back.append(number)
                            raise Rollback
                except Rollback:
                    continue
                committed.append(number)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    expected = sum(not rolls_back(w, i) for w in range(threads_count) for i in range(iterations))
    assert expected == 150
    assert len(rolled_back) == threads_count * iterations - expected
    values = sorted(int(number.removeprefix("N-")) for number in committed)
    assert values == list(range(1, expected + 1))  # no gap, no duplicate
    # A rolled-back number was handed out again (or is the next one still to come).
    assert {int(n.removeprefix("N-")) for n in rolled_back} <= set(values) | {expected + 1}
    policy.refresh_from_db()
    assert policy.next_value == expected + 1


# --- Selection -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_single_matching_policy_is_selected():
    policy = make_policy()
    make_policy(target=SequencePolicy.Target.CREDIT_MEMO)

    assert select() == policy


@pytest.mark.django_db
def test_no_match_names_the_conditions_and_the_fix():
    acme = LegalEntity.objects.create(name="Acme EU")
    make_policy(target=SequencePolicy.Target.CREDIT_MEMO)

    with pytest.raises(NoSequencePolicy) as exc:
        select(legal_entity_id=acme.pk, currency="eur")

    error = exc.value
    assert error.code == "no_sequence_policy"
    assert error.status_code == 409
    assert error.message == (
        "No active invoice sequence policy matches legal entity 'Acme EU', currency EUR and "
        "date 2026-11-05. Create one under Sequence policies, or widen an existing policy's "
        "conditions (legal entity, currency, effective dates)."
    )
    assert error.details == {
        "target": "invoice",
        "legal_entity_id": acme.pk,
        "currency": "EUR",
        "on_date": "2026-11-05",
    }


@pytest.mark.django_db
def test_several_matches_are_ambiguous_and_named():
    acme = LegalEntity.objects.create(name="Acme EU")
    specific = make_policy(name="Acme EUR", legal_entity=acme, currency="EUR")
    catch_all = make_policy(name="Everything")

    with pytest.raises(AmbiguousSequencePolicy) as exc:
        select(legal_entity_id=acme.pk, currency="EUR")

    error = exc.value
    assert error.code == "ambiguous_sequence_policy"
    assert "2 active invoice sequence policies match legal entity 'Acme EU'" in error.message
    assert "'Acme EUR', 'Everything'" in error.message
    assert "Exactly one must match" in error.message
    assert error.details["policies"] == [
        {"id": specific.pk, "name": "Acme EUR"},
        {"id": catch_all.pk, "name": "Everything"},
    ]


@pytest.mark.django_db
def test_legal_entity_condition():
    acme_eu = LegalEntity.objects.create(name="Acme EU")
    acme_us = LegalEntity.objects.create(name="Acme US")
    eu_policy = make_policy(legal_entity=acme_eu)
    us_policy = make_policy(legal_entity=acme_us)

    assert select(legal_entity_id=acme_eu.pk) == eu_policy
    assert select(legal_entity_id=acme_us.pk) == us_policy
    with pytest.raises(NoSequencePolicy, match="no legal entity"):
        select(legal_entity_id=None)


@pytest.mark.django_db
def test_currency_condition():
    eur = make_policy(currency="EUR")
    usd = make_policy(currency="USD")

    assert select(currency="EUR") == eur
    assert select(currency="usd") == usd
    with pytest.raises(NoSequencePolicy, match="currency GBP"):
        select(currency="GBP")


@pytest.mark.django_db
def test_empty_conditions_match_anything():
    acme = LegalEntity.objects.create(name="Acme")
    policy = make_policy()

    assert select(legal_entity_id=acme.pk, currency="JPY") == policy
    assert select(legal_entity_id=None, currency="EUR") == policy


@pytest.mark.django_db
def test_inactive_policies_are_ignored():
    make_policy(is_active=False)
    active = make_policy()

    assert select() == active


@pytest.mark.django_db
def test_effective_window_is_inclusive_and_out_of_window_policies_are_ignored():
    make_policy(name="Ended", effective_to=DAY - dt.timedelta(days=1))
    make_policy(name="Future", effective_from=DAY + dt.timedelta(days=1))
    current = make_policy(name="Current", effective_from=DAY, effective_to=DAY)

    assert select() == current
    assert select(on_date=DAY - dt.timedelta(days=1)).name == "Ended"
    assert select(on_date=DAY + dt.timedelta(days=1)).name == "Future"


@pytest.mark.django_db
def test_expired_policy_gives_no_match():
    make_policy(effective_from=dt.date(2025, 1, 1), effective_to=dt.date(2025, 12, 31))

    with pytest.raises(NoSequencePolicy, match="date 2026-11-05"):
        select()
