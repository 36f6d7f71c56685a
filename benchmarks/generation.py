"""The invoice generation benchmark behind `manage.py bench_generation` (docs/performance.md).

One run at size N:

1. build N monthly schedules over A accounts (default N/10) with bulk inserts: one order per
   account, one order item, schedule group and schedule per schedule, all priced 10 × 5.00
   USD a month from 2026-01-01 to 2026-12-31, taxed by two rates of the run's own seller;
2. time the engine generating and posting one period of each (target date 2026-01-31):
   eligibility + planning, then `generate_for_keys()` with post=True; count its SQL
   statements and the time spent inside them, its CPU time and the process's peak RSS
   (reset just before the run where Linux allows it);
3. time the floor: PostgreSQL copying exactly the rows the engine inserted (invoices,
   invoice addresses, lines, line taxes, period items) into empty copies of their tables
   with one INSERT … SELECT per table, into TEMP tables (as specified) and into ordinary,
   WAL-logged tables (what the engine writes to);
4. rewind (delete the generated rows, reset the schedules and the numbering) and generate
   again under tracemalloc for its peak: tracemalloc slows the engine 5-7 times, so it is
   never on during the timed run;
5. delete everything the run created, unless `keep`.

Every row a run creates belongs to its own legal entity ("Ledgerline Bench <token>"), and
only that entity's schedules are selected for generation, so other data in the database is
never billed, changed or deleted. The bench refuses to run on a database that already holds
invoices unless forced (a shared database also makes the figures noisy).

DEBUG is off during the runs, and the after-commit "invoices posted" receivers (PDF, email)
are detached: the benchmark measures generation and posting, not the side effects they
enqueue.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import io
import os
import pstats
import re
import resource
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, reset_queries, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)
from billing.choices import (
    BillingFrequency,
    BillingType,
    ChargeType,
    InvoiceGroupType,
    PeriodBoundary,
    PricingTerm,
    ScheduleCategory,
    ScheduleStatus,
    ZeroAmountHandling,
)
from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    Order,
    OrderItem,
    Product,
    UnitOfMeasure,
)
from core.exceptions import DomainError
from invoicing import hooks
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.generation import (
    GenerationResult,
    generate_for_keys,
    plan_keys_stream,
    schedules_eligible,
)
from invoicing.services.generation_plan import GenerationOptions
from invoicing.services.numbering import sequence_policy_select

START = dt.date(2026, 1, 1)
END = dt.date(2026, 12, 31)
TARGET_DATE = dt.date(2026, 1, 31)
QUANTITY = Decimal("10")
UNIT_PRICE = Decimal("5.00")
PERIOD_AMOUNT = Decimal("50.00")
TOTAL_AMOUNT = Decimal("600.00")
CURRENCY = "USD"
TAX_RATES = (("Bench state sales tax", Decimal("6.2500")), ("Bench city tax", Decimal("2.0000")))
BUILD_BATCH_ACCOUNTS = 1000  # accounts (with their orders and schedules) per bulk round
MIB = 1024 * 1024

# Targets from the performance issue, judged on the largest size of a run.
TARGET_RATIO = 3.0  # engine / floor (logged copies: the CREATE TABLE) at N = 100,000
TARGET_MEMORY_RATIO = 1.5  # peak memory at the largest size / at the smallest


class BenchRefused(Exception):
    """The benchmark will not run here (wrong database, or data it must not touch)."""


class BenchFailed(Exception):
    """The engine did not produce what the benchmark expects: the figures would be wrong."""


# --------------------------------------------------------------------------------------------
# Guards


def database_check(*, force: bool = False) -> None:
    """Refuse anything but PostgreSQL, and a database with invoices unless forced."""
    if connection.vendor != "postgresql":
        raise BenchRefused(
            f"The benchmark needs PostgreSQL; the configured database is {connection.vendor} "
            f"({connection.settings_dict.get('NAME')}). Point DATABASE_URL at a scratch "
            "PostgreSQL database, e.g. createdb ledgerline_bench, then "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline_bench "
            ".venv/bin/python manage.py migrate and run the benchmark again."
        )
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:5])
        raise BenchRefused(
            f"The database {connection.settings_dict.get('NAME')} has {len(pending)} unapplied "
            f"migration(s) ({names}{', …' if len(pending) > 5 else ''}): run manage.py migrate "
            "first."
        )
    invoices = Invoice.objects.count()
    if invoices and not force:
        raise BenchRefused(
            f"The database {connection.settings_dict.get('NAME')} already holds {invoices} "
            "invoice(s). Run the benchmark on a scratch database (see docs/performance.md), "
            "or pass --force: the benchmark bills only its own rows and deletes them "
            "afterwards, but the figures are noisier on a database in use."
        )


# --------------------------------------------------------------------------------------------
# The data set


@dataclass
class BenchWorld:
    token: str
    schedules: int
    accounts: int
    entity_id: int
    entity_address_id: int
    payment_term_id: int
    unit_id: int
    product_id: int
    policy_id: int
    tax_rate_ids: list[int]
    request_id: str


@dataclass(frozen=True)
class WorldSpec:
    """What sets one benchmark's data set apart from another's (benchmarks.einvoices builds
    its own with world_finish): names, prices, and the buyers' accounts and addresses."""

    label: str  # account names "<label> <token> 000001"; the sequence policy "<label> <token>"
    code: str  # "<code>-<token>-000001": external ids, order numbers; the SKU, the request id
    invoice_prefix: str  # invoice numbers "<prefix>-<token>-0000001"
    unit_prefix: str  # the unit of measure's code: "<unit_prefix><token>"
    tax_code: str  # the product's
    currency: str
    quantity: Decimal
    unit_price: Decimal
    period_amount: Decimal
    total_amount: Decimal
    payment_method: bool  # a saved card on every account, its profile, orders and schedules
    account_fields: Callable[[int], dict]  # account i's fields beyond name, ids and currency
    address_fields: Callable[[int], dict]  # account i's billing address


