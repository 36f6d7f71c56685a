"""The e-invoice benchmark behind `manage.py bench_einvoices` (docs/performance.md,
"E-invoices").

One run at size N:

1. build N accounts of a German seller that has everything EN 16931 asks for (VAT id,
   registration id, Peppol electronic address, IBAN), half of them German businesses (19 %
   VAT, category S) and half French businesses with a VAT id (reverse charge, category AE),
   each with L monthly schedules (default 3) priced 3 × 49.90 EUR, with bulk inserts;
2. generate and post one period of each (target 2026-01-31, the generation engine with
   posting, after-commit receivers off): N posted invoices of L lines (timed, for the record);
3. export: render every invoice's e-invoice in the format asked (default Peppol UBL) through
   `einvoice_render`, reading the invoices a chunk at a time (`invoices_for_einvoice`) and
   keeping nothing but counts (the bytes are dropped as soon as they are counted); a chunk's
   model instances refer to each other, so the cycle collector runs after each chunk (without
   it, chunks pile up between its full passes: a tracemalloc peak of 14 MiB instead of 3 at
   2,000 invoices);
4. validate: run every rule on every invoice through `einvoice_check`, the same way (the
   rules are compiled once, on an untimed first document, before the clock starts);
5. delete everything the run created.

Each of 3 and 4 runs twice: timed, then (unless --no-tracemalloc) again under tracemalloc.
At 10 %, 50 % and 100 % of each pass it records the documents done, the throughput so far,
the Python heap (tracemalloc, current and peak since the pass began: traced passes only) and
the process's resident memory (VmRSS, and VmHWM reset when the pass began). A peak at 100 %
no higher than at 50 % (the count doubled) shows that nothing grows with the count; the
10 % figure is shown, not judged (the process may still be warming up). tracemalloc sees
Python's allocations only (lxml's trees and Saxon's heap are native: RSS shows those), and
slows the Python side several times, hence the separate, untimed pass.

Every row hangs off the run's own legal entity ("Ledgerline E-invoice Bench <token>");
only its invoices are exported. Like bench_generation, it refuses a database that holds
invoices unless forced, and runs with DEBUG off.
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from accounts.models import Address, LegalEntity, PaymentTerm
from benchmarks.generation import (
    BenchFailed,
    BenchRefused,
    BenchWorld,
    WorldSpec,
    analyze,
    debug_off,
    in_mib,
    posted_receivers_off,
    process_maxrss,
    rss_peak_reset,
    rss_status,
    world_delete,
    world_finish,
    world_keys,
    world_options,
)
from einvoicing.logs import facturx_quiet
from einvoicing.services import (
    FORMATS,
    Format,
    einvoice_check,
    einvoice_render,
    invoices_for_einvoice,
)
from invoicing.models import Invoice, InvoiceLine, InvoiceStatus, TaxRate
from invoicing.services.generation import generate_for_keys

CHUNK = 200  # invoices read per query round of the export and the validation
CHECKPOINTS = (10, 50, 100)  # percent
TARGET_MEMORY_RATIO = 1.5  # memory peak at 100 % / at 50 % of a pass (the count doubles)
# Buyers: (country, city, postal code, VAT id = Peppol endpoint, scheme, buyer reference).
BUYERS = (
    ("DE", "München", "80331", "DE129273398", "9930", "04011000-1234512345-06"),
    ("FR", "Paris", "75001", "FR40303265045", "9957", "PO-7781"),
)


# --------------------------------------------------------------------------------------------
# The data set


def _buyer_account(i: int) -> dict:
    _, _, _, vat_id, scheme, reference = BUYERS[i % len(BUYERS)]
    return {
        "email": "ap@example.com",
        "vat_id": vat_id,
        "endpoint_id": vat_id,
        "endpoint_scheme": scheme,
        "buyer_reference": reference,
    }


def _buyer_address(i: int) -> dict:
    country, city, postcode, *_ = BUYERS[i % len(BUYERS)]
    return {
        "line1": f"{i} Example Street",
        "city": city,
        "postal_code": postcode,
        "country": country,
    }


SPEC = WorldSpec(
    label="E-invoice bench",
    code="EBENCH",
    invoice_prefix="EB",
    unit_prefix="E",  # UN/ECE C62 (one), the unit's default
    tax_code="standard",
    currency="EUR",
    quantity=Decimal("3"),
    unit_price=Decimal("49.90"),
    period_amount=Decimal("149.70"),  # a month
    total_amount=Decimal("1796.40"),  # 2026
    payment_method=False,
    account_fields=_buyer_account,
    address_fields=_buyer_address,
)


def world_build(*, invoices: int, lines: int, token: str | None = None) -> BenchWorld:
    """The seller, its numbering, rates, product, and `invoices` accounts with `lines`
    monthly schedules each (bulk, as benchmarks.generation builds them). BenchWorld.schedules
    holds invoices × lines."""
    if invoices < 1 or lines < 1:
        raise BenchRefused("--invoices and --lines must be at least 1.")
    token = token or uuid.uuid4().hex[:8]
    with transaction.atomic():
        address = Address.objects.create(
            line1="Friedrichstraße 1", city="Berlin", postal_code="10117", country="DE"
        )
        entity = LegalEntity.objects.create(
            name=f"Ledgerline E-invoice Bench {token}",
            address=address,
            vat_id="DE136695976",
            legal_registration_id="HRB 123456",
            endpoint_id="DE136695976",
            endpoint_scheme="9930",
            payment_means="58",
            iban="DE89370400440532013000",
            bic="COBADEFFXXX",
            email="billing@ledgerline.example",
        )
        term = PaymentTerm.objects.create(
            name=f"E-invoice bench 14 Tage {token}", kind=PaymentTerm.Kind.NET, days=14
        )
        rates = [
            TaxRate.objects.create(
                legal_entity=entity,
                country="DE",
                tax_code="standard",
                name="USt 19 %",
                rate=Decimal("19"),
            ),
            TaxRate.objects.create(
                legal_entity=entity,
                country="FR",
                tax_code="standard",
                name="TVA 20 %",
                rate=Decimal("20"),
            ),
        ]
        world = world_finish(
            SPEC,
            token=token,
            entity=entity,
            term=term,
            rates=rates,
            per_account=[lines] * invoices,
        )
    analyze()
    return world


def invoices_post(world: BenchWorld) -> float:
    """Generate and post one period of every schedule of the world; the seconds it took.
    Refuses to go on unless every account got one posted invoice of every line."""
    options = world_options(world, posted_by="bench_einvoices")
    started = time.perf_counter()
    with posted_receivers_off():
        result = generate_for_keys(world_keys(world), options=options)
    seconds = time.perf_counter() - started
    posted = Invoice.objects.filter(request_id=world.request_id, status=InvoiceStatus.POSTED)
    lines = InvoiceLine.objects.filter(invoice__request_id=world.request_id).count()
    problems = []
    if result.errors or result.failed_keys or result.posting_errors:
        first = result.errors[0].as_dict() if result.errors else result.posting_errors[:1]
        problems.append(f"{len(result.errors)} error(s), first: {first}")
    if (posted.count(), lines) != (world.accounts, world.schedules):
        problems.append(
            f"{posted.count()} posted invoices of {lines} lines, expected {world.accounts} of "
            f"{world.schedules}"
        )
    if problems:
        raise BenchFailed(
            "Generation did not post the benchmark's invoices: " + "; ".join(problems)
        )
    analyze()
    return seconds


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Checkpoint:
    percent: int
    done: int
    seconds: float
    traced: int | None  # tracemalloc: current
    traced_peak: int | None  # tracemalloc: peak since the pass began
    rss: int | None  # VmRSS
    rss_peak: int | None  # VmHWM since the pass began (when it could be reset)

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


@dataclass
class Phase:
    """One pass over every invoice: an export or a validation, timed or under tracemalloc."""

    name: str
    traced: bool = False
    documents: int = 0
    seconds: float = 0.0
    size: int = 0  # bytes made (export)
    valid: int = 0  # validation
    fatal: int = 0  # documents with a fatal finding
    rules: dict[str, int] = field(default_factory=dict)  # fatal rule ids, counted
    rss_peak_reset: bool = False
    checkpoints: list[Checkpoint] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} (tracemalloc)" if self.traced else self.name

    @property
    def per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


@dataclass
class EInvoiceFigures:
    invoices: int
    lines: int
    format: str
    build_seconds: float = 0.0
    post_seconds: float = 0.0
    export: Phase = field(default_factory=lambda: Phase("export"))
    validation: Phase = field(default_factory=lambda: Phase("validation"))
    # The second, untimed passes under tracemalloc (None with --no-tracemalloc).
    export_traced: Phase | None = None
    validation_traced: Phase | None = None
    maxrss: int = 0

    @property
    def phases(self) -> list[Phase]:
        passes = [self.export, self.validation, self.export_traced, self.validation_traced]
        return [p for p in passes if p is not None]


def _invoices(world: BenchWorld) -> Iterator:
    """The world's posted invoices with what their e-invoice reads, a chunk at a time."""
    ids = list(
        Invoice.objects.filter(legal_entity_id=world.entity_id, status=InvoiceStatus.POSTED)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), CHUNK):
        yield from invoices_for_einvoice(ids[start : start + CHUNK])
        # The chunk's model instances refer to each other (an invoice and its prefetched
        # addresses), so only the cycle collector frees them: run it now rather than let
        # chunks pile up until its next full pass.
        gc.collect()


def _measure(phase: Phase, world: BenchWorld, total: int, work: Callable[[object], None]) -> None:
    """Run `work` on every invoice of the world, timed, recording the checkpoints."""
    marks = {max(1, math.ceil(total * p / 100)): p for p in CHECKPOINTS}
    gc.collect()
    phase.rss_peak_reset = rss_peak_reset()
    if phase.traced:
        tracemalloc.start()
    try:
        started = time.perf_counter()
        for document in _invoices(world):
            work(document)
            phase.documents += 1
            if phase.documents in marks:
                current, peak = tracemalloc.get_traced_memory() if phase.traced else (None, None)
                phase.checkpoints.append(
                    Checkpoint(
                        percent=marks[phase.documents],
                        done=phase.documents,
                        seconds=time.perf_counter() - started,
                        traced=current,
                        traced_peak=peak,
                        rss=rss_status("VmRSS"),
                        rss_peak=rss_status("VmHWM"),
                    )
                )
        phase.seconds = time.perf_counter() - started
    finally:
        if phase.traced:
            tracemalloc.stop()


def export_measure(world: BenchWorld, phase: Phase, total: int, fmt: Format) -> None:
    """Render every invoice's e-invoice; count its bytes, keep nothing."""

    def export(document) -> None:
        phase.size += len(einvoice_render(document, fmt).content)

    _measure(phase, world, total, export)