def _main_st(i: int) -> dict:
    return {
        "line1": f"{i} Main St",
        "city": "Austin",
        "region": "TX",
        "postal_code": "73301",
        "country": "US",
    }


GENERATION_SPEC = WorldSpec(
    label="Bench",
    code="BENCH",
    invoice_prefix="BENCH",
    unit_prefix="B",
    tax_code="",
    currency=CURRENCY,
    quantity=QUANTITY,
    unit_price=UNIT_PRICE,
    period_amount=PERIOD_AMOUNT,
    total_amount=TOTAL_AMOUNT,
    payment_method=True,
    account_fields=lambda i: {},
    address_fields=_main_st,
)


def _spread(total: int, buckets: int) -> list[int]:
    """`total` split over `buckets` as evenly as possible (the first ones get the rest)."""
    base, rest = divmod(total, buckets)
    return [base + (1 if i < rest else 0) for i in range(buckets)]


def world_build(*, schedules: int, accounts: int, token: str | None = None) -> BenchWorld:
    """Create the run's reference rows and its accounts, orders and schedules (bulk)."""
    if schedules < 1 or accounts < 1:
        raise BenchRefused("--schedules and --accounts must be at least 1.")
    if accounts > schedules:
        raise BenchRefused(
            f"{accounts} accounts for {schedules} schedules: every account needs at least one "
            "schedule; use --accounts ≤ --schedules."
        )
    token = token or uuid.uuid4().hex[:8]
    with transaction.atomic():
        entity_address = Address.objects.create(
            line1="1 Bench Way", city="Austin", region="TX", postal_code="73301", country="US"
        )
        entity = LegalEntity.objects.create(
            name=f"Ledgerline Bench {token}", address=entity_address, is_default=False
        )
        term = PaymentTerm.objects.create(
            name=f"Bench net 30 {token}", kind=PaymentTerm.Kind.NET, days=30
        )
        rates = TaxRate.objects.bulk_create(
            TaxRate(
                legal_entity=entity,
                country="US",
                region="TX",
                name=name,
                rate=rate,
                kind=TaxRate.Kind.PERCENTAGE,
                priority=priority,
            )
            for priority, (name, rate) in enumerate(TAX_RATES, start=1)
        )
        world = world_finish(
            GENERATION_SPEC,
            token=token,
            entity=entity,
            term=term,
            rates=rates,
            per_account=_spread(schedules, accounts),
        )
    _policy_check(world)
    analyze()
    return world


def world_finish(
    spec: WorldSpec,
    *,
    token: str,
    entity: LegalEntity,
    term: PaymentTerm,
    rates: list[TaxRate],
    per_account: list[int],
) -> BenchWorld:
    """After the seller, its payment term and tax rates: the run's unit, product and invoice
    sequence policy, then len(per_account) accounts, account i with per_account[i] monthly
    schedules, BUILD_BATCH_ACCOUNTS accounts per bulk round. Call it in the transaction that
    created the seller."""
    unit = UnitOfMeasure.objects.create(
        code=f"{spec.unit_prefix}{token}", name="Bench seat", scale=0
    )
    product = Product.objects.create(
        sku=f"{spec.code}-{token}",
        name="Bench seat",
        charge_type=ChargeType.RECURRING,
        unit=unit,
        taxable=True,
        tax_code=spec.tax_code,
    )
    policy = SequencePolicy.objects.create(
        name=f"{spec.label} {token}",
        target=SequencePolicy.Target.INVOICE,
        pattern=f"{spec.invoice_prefix}-{token}-{{SEQ}}",
        min_width=7,
        legal_entity=entity,
        currency=spec.currency,
    )
    world = BenchWorld(
        token=token,
        schedules=sum(per_account),
        accounts=len(per_account),
        entity_id=entity.pk,
        entity_address_id=entity.address_id,
        payment_term_id=term.pk,
        unit_id=unit.pk,
        product_id=product.pk,
        policy_id=policy.pk,
        tax_rate_ids=[r.pk for r in rates],
        request_id=f"{spec.code.lower()}-{token}-{uuid.uuid4().hex[:12]}",
    )
    now = timezone.now()
    for first in range(0, len(per_account), BUILD_BATCH_ACCOUNTS):
        counts = per_account[first : first + BUILD_BATCH_ACCOUNTS]
        _build_accounts(world, spec, first, counts, now)
    return world


def _build_accounts(
    world: BenchWorld, spec: WorldSpec, first: int, counts: list[int], now: dt.datetime
) -> None:
    """One bulk round: accounts first..first+len(counts)-1 with everything they own."""
    t = world.token
    indexes = range(first, first + len(counts))
    accounts = Account.objects.bulk_create(
        Account(
            name=f"{spec.label} {t} {i:06d}",
            external_id=f"{spec.code}-{t}-{i:06d}",
            currency=spec.currency,
            legal_entity_id=world.entity_id,
            **spec.account_fields(i),
        )
        for i in indexes
    )
    addresses = Address.objects.bulk_create(Address(**spec.address_fields(i)) for i in indexes)
    contacts = Contact.objects.bulk_create(
        Contact(account=a, name=f"{a.name} AP", email="ap@example.com") for a in accounts
    )
    methods: list[SavedPaymentMethod | None] = [None] * len(accounts)
    if spec.payment_method:
        methods = SavedPaymentMethod.objects.bulk_create(
            SavedPaymentMethod(
                account=a, processor_token="pm_bench", label="Visa •••• 4242", is_default=True
            )
            for a in accounts
        )
    profiles = BillingProfile.objects.bulk_create(
        BillingProfile(
            account=a,
            is_default=True,
            bill_to=c,
            payment_term_id=world.payment_term_id,
            saved_payment_method=m,
            billing_address=addr,
        )
        for a, c, m, addr in zip(accounts, contacts, methods, addresses, strict=True)
    )
    orders = Order.objects.bulk_create(
        Order(
            number=f"{spec.code}-{t}-{i:06d}",
            account=a,
            billing_profile=p,
            currency=spec.currency,
            legal_entity_id=world.entity_id,
            payment_term_id=world.payment_term_id,
            bill_to=c,
            saved_payment_method=m,
            invoice_group_type=InvoiceGroupType.DEFAULT,
            tax_treatment="standard",
            status=Order.Status.ACTIVATED,
            activated_at=now,
        )
        for i, a, p, c, m in zip(indexes, accounts, profiles, contacts, methods, strict=True)
    )
    # (order, account, contact, method, address) per schedule, in account order.
    owners = [
        owner
        for owner, count in zip(
            zip(orders, accounts, contacts, methods, addresses, strict=True), counts, strict=True
        )
        for owner in [owner] * count
    ]
    line_numbers = [n for count in counts for n in range(1, count + 1)]
    items = OrderItem.objects.bulk_create(
        (
            OrderItem(
                order=order,
                line_number=n,
                product_id=world.product_id,
                quantity=spec.quantity,
                unit_price=spec.unit_price,
                pricing_term=PricingTerm.MONTH,
                start_date=START,
                end_date=END,
                billing_frequency=BillingFrequency.MONTHLY,
                billing_type=BillingType.ADVANCE,
                period_boundary=PeriodBoundary.ANNIVERSARY,
            )
            for (order, *_), n in zip(owners, line_numbers, strict=True)
        ),
        batch_size=5000,
    )
    groups = BillingScheduleGroup.objects.bulk_create(
        (
            BillingScheduleGroup(
                account=account,
                source_item=item,
                order=order,
                product_id=world.product_id,
                currency=spec.currency,
                legal_entity_id=world.entity_id,
                start_date=START,
                end_date=END,
            )
            for (order, account, *_), item in zip(owners, items, strict=True)
        ),
        batch_size=5000,
    )
    BillingSchedule.objects.bulk_create(
        (
            BillingSchedule(
                group=group,
                account=account,
                order=order,
                order_item=item,
                product_id=world.product_id,
                charge_type=ChargeType.RECURRING,
                category=ScheduleCategory.ORIGINAL,
                status=ScheduleStatus.READY,
                start_date=START,
                end_date=END,
                next_billing_date=START,
                next_charge_from_date=START,
                quantity=spec.quantity,
                unit_id=world.unit_id,
                unit_price=spec.unit_price,
                pricing_term=PricingTerm.MONTH,
                billing_frequency=BillingFrequency.MONTHLY,
                billing_type=BillingType.ADVANCE,
                period_boundary=PeriodBoundary.ANNIVERSARY,
                period_amount=spec.period_amount,
                total_amount=spec.total_amount,
                billed_amount=Decimal("0"),
                pending_amount=spec.total_amount,
                currency=spec.currency,
                legal_entity_id=world.entity_id,
                payment_term_id=world.payment_term_id,
                bill_to=contact,
                saved_payment_method=method,
                billing_address=address,
                tax_treatment="standard",
                invoice_group_type=InvoiceGroupType.DEFAULT,
                zero_amount_handling=ZeroAmountHandling.CREATE_LINE,
            )
            for (order, account, contact, method, address), item, group in zip(
                owners, items, groups, strict=True
            )
        ),
        batch_size=5000,
    )


def _policy_check(world: BenchWorld) -> None:
    """Posting must find exactly the run's policy; another catch-all policy would make every
    posting fail as ambiguous."""
    try:
        policy = sequence_policy_select(
            target=SequencePolicy.Target.INVOICE,
            legal_entity_id=world.entity_id,
            currency=CURRENCY,
            on_date=timezone.localdate(),
        )
    except DomainError as exc:
        world_delete(world)
        raise BenchRefused(
            "Posting in this database would not find the benchmark's own sequence policy: "
            f"{exc}. Run the benchmark on a scratch database (see docs/performance.md)."
        )
    if policy.pk != world.policy_id:
        world_delete(world)
        raise BenchRefused(
            f"Posting would number the benchmark's invoices with policy '{policy}', not its "
            "own. Run the benchmark on a scratch database (see docs/performance.md)."
        )


_TOUCHED_TABLES = (
    Account,
    Address,
    Contact,
    SavedPaymentMethod,
    BillingProfile,
    Order,
    OrderItem,
    BillingScheduleGroup,
    BillingSchedule,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    BillingPeriodItem,
)


def analyze() -> None:
    """Fresh planner statistics, and no autovacuum/analyze kicking in mid-measurement."""
    with connection.cursor() as cursor:
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in _TOUCHED_TABLES)
        cursor.execute(f"ANALYZE {tables}")


def database_checkpoint() -> None:
    """Flush dirty buffers before a timed section, when the role may (superuser or
    pg_checkpoint); a checkpoint in the middle of a measurement makes it noisy."""
    if connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except Exception:  # noqa: BLE001 - not allowed for this role: measure without it
        pass


# --------------------------------------------------------------------------------------------
# Measuring the engine


class StatementCounter:
    """A connection.execute_wrapper: counts statements (an executemany counts once) and the
    time spent inside them, which includes the round trip to the server."""

    def __init__(self) -> None:
        self.statements = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


@contextmanager
def posted_receivers_off() -> Iterator[int]:
    """Detach the after-commit 'invoices posted' receivers (PDF, email) for the timed run."""
    saved = list(hooks._posted_receivers)
    hooks._posted_receivers.clear()
    try:
        yield len(saved)
    finally:
        hooks._posted_receivers[:] = saved