def validation_measure(world: BenchWorld, phase: Phase, total: int, fmt: Format) -> None:
    """Check every invoice's e-invoice; count the valid ones and the fatal rules."""

    def check(document) -> None:
        result = einvoice_check(document, fmt)
        if result.valid:
            phase.valid += 1
            return
        phase.fatal += 1
        for rule in {f.rule for f in result.fatal}:
            phase.rules[rule] = phase.rules.get(rule, 0) + 1

    _measure(phase, world, total, check)


def _rules_compile(world: BenchWorld, fmt: Format) -> None:
    """Untimed: the first check in a process compiles the rules (XSLT, schemas)."""
    einvoice_check(next(_invoices(world)), fmt)


def bench_run(
    *,
    invoices: int,
    lines: int = 3,
    format_key: str = "ubl",
    trace_memory: bool = True,
    progress: Callable[[str], None] = lambda message: None,
) -> EInvoiceFigures:
    """Build, post, export, validate (timed, then again under tracemalloc unless
    trace_memory is off), delete: see the module doc. DEBUG is off throughout."""
    if format_key not in FORMATS:
        raise BenchRefused(
            f"--format: {format_key!r} is not an e-invoice format: use one of {', '.join(FORMATS)}."
        )
    fmt = FORMATS[format_key]
    figures = EInvoiceFigures(invoices=invoices, lines=lines, format=format_key)
    n = f"N={invoices:,}:"
    with debug_off(), facturx_quiet():
        progress(f"{n} building {invoices:,} accounts with {lines} schedule(s) each…")
        started = time.perf_counter()
        world = world_build(invoices=invoices, lines=lines)
        figures.build_seconds = time.perf_counter() - started
        try:
            progress(f"{n} built in {figures.build_seconds:.1f} s; generating and posting…")
            figures.post_seconds = invoices_post(world)
            progress(f"{n} posted in {figures.post_seconds:.1f} s; exporting ({format_key})…")
            export_measure(world, figures.export, invoices, fmt)
            progress(f"{n} exported in {figures.export.seconds:.1f} s; validating…")
            _rules_compile(world, fmt)
            validation_measure(world, figures.validation, invoices, fmt)
            figures.maxrss = process_maxrss()
            if trace_memory:
                progress(
                    f"{n} validated in {figures.validation.seconds:.1f} s; again under tracemalloc…"
                )
                figures.export_traced = Phase("export", traced=True)
                export_measure(world, figures.export_traced, invoices, fmt)
                figures.validation_traced = Phase("validation", traced=True)
                validation_measure(world, figures.validation_traced, invoices, fmt)
        finally:
            progress(f"{n} deleting the benchmark's rows…")
            world_delete(world)
    return figures