def rss_status(field_name: str) -> int | None:
    """VmHWM / VmRSS of this process in bytes (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            match = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def rss_peak_reset() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def process_maxrss() -> int:
    """Peak RSS of the process's whole life, in bytes (getrusage; kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class BenchFigures:
    schedules: int
    accounts: int
    build_seconds: float = 0.0
    select_seconds: float = 0.0  # eligibility query + planning of the keys
    generate_seconds: float = 0.0  # generate_for_keys: write, tax, post
    sql_seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of this process during the run (Python side)
    statements: int = 0
    invoices: int = 0
    lines: int = 0
    taxes: int = 0
    period_items: int = 0
    addresses: int = 0
    tracemalloc_peak: int | None = None  # from a second, untimed run under tracemalloc
    tracemalloc_seconds: float = 0.0  # that run's engine time (tracemalloc overhead)
    rss_before: int | None = None
    rss_peak: int | None = None  # VmHWM after a reset just before the run
    rss_peak_reset: bool = False
    maxrss: int = 0
    floor_temp_seconds: float = 0.0
    floor_logged_seconds: float = 0.0
    bound_seconds: float = 0.0
    floor_tables: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    hooks_disabled: int = 0
    profile: str = ""

    @property
    def engine_seconds(self) -> float:
        return self.select_seconds + self.generate_seconds

    @property
    def schedules_per_second(self) -> float:
        return self.schedules / self.engine_seconds if self.engine_seconds else 0.0

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.engine_seconds if self.engine_seconds else 0.0

    @property
    def statements_per_1000_lines(self) -> float:
        return self.statements * 1000 / self.lines if self.lines else 0.0

    @property
    def ratio_temp(self) -> float:
        return self.engine_seconds / self.floor_temp_seconds if self.floor_temp_seconds else 0.0

    @property
    def ratio_bound(self) -> float:
        return self.engine_seconds / self.bound_seconds if self.bound_seconds else 0.0

    @property
    def ratio_logged(self) -> float:
        if not self.floor_logged_seconds:
            return 0.0
        return self.engine_seconds / self.floor_logged_seconds

    @property
    def memory_peak(self) -> int | None:
        """The figure the memory target is judged on: the tracemalloc peak."""
        return self.tracemalloc_peak


class _Timed:
    """An iterator that adds up the time spent producing its items: the streamed plan's
    share of the run (selecting and planning the keys interleaves with generating them)."""

    def __init__(self, iterable):
        self._it = iter(iterable)
        self.seconds = 0.0

    def __iter__(self):
        return self

    def __next__(self):
        started = time.perf_counter()
        try:
            return next(self._it)
        finally:
            self.seconds += time.perf_counter() - started


def world_options(world: BenchWorld, *, posted_by: str) -> GenerationOptions:
    """Generate and post one period (TARGET_DATE) under the world's request id."""
    return GenerationOptions(
        target_date=TARGET_DATE,
        invoice_date=TARGET_DATE,
        post=True,
        request_id=world.request_id,
        posted_by=posted_by,
    )


def world_keys(world: BenchWorld) -> Iterator:
    """The keys of the world's schedules due at TARGET_DATE, planned as they stream (the
    run's own legal entity only: other data in the database is never billed)."""
    return plan_keys_stream(
        schedules_eligible(target_date=TARGET_DATE).filter(legal_entity_id=world.entity_id)
    )


def generation_measure(
    world: BenchWorld,
    figures: BenchFigures,
    *,
    trace_memory: bool = False,
    profile_top: int = 0,
) -> GenerationResult:
    """Generate and post the world's invoices, timed; fill in the engine's figures.

    The peak RSS is read after resetting it (Linux) just before the run, so it is this
    run's peak; tracemalloc (trace_memory) and cProfile (profile_top) slow the run."""
    options = world_options(world, posted_by="bench_generation")
    counter = StatementCounter()
    profiler = cProfile.Profile() if profile_top else None
    database_checkpoint()
    gc.collect()
    figures.rss_peak_reset = rss_peak_reset()
    figures.rss_before = rss_status("VmRSS")
    with posted_receivers_off() as disabled, connection.execute_wrapper(counter):
        figures.hooks_disabled = disabled
        if trace_memory:
            tracemalloc.start()
        if profiler:
            profiler.enable()
        try:
            cpu_started = time.process_time()
            started = time.perf_counter()
            planning = _Timed(world_keys(world))
            result = generate_for_keys(planning, options=options)
            finished = time.perf_counter()
            figures.cpu_seconds = time.process_time() - cpu_started
        finally:
            if profiler:
                profiler.disable()
            if trace_memory:
                figures.tracemalloc_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    figures.rss_peak = rss_status("VmHWM")
    figures.maxrss = process_maxrss()
    figures.select_seconds = planning.seconds
    figures.generate_seconds = finished - started - planning.seconds
    figures.statements = counter.statements
    figures.sql_seconds = counter.seconds
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        ).print_stats(profile_top)
        figures.profile = out.getvalue()
    return result


def generation_verify(world: BenchWorld, figures: BenchFigures, result: GenerationResult) -> None:
    """Count what was written; refuse figures from a run that did not bill everything."""
    problems = []
    if result.errors or result.failed_keys:
        first = result.errors[0].as_dict() if result.errors else {}
        problems.append(f"{len(result.errors)} schedule error(s), first: {first}")
    if result.posting_errors:
        problems.append(
            f"{len(result.posting_errors)} invoice(s) left draft, first: {result.posting_errors[0]}"
        )
    invoices = Invoice.objects.filter(request_id=world.request_id)
    figures.invoices = invoices.filter(status=InvoiceStatus.POSTED).count()
    figures.lines = InvoiceLine.objects.filter(invoice__request_id=world.request_id).count()
    figures.taxes = InvoiceLineTax.objects.filter(
        line__invoice__request_id=world.request_id, status=InvoiceLineTax.Status.POSTED
    ).count()
    figures.addresses = InvoiceAddress.objects.filter(invoice__request_id=world.request_id).count()
    figures.period_items = BillingPeriodItem.objects.filter(
        invoice__request_id=world.request_id,
        invoice_status=BillingPeriodItem.InvoiceStatus.POSTED,
    ).count()
    advanced = BillingSchedule.objects.filter(
        legal_entity_id=world.entity_id, next_billing_date=dt.date(2026, 2, 1)
    ).count()
    expected = {
        "posted invoices": (figures.invoices, world.accounts),
        "invoice lines": (figures.lines, world.schedules),
        "posted line taxes": (figures.taxes, world.schedules * len(TAX_RATES)),
        "posted period items": (figures.period_items, world.schedules),
        "schedules advanced to 2026-02-01": (advanced, world.schedules),
    }
    problems += [
        f"{what}: {got}, expected {want}" for what, (got, want) in expected.items() if got != want
    ]
    if problems:
        raise BenchFailed(
            f"The engine did not bill the benchmark's {world.schedules} schedules as expected: "
            + "; ".join(problems)
        )


# --------------------------------------------------------------------------------------------
# The floor


def _floor_sources() -> list[tuple[type, str]]:
    """(model, WHERE clause) selecting the rows one request generated, per table."""
    q = connection.ops.quote_name
    invoice = q(Invoice._meta.db_table)
    line = q(InvoiceLine._meta.db_table)
    of_request = f"SELECT id FROM {invoice} WHERE request_id = %s"
    return [
        (Invoice, "request_id = %s"),
        (InvoiceAddress, f"invoice_id IN ({of_request})"),
        (InvoiceLine, f"invoice_id IN ({of_request})"),
        (InvoiceLineTax, f"line_id IN (SELECT id FROM {line} WHERE invoice_id IN ({of_request}))"),
        (BillingPeriodItem, f"invoice_id IN ({of_request})"),
    ]


def floor_measure(world: BenchWorld, *, temporary: bool) -> tuple[float, dict[str, int]]:
    """Seconds PostgreSQL takes to insert the request's rows set-based into empty copies of
    their tables (indexes, defaults and checks included; LIKE copies no foreign keys), in
    one transaction, commit included. Returns (seconds, {table: rows})."""
    q = connection.ops.quote_name
    sources = _floor_sources()
    copies = {model: f"bench_floor_{world.token}_{model._meta.model_name}" for model, _ in sources}
    kind = "TEMP TABLE" if temporary else "TABLE"
    rows: dict[str, int] = {}
    with connection.cursor() as cursor:
        with transaction.atomic():
            for model, copy in copies.items():
                cursor.execute(
                    f"CREATE {kind} {q(copy)} (LIKE {q(model._meta.db_table)} INCLUDING ALL)"
                )
        database_checkpoint()
        try:
            started = time.perf_counter()
            with transaction.atomic():
                for model, where in sources:
                    cursor.execute(
                        f"INSERT INTO {q(copies[model])} "
                        f"SELECT * FROM {q(model._meta.db_table)} WHERE {where}",
                        [world.request_id],
                    )
                    rows[model._meta.db_table] = cursor.rowcount
            seconds = time.perf_counter() - started
        finally:
            with transaction.atomic():
                for copy in copies.values():
                    cursor.execute(f"DROP TABLE IF EXISTS {q(copy)}")
    return seconds, rows


def floor_measure_tables(world: BenchWorld) -> dict[str, tuple[int, float, float]]:
    """Per table: (rows, TEMP seconds, logged seconds), each table's insert timed alone."""
    out = {}
    for model, _ in _floor_sources():
        table = model._meta.db_table
        timings = []
        for temporary in (True, False):
            seconds, rows = _floor_one(world, model, temporary=temporary)
            timings.append(seconds)
        out[table] = (rows, *timings)
    return out


def _floor_one(world: BenchWorld, model: type, *, temporary: bool) -> tuple[float, int]:
    q = connection.ops.quote_name
    where = dict(_floor_sources())[model]
    copy = q(f"bench_floor_{world.token}_{model._meta.model_name}")
    with connection.cursor() as cursor:
        kind = "TEMP TABLE" if temporary else "TABLE"
        cursor.execute(f"CREATE {kind} {copy} (LIKE {q(model._meta.db_table)} INCLUDING ALL)")
        try:
            started = time.perf_counter()
            with transaction.atomic():
                cursor.execute(
                    f"INSERT INTO {copy} SELECT * FROM {q(model._meta.db_table)} WHERE {where}",
                    [world.request_id],
                )
                rows = cursor.rowcount
            seconds = time.perf_counter() - started
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {copy}")
    return seconds, rows