# --------------------------------------------------------------------------------------------
# Reporting


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [v.rjust(widths[i]) for i, v in enumerate(row) if i]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("-" * len(lines[-1]))
    return lines


def _memory_line(phase: Phase) -> str | None:
    """The pass's memory peak at each checkpoint, and its growth from the middle checkpoint to
    the last (the count doubles): RSS for a timed pass, tracemalloc for a traced one. The
    first checkpoint is shown, not judged: the process may still be warming up there."""
    if len(phase.checkpoints) < 2:
        return None
    what = "tracemalloc peak" if phase.traced else "RSS peak"
    peaks = [c.traced_peak if phase.traced else c.rss_peak for c in phase.checkpoints]
    if not all(peaks):
        return None
    middle, last = phase.checkpoints[len(peaks) // 2], phase.checkpoints[-1]
    ratio = peaks[-1] / peaks[len(peaks) // 2]
    verdict = "flat" if ratio <= TARGET_MEMORY_RATIO else "GROWS"
    return (
        f"Memory, {phase.label}: {what} "
        + " / ".join(in_mib(p) for p in peaks)
        + " MiB at "
        + " / ".join(f"{c.done:,}" for c in phase.checkpoints)
        + f" documents: {ratio:.2f}× from {middle.done:,} to {last.done:,} (target ≤ "
        f"{TARGET_MEMORY_RATIO:g}×: {verdict})."
    )


def report_lines(f: EInvoiceFigures) -> list[str]:
    """The figures, the checkpoints of each pass and the memory verdicts."""
    fmt = FORMATS[f.format]
    rules = ", ".join(f"{rule} ×{n}" for rule, n in sorted(f.validation.rules.items()))
    rules = f" ({rules})" if rules else ""
    per_document = f"{f.export.size // f.export.documents:,}" if f.export.documents else "n/a"
    rows = [
        ("format", f"{f.format} ({fmt.label})"),
        ("posted invoices", f"{f.invoices:,}"),
        ("lines per invoice", f"{f.lines}"),
        ("data build (s, not timed)", f"{f.build_seconds:.2f}"),
        ("generate + post (s)", f"{f.post_seconds:.2f}"),
        ("export: documents", f"{f.export.documents:,}"),
        ("export: wall time (s)", f"{f.export.seconds:.2f}"),
        ("export: documents/s", f"{f.export.per_second:,.1f}"),
        ("export: bytes", f"{f.export.size:,}"),
        ("export: bytes per document", per_document),
        ("validation: documents", f"{f.validation.documents:,}"),
        ("validation: valid", f"{f.validation.valid:,}"),
        (
            "validation: with fatal findings",
            f"{f.validation.fatal:,}{rules}",
        ),
        ("validation: wall time (s)", f"{f.validation.seconds:.2f}"),
        ("validation: documents/s", f"{f.validation.per_second:,.1f}"),
        ("maxrss, getrusage (MiB)", in_mib(f.maxrss)),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    checkpoints: list[tuple[str, ...]] = [
        (
            "checkpoint",
            "documents",
            "elapsed (s)",
            "documents/s",
            "tracemalloc (MiB)",
            "tracemalloc peak (MiB)",
            "RSS (MiB)",
            "RSS peak (MiB)",
        )
    ]
    for phase in f.phases:
        for c in phase.checkpoints:
            checkpoints.append(
                (
                    f"{phase.label} {c.percent} %",
                    f"{c.done:,}",
                    f"{c.seconds:.2f}",
                    f"{c.per_second:,.1f}",
                    in_mib(c.traced),
                    in_mib(c.traced_peak),
                    in_mib(c.rss),
                    in_mib(c.rss_peak) + ("" if phase.rss_peak_reset else "*"),
                )
            )
    lines += ["", *_table(checkpoints), ""]
    lines += [line for phase in f.phases if (line := _memory_line(phase))]
    notes = [
        f"Invoices are read {CHUNK} at a time and each document is dropped once counted. The "
        "throughput comes from the timed passes (no tracemalloc); the first check of the "
        "process (compiling the rules) is not timed.",
    ]
    if f.export_traced is not None:
        notes.append(
            "The tracemalloc figures come from a second, untimed pass of each (tracemalloc "
            "slows the Python side several times); it sees Python's heap only, RSS also the "
            "native memory of lxml and Saxon."
        )
    if not all(p.rss_peak_reset for p in f.phases):
        notes.append("* the RSS peak could not be reset: it is the process's peak so far.")
    return [*lines, "", *notes]