def bound_measure(world: BenchWorld) -> float:
    """Seconds PostgreSQL needs to write the request's rows into the *real* tables
    set-based, their foreign keys checked, and to advance the schedules with one UPDATE:
    what any engine pays on this schema, however it computes the rows. The floor leaves both
    out (LIKE copies no foreign keys, and it updates nothing).

    In one transaction that is rolled back. Not timed: the rows are copied aside and given
    new ids (references remapped), new numbers and periods a year later, so they clash with
    no unique constraint; the schedules' next state is their state a month on. Timed, with
    every constraint immediate: one INSERT … SELECT per table, then one UPDATE … FROM."""
    q = connection.ops.quote_name
    sources = _floor_sources()
    schedule = q(BillingSchedule._meta.db_table)
    aside = {model: q(f"bench_bound_{model._meta.model_name}") for model, _ in sources}
    shift = 1_000_000_000  # new ids: the old ones plus this
    remap = {
        Invoice: "id = id + %(s)s, number = number || '-b'",
        InvoiceAddress: "id = id + %(s)s, invoice_id = invoice_id + %(s)s",
        InvoiceLine: "id = id + %(s)s, invoice_id = invoice_id + %(s)s, "
        "parent_line_id = parent_line_id + %(s)s",
        InvoiceLineTax: "id = id + %(s)s, line_id = line_id + %(s)s",
        BillingPeriodItem: "id = id + %(s)s, invoice_id = invoice_id + %(s)s, "
        "invoice_line_id = invoice_line_id + %(s)s, period_start = period_start + 365, "
        "period_end = period_end + 365",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for model, where in sources:
            cursor.execute(
                f"CREATE TEMP TABLE {aside[model]} AS "
                f"SELECT * FROM {q(model._meta.db_table)} WHERE {where}",
                [world.request_id],
            )
            cursor.execute(f"UPDATE {aside[model]} SET {remap[model]}", {"s": shift})
        cursor.execute(
            "CREATE TEMP TABLE bench_bound_schedule AS SELECT id, "
            "next_charge_from_date + 31 AS next_charge_from_date, "
            "next_billing_date + 31 AS next_billing_date, billed_amount + period_amount AS "
            "billed_amount, pending_amount - period_amount AS pending_amount "
            f"FROM {schedule} WHERE legal_entity_id = %s",
            [world.entity_id],
        )
        for table in [*aside.values(), "bench_bound_schedule"]:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = time.perf_counter()
        for model, _ in sources:
            cursor.execute(f"INSERT INTO {q(model._meta.db_table)} SELECT * FROM {aside[model]}")
        cursor.execute(
            f"UPDATE {schedule} AS s SET next_charge_from_date = b.next_charge_from_date, "
            "next_billing_date = b.next_billing_date, billed_amount = b.billed_amount, "
            "pending_amount = b.pending_amount FROM bench_bound_schedule AS b WHERE s.id = b.id"
        )
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


# --------------------------------------------------------------------------------------------
# Cleaning up


def world_delete(world: BenchWorld) -> None:
    """Delete every row the run created, set-based, in one transaction (foreign keys are
    deferred, so the order only has to be sensible)."""
    q = connection.ops.quote_name

    def t(model) -> str:
        return q(model._meta.db_table)

    entity = world.entity_id
    invoices = f"SELECT id FROM {t(Invoice)} WHERE legal_entity_id = %(e)s"
    schedules = f"SELECT id FROM {t(BillingSchedule)} WHERE legal_entity_id = %(e)s"
    accounts = f"SELECT id FROM {t(Account)} WHERE legal_entity_id = %(e)s"
    orders = f"SELECT id FROM {t(Order)} WHERE legal_entity_id = %(e)s"
    statements = [
        f"DELETE FROM {t(ErrorLog)} WHERE request_id = %(r)s "
        f"OR (primary_type_id = %(invoice_type)s AND primary_id IN ({invoices})) "
        f"OR (primary_type_id = %(schedule_type)s AND primary_id IN ({schedules}))",
        f"DELETE FROM {t(BillingPeriodItem)} WHERE schedule_id IN ({schedules})",
        f"DELETE FROM {t(InvoiceLineTax)} WHERE line_id IN "
        f"(SELECT id FROM {t(InvoiceLine)} WHERE invoice_id IN ({invoices}))",
        f"DELETE FROM {t(InvoiceAddress)} WHERE invoice_id IN ({invoices})",
        f"DELETE FROM {t(InvoiceLine)} WHERE invoice_id IN ({invoices})",
        f"DELETE FROM {t(Invoice)} WHERE legal_entity_id = %(e)s",
        f"DELETE FROM {t(BillingSchedule)} WHERE legal_entity_id = %(e)s",
        f"DELETE FROM {t(BillingScheduleGroup)} WHERE legal_entity_id = %(e)s",
        f"DELETE FROM {t(OrderItem)} WHERE order_id IN ({orders})",
        f"DELETE FROM {t(Order)} WHERE legal_entity_id = %(e)s",
        f"WITH p AS (DELETE FROM {t(BillingProfile)} WHERE account_id IN ({accounts}) "
        f"RETURNING billing_address_id) "
        f"DELETE FROM {t(Address)} WHERE id IN (SELECT billing_address_id FROM p)",
        f"DELETE FROM {t(SavedPaymentMethod)} WHERE account_id IN ({accounts})",
        f"DELETE FROM {t(Contact)} WHERE account_id IN ({accounts})",
        f"DELETE FROM {t(Account)} WHERE legal_entity_id = %(e)s",
        f"DELETE FROM {t(TaxRate)} WHERE legal_entity_id = %(e)s",
        f"DELETE FROM {t(SequencePolicy)} WHERE id = %(policy)s",
        f"DELETE FROM {t(Product)} WHERE id = %(product)s",
        f"DELETE FROM {t(UnitOfMeasure)} WHERE id = %(unit)s",
        f"DELETE FROM {t(PaymentTerm)} WHERE id = %(term)s",
        f"DELETE FROM {t(LegalEntity)} WHERE id = %(e)s",
        f"DELETE FROM {t(Address)} WHERE id = %(address)s",
    ]
    params = {
        "e": entity,
        "r": world.request_id,
        "policy": world.policy_id,
        "product": world.product_id,
        "unit": world.unit_id,
        "term": world.payment_term_id,
        "address": world.entity_address_id,
        "invoice_type": ContentType.objects.get_for_model(Invoice).pk,
        "schedule_type": ContentType.objects.get_for_model(BillingSchedule).pk,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)


# --------------------------------------------------------------------------------------------
# One run, several runs


def kept_worlds() -> list[BenchWorld]:
    """The data sets earlier runs kept (--keep), found by their legal entity's name."""
    worlds = []
    prefix = "Ledgerline Bench "
    for entity in LegalEntity.objects.filter(name__startswith=prefix).order_by("id"):
        token = entity.name.removeprefix(prefix)
        term = PaymentTerm.objects.filter(name=f"Bench net 30 {token}").first()
        unit = UnitOfMeasure.objects.filter(code=f"B{token}").first()
        product = Product.objects.filter(sku=f"BENCH-{token}").first()
        policy = SequencePolicy.objects.filter(name=f"Bench {token}").first()
        worlds.append(
            BenchWorld(
                token=token,
                schedules=BillingSchedule.objects.filter(legal_entity=entity).count(),
                accounts=Account.objects.filter(legal_entity=entity).count(),
                entity_id=entity.pk,
                entity_address_id=entity.address_id or 0,
                payment_term_id=term.pk if term else 0,
                unit_id=unit.pk if unit else 0,
                product_id=product.pk if product else 0,
                policy_id=policy.pk if policy else 0,
                tax_rate_ids=list(
                    TaxRate.objects.filter(legal_entity=entity).values_list("pk", flat=True)
                ),
                request_id="",
            )
        )
    return worlds


def world_reset(world: BenchWorld) -> None:
    """Undo a generation (set-based): delete what it wrote and rewind the schedules and the
    numbering, so the same schedules can be generated again under a new request id."""
    q = connection.ops.quote_name

    def t(model) -> str:
        return q(model._meta.db_table)

    invoices = f"SELECT id FROM {t(Invoice)} WHERE legal_entity_id = %(e)s"
    statements = [
        f"DELETE FROM {t(BillingPeriodItem)} WHERE invoice_id IN ({invoices})",
        f"DELETE FROM {t(InvoiceLineTax)} WHERE line_id IN "
        f"(SELECT id FROM {t(InvoiceLine)} WHERE invoice_id IN ({invoices}))",
        f"DELETE FROM {t(InvoiceAddress)} WHERE invoice_id IN ({invoices})",
        f"DELETE FROM {t(InvoiceLine)} WHERE invoice_id IN ({invoices})",
        f"DELETE FROM {t(Invoice)} WHERE legal_entity_id = %(e)s",
        f"UPDATE {t(BillingSchedule)} SET status = %(ready)s, next_billing_date = %(start)s, "
        "next_charge_from_date = %(start)s, billed_amount = 0, pending_amount = total_amount "
        "WHERE legal_entity_id = %(e)s",
        f"UPDATE {t(SequencePolicy)} SET next_value = NULL WHERE id = %(policy)s",
    ]
    params = {
        "e": world.entity_id,
        "ready": ScheduleStatus.READY,
        "start": START,
        "policy": world.policy_id,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
    world.request_id = f"bench-{world.token}-{uuid.uuid4().hex[:12]}"
    analyze()


def bench_one(
    *,
    schedules: int,
    accounts: int | None = None,
    keep: bool = False,
    trace_memory: bool = True,
    floor_detail: bool = False,
    profile_top: int = 0,
    progress: Callable[[str], None] = lambda message: None,
) -> BenchFigures:
    """Build; time the engine; verify; time the floor; with trace_memory, rewind and run the
    engine again under tracemalloc (which slows it several times, so never in the timed
    run); clean up unless keep."""
    accounts = accounts or max(1, schedules // 10)
    figures = BenchFigures(schedules=schedules, accounts=accounts)
    n = f"N={schedules:,}:"
    progress(f"{n} building {schedules:,} schedules over {accounts:,} accounts…")
    started = time.perf_counter()
    world = world_build(schedules=schedules, accounts=accounts)
    figures.build_seconds = time.perf_counter() - started
    try:
        progress(f"{n} built in {figures.build_seconds:.1f} s; generating and posting (timed)…")
        result = generation_measure(world, figures, profile_top=profile_top)
        generation_verify(world, figures, result)
        del result
        progress(f"{n} engine {figures.engine_seconds:.2f} s; timing the floor…")
        analyze()  # the floor's subqueries need statistics of the rows just written
        figures.floor_temp_seconds = floor_measure(world, temporary=True)[0]
        figures.floor_logged_seconds = floor_measure(world, temporary=False)[0]
        figures.bound_seconds = bound_measure(world)
        if floor_detail:
            figures.floor_tables = floor_measure_tables(world)
        if trace_memory:
            progress(f"{n} floor {figures.floor_temp_seconds:.2f} s; memory run (tracemalloc)…")
            world_reset(world)
            traced = BenchFigures(schedules=schedules, accounts=accounts)
            result = generation_measure(world, traced, trace_memory=True)
            generation_verify(world, traced, result)
            del result
            figures.tracemalloc_peak = traced.tracemalloc_peak
            figures.tracemalloc_seconds = traced.engine_seconds
    finally:
        if keep:
            progress(f"{n} kept the data (legal entity 'Ledgerline Bench {world.token}')")
        else:
            progress(f"{n} deleting the benchmark's rows…")
            world_delete(world)
    return figures


@contextmanager
def debug_off() -> Iterator[None]:
    """Production conditions: with DEBUG on (the local settings' default) every statement's
    SQL is kept in connection.queries, which costs time and memory the engine never pays in
    production."""
    saved = settings.DEBUG
    settings.DEBUG = False
    reset_queries()
    try:
        yield
    finally:
        settings.DEBUG = saved


def bench_many(sizes: list[int], **kwargs) -> list[BenchFigures]:
    """bench_one() per size, smallest first, with DEBUG off."""
    with debug_off():
        return [bench_one(schedules=n, **kwargs) for n in sorted(sizes)]


# --------------------------------------------------------------------------------------------
# Reporting


def in_mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.1f}"


def _ratio_text(a: float, b: float) -> str:
    return f"{a / b:.1f}" if a and b else "n/a"


def _ratio(a: float | int | None, b: float | int | None) -> float | None:
    return a / b if a and b else None


def report_lines(runs: list[BenchFigures]) -> list[str]:
    """The figures table (one column per size), then the targets."""
    rows: list[tuple[str, Callable[[BenchFigures], str]]] = [
        ("schedules", lambda f: f"{f.schedules:,}"),
        ("accounts", lambda f: f"{f.accounts:,}"),
        ("invoices posted", lambda f: f"{f.invoices:,}"),
        ("invoice lines", lambda f: f"{f.lines:,}"),
        ("line tax rows", lambda f: f"{f.taxes:,}"),
        ("period items", lambda f: f"{f.period_items:,}"),
        ("data build (s, not timed)", lambda f: f"{f.build_seconds:.2f}"),
        ("engine wall time (s)", lambda f: f"{f.engine_seconds:.2f}"),
        ("  select + plan keys (s)", lambda f: f"{f.select_seconds:.2f}"),
        ("  generate_for_keys (s)", lambda f: f"{f.generate_seconds:.2f}"),
        (
            "  inside SQL statements (s)",
            lambda f: f"{f.sql_seconds:.2f} ({100 * f.sql_seconds / f.engine_seconds:.0f}%)",
        ),
        (
            "  CPU time of this process (s)",
            lambda f: f"{f.cpu_seconds:.2f} ({100 * f.cpu_seconds / f.engine_seconds:.0f}%)",
        ),
        ("schedules/s", lambda f: f"{f.schedules_per_second:,.0f}"),
        ("lines/s", lambda f: f"{f.lines_per_second:,.0f}"),
        ("SQL statements", lambda f: f"{f.statements:,}"),
        ("SQL statements / 1,000 lines", lambda f: f"{f.statements_per_1000_lines:.1f}"),
        ("tracemalloc peak (MiB)", lambda f: in_mib(f.tracemalloc_peak)),
        (
            "  engine time under tracemalloc (s)",
            lambda f: f"{f.tracemalloc_seconds:.2f}" if f.tracemalloc_peak else "n/a",
        ),
        ("RSS before run (MiB)", lambda f: in_mib(f.rss_before)),
        (
            "RSS peak during run (MiB)",
            lambda f: in_mib(f.rss_peak) + ("" if f.rss_peak_reset else " (process peak)"),
        ),
        ("maxrss, getrusage (MiB)", lambda f: in_mib(f.maxrss)),
        ("floor, TEMP tables (s)", lambda f: f"{f.floor_temp_seconds:.2f}"),
        ("floor, logged tables (s)", lambda f: f"{f.floor_logged_seconds:.2f}"),
        ("ratio engine/floor (TEMP)", lambda f: f"{f.ratio_temp:.1f}"),
        ("ratio engine/floor (logged)", lambda f: f"{f.ratio_logged:.1f}"),
        ("database bound, real tables (s)", lambda f: f"{f.bound_seconds:.2f}"),
        ("ratio engine/database bound", lambda f: f"{f.ratio_bound:.1f}"),
        (
            "ratio database bound/floor (logged)",
            lambda f: _ratio_text(f.bound_seconds, f.floor_logged_seconds),
        ),
    ]
    cells = [[label] + [render(f) for f in runs] for label, render in rows]
    width = max(len(c[0]) for c in cells)
    col = max(12, *(len(v) for c in cells for v in c[1:]))
    lines = [f"{c[0]:<{width}}  " + "  ".join(f"{v:>{col}}" for v in c[1:]) for c in cells]
    lines.insert(1, "-" * len(lines[0]))

    largest = runs[-1]
    verdict = "met" if largest.ratio_logged <= TARGET_RATIO else "NOT met"
    lines += [
        "",
        f"Target engine/floor ≤ {TARGET_RATIO:g} at N={largest.schedules:,}: "
        f"{largest.ratio_logged:.1f} (floor into logged copies, as the issue's CREATE TABLE) "
        f"→ {verdict}; {largest.ratio_temp:.1f} against TEMP copies. The database bound (the "
        "same rows into the real tables, foreign keys checked, and the schedules' UPDATE) is "
        f"{_ratio_text(largest.bound_seconds, largest.floor_logged_seconds)}× the floor.",
    ]
    for other in runs[:-1]:
        # The largest run against each smaller one: the target compares N=100,000
        # with N=10,000. RSS is shown as peaks, not as a ratio: memory freed by an earlier
        # run stays in the process and is reused, so RSS growth within a run is no measure.
        trace = _ratio(largest.tracemalloc_peak, other.tracemalloc_peak)
        rss = f"; peak RSS {in_mib(largest.rss_peak)} vs {in_mib(other.rss_peak)} MiB"
        label = f"Memory ratio N={largest.schedules:,} / N={other.schedules:,}:"
        if trace is None:
            lines.append(f"{label} tracemalloc peak n/a{rss}")
            continue
        verdict = "met" if trace <= TARGET_MEMORY_RATIO else "NOT met"
        lines.append(
            f"{label} tracemalloc peak {trace:.2f}× (target ≤ {TARGET_MEMORY_RATIO:g}×) → "
            f"{verdict}{rss}"
        )
    notes = []
    if any(f.hooks_disabled for f in runs):
        notes.append(
            f"{runs[0].hooks_disabled} after-commit 'invoices posted' receiver(s) were off "
            "during the runs."
        )
    if any(f.profile for f in runs):
        notes.append("cProfile was on: the times above are inflated by the profiler.")
    if any(f.tracemalloc_peak is not None for f in runs):
        notes.append(
            "The tracemalloc peak comes from a second, untimed run of the same schedules (the "
            "times and RSS figures come from the first run, without tracemalloc)."
        )
    lines += [""] + notes if notes else []
    return lines


def floor_detail_lines(f: BenchFigures) -> list[str]:
    lines = [f"Floor per table at N={f.schedules:,} (each insert timed alone):"]
    for table, (rows, temp, logged) in f.floor_tables.items():
        lines.append(f"  {table:<28} {rows:>9,} rows  TEMP {temp:6.3f} s  logged {logged:6.3f} s")
    return lines
