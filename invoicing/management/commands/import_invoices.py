"""`manage.py import_invoices FILE`: ingest invoices from a JSON or CSV file.

Each invoice goes through the Invoice Ingestion API's parser and service
(invoicing.services.ingestion), all or nothing per invoice: a bad invoice is reported with
every bad field and nothing of it is written; the others are imported. An invoice whose
`unique_identifier` was imported before is reported as already present, so a file can be
imported again after fixing its bad rows.

What is reported comes from the database once the invoice's transaction has ended: an
invoice is "created" only when its row is there (committed), never for a write that was
rolled back. A progress bar shows on a terminal; standard output gets one summary line
(`-v 2`: a line per invoice), standard error every failed invoice with its fields and CSV
rows; the exit status is non-zero when any invoice failed.

JSON: a list of invoices, or {"invoices": [...]}, each shaped like the body of
POST /api/v1/invoices/ingest. CSV: the columns below (CSV_HELP, shown by --help); a column
the command does not know is an error naming the known ones, before anything is written.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from rest_framework import exceptions as drf_exceptions

from core.api import exception_handler
from core.exceptions import DomainError
from core.management.progress import command_progress
from core.money import money_display
from invoicing.api.invoices import IngestInvoiceSerializer
from invoicing.models import Invoice
from invoicing.services.ingestion import invoice_ingest

GROUP_COLUMN = "invoice"
HEADER_FIELDS = (
    "account",
    "account_external_id",
    "bill_to",
    "legal_entity",
    "status",
    "invoice_date",
    "due_date",
    "posted_date",
    "payment_term",
    "currency",
    "number",
    "unique_identifier",
    "reference_order",
    "debit_memo",
    "calculate_tax",
    "description",
    "correlation_id",
)
ADDRESS_KINDS = ("billing", "shipping")
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
LINE_COLUMNS = {
    "line_type": "type",
    "line_name": "name",
    "line_description": "description",
    "product": "product",
    "period_start": "period_start",
    "period_end": "period_end",
    "quantity": "quantity",
    "unit": "unit_code",
    "unit_price": "unit_price",
    "amount": "amount",
    "line_taxable": "taxable",
    "line_tax_code": "tax_code",
}
TAX_COLUMNS = {
    "tax_name": "name",
    "tax_code": "code",
    "tax_rate": "rate",
    "tax_amount": "amount",
    "tax_kind": "kind",
    "tax_status": "status",
}
ADDRESS_COLUMNS = tuple(f"{kind}_{f}" for kind in ADDRESS_KINDS for f in ADDRESS_FIELDS)
KNOWN_COLUMNS = (
    GROUP_COLUMN,
    *HEADER_FIELDS,
    *ADDRESS_COLUMNS,
    *LINE_COLUMNS,
    *TAX_COLUMNS,
)
_LINE_PATH = re.compile(r"^lines\[(\d+)\]")

CSV_HELP = """\
CSV files: one row per invoice line. Rows with the same `invoice` value make one invoice
(without that column: rows with the same unique_identifier; else each row is an invoice);
its header and addresses are read from its first row. A row with only tax columns adds
another tax row to the line above it. Every column is optional except what a rule needs;
a column not listed here is an error.

  grouping:
    invoice               any text: rows with the same value are one invoice
  header (first row of an invoice):
    account               account id (or account_external_id)
    account_external_id   the account's external id
    bill_to               contact id
    legal_entity          legal entity id (default: the account's billing terms)
    status                draft (default) or posted
    invoice_date          YYYY-MM-DD (required)
    due_date              YYYY-MM-DD (default: from the payment term)
    posted_date           YYYY-MM-DD, posted invoices only (default: today)
    payment_term          payment term id
    currency              ISO 4217 code (default: the account's currency)
    number                posted invoices only (default: the next number of the policy)
    unique_identifier     imported once: importing it again reports it already present
    reference_order       order id
    debit_memo            id of a posted debit memo: a draft invoice of its lines
    calculate_tax         true: estimate the tax with the tax engine (drafts only)
    description, correlation_id
  addresses (the billing address decides the tax jurisdiction):
    billing_name, billing_line1, billing_line2, billing_city, billing_region,
    billing_postal_code, billing_country (2 letters)
    shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_region,
    shipping_postal_code, shipping_country
  line:
    line_type             charge (default) or adjustment
    line_name, line_description
    product               product id
    period_start, period_end   YYYY-MM-DD
    quantity, unit_price  decimals (required)
    unit                  unit of measure code (e.g. HR)
    amount                optional; must equal quantity x unit price, rounded
    line_taxable          true or false
    line_tax_code
  tax row of the line (posted invoices bring their final tax):
    tax_name, tax_rate (percent), tax_amount (required for a tax row)
    tax_code, tax_kind (percentage, compound or flat), tax_status (posted or estimated)
"""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's order of options; the description and the column list as written."""


@dataclass
class Record:
    """One invoice of the file, with where it came from."""

    label: str
    data: dict[str, Any]
    line_rows: list[int] = field(default_factory=list)  # CSV row of each line


@dataclass
class Outcome:
    """What became of one invoice, as the database has it after its transaction."""

    status: str  # created, present or failed
    text: str
    details: list[str] = field(default_factory=list)


# The largest file read by default: it is read whole into memory.
MAX_FILE_MB = 100


class Command(BaseCommand):
    help = (
        "Import invoices from a JSON or CSV file through the Invoice Ingestion API's rules,\n"
        'all or nothing per invoice. JSON: a list of invoices (or {"invoices": [...]}), each\n'
        "shaped like the body of POST /api/v1/invoices/ingest. CSV: the columns below."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("epilog", CSV_HELP)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="A .json or .csv file.")
        parser.add_argument(
            "--format", choices=["json", "csv"], help="Default: from the file's extension."
        )
        parser.add_argument(
            "--user", default="import_invoices", help="Recorded as who posted the invoices."
        )
        parser.add_argument(
            "--max-size",
            type=int,
            default=MAX_FILE_MB,
            metavar="MB",
            help=f"Refuse a larger file (default {MAX_FILE_MB} MB): split it.",
        )

    def handle(self, *args, file: str, format: str | None, user: str, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        limit = options.get("max_size") or MAX_FILE_MB
        size = path.stat().st_size
        if size > limit * 1024 * 1024:
            raise CommandError(
                f"{path} is {size / 1024 / 1024:.1f} MB, more than --max-size {limit} MB: split "
                "it into several files (each is imported on its own), or raise --max-size."
            )
        kind = format or path.suffix.lower().lstrip(".")
        if kind == "json":
            records = self._json_records(path)
        elif kind == "csv":
            records = self._csv_records(path)
        else:
            raise CommandError("Name a .json or .csv file, or pass --format json|csv.")

        total = len(records)
        counts = {"created": 0, "present": 0, "failed": 0}
        with command_progress(
            self, "Importing invoices", total=total, verbosity=options["verbosity"]
        ) as progress:
            for n, record in enumerate(records, start=1):
                outcome = self._import(record, user=user)
                counts[outcome.status] += 1
                prefix = f"[{n}/{total}] {record.label}:"
                if outcome.status == "failed":
                    progress.error(f"{prefix} FAILED {outcome.text}")
                    for line in outcome.details:
                        progress.error(f"    {line}")
                else:
                    label = "created" if outcome.status == "created" else "already present"
                    progress.detail(f"{prefix} {label} {outcome.text}")
                    for line in outcome.details:
                        progress.error(f"{prefix} {line}")
                progress.advance()
        created, present, failed = counts["created"], counts["present"], counts["failed"]
        progress.summary(
            f"{total} invoice(s): {created} created, {present} already present, {failed} failed.",
            ok=not failed,
        )
        if failed:
            raise CommandError(
                f"{failed} of {total} invoice(s) failed and wrote nothing (see above); "
                f"the other {total - failed} are imported."
            )

    # --- one invoice ------------------------------------------------------------------------

    def _import(self, record: Record, *, user: str) -> Outcome:
        uid = str(record.data.get("unique_identifier") or "") or None
        known_before = uid is not None and Invoice.objects.filter(unique_identifier=uid).exists()
        try:
            serializer = IngestInvoiceSerializer(data=record.data)
            serializer.is_valid(raise_exception=True)
            result = invoice_ingest(data=serializer.validated_data, ingested_by=user)
        except (DomainError, drf_exceptions.APIException) as exc:
            body = exception_handler(exc, {}).data
            details = [
                f"{self._where(path, record)}: {message}"
                for path, messages in (body.get("details") or {}).items()
                if isinstance(messages, list)
                for message in messages
            ]
            return Outcome("failed", f"{body['code']}: {body['message']}", details)
        except Exception as exc:  # a bug: report it with the row, keep importing the others
            error = f"error: {type(exc).__name__}: {exc}"
            # An error after the invoice's transaction committed (an after-commit hook) leaves
            # the invoice written: say so rather than report it as not imported.
            kept = Invoice.objects.filter(unique_identifier=uid).first() if uid else None
            if kept is not None and not known_before:
                return Outcome("created", _described(kept), [f"then {error}"])
            return Outcome("failed", error)
        # Read back: only a committed row is reported as imported.
        invoice = Invoice.objects.filter(pk=result.invoice.pk).first()
        if invoice is None:
            return Outcome("failed", "rolled back: the invoice was not kept")
        return Outcome("created" if result.created else "present", _described(invoice))

    @staticmethod
    def _where(path: str, record: Record) -> str:
        match = _LINE_PATH.match(path)
        if match and record.line_rows:
            index = int(match.group(1))
            if index < len(record.line_rows):
                return f"{path} (row {record.line_rows[index]})"
        return path

    # --- reading the file -------------------------------------------------------------------

    def _json_records(self, path: Path) -> list[Record]:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}")
        if isinstance(payload, dict):
            payload = payload.get("invoices", [payload])
        if not isinstance(payload, list) or not all(isinstance(i, dict) for i in payload):
            raise CommandError('The JSON must be a list of invoices or {"invoices": [...]}.')
        return [
            Record(
                label=f"invoice {i}"
                + (f" ({item['unique_identifier']})" if item.get("unique_identifier") else ""),
                data=item,
            )
            for i, item in enumerate(payload, start=1)
        ]

    def _csv_records(self, path: Path) -> list[Record]:
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                columns = [name.strip() for name in reader.fieldnames or []]
                _columns_check(path, columns)
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{path} cannot be read as CSV: {exc}")
        groups: dict[str, list[tuple[int, dict]]] = {}
        for row_number, row in enumerate(rows, start=2):  # row 1 is the header
            extra = [value for value in row.get(None) or [] if value.strip()]
            if extra:
                raise CommandError(
                    f"{path}, row {row_number}: {len(extra)} value(s) more than the header's "
                    f"{len(columns)} columns; nothing was imported."
                )
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            key = row.get(GROUP_COLUMN) or row.get("unique_identifier") or f"row {row_number}"
            groups.setdefault(key, []).append((row_number, row))
        return [self._csv_record(key, group) for key, group in groups.items()]

    @staticmethod
    def _csv_record(key: str, group: list[tuple[int, dict]]) -> Record:
        first = group[0][1]
        data: dict[str, Any] = {f: first[f] for f in HEADER_FIELDS if first.get(f)}
        addresses = []
        for kind in ADDRESS_KINDS:
            values = {f: first.get(f"{kind}_{f}", "") for f in ADDRESS_FIELDS}
            if any(values.values()):
                addresses.append({"kind": kind, **values})
        if addresses:
            data["addresses"] = addresses
        lines: list[dict] = []
        line_rows: list[int] = []
        for row_number, row in group:
            line = {api: row[col] for col, api in LINE_COLUMNS.items() if row.get(col)}
            tax = {api: row[col] for col, api in TAX_COLUMNS.items() if row.get(col)}
            if not line and tax and lines:
                lines[-1].setdefault("taxes", []).append(tax)
                continue
            if not line and not tax:
                continue
            if tax:
                line["taxes"] = [tax]
            lines.append(line)
            line_rows.append(row_number)
        if lines:
            data["lines"] = lines
        rows = [n for n, _ in group]
        where = f"row {rows[0]}" if len(rows) == 1 else f"rows {rows[0]}-{rows[-1]}"
        label = where if key.startswith("row ") else f"{key} ({where})"
        return Record(label=label, data=data, line_rows=line_rows)


def _columns_check(path: Path, columns: list[str]) -> None:
    """Refuse, before anything is written, a header naming a column the command does not
    read (a typo would silently drop a value) or naming one twice."""
    if not any(columns):
        raise CommandError(f"{path} has no header row; its first row names the columns.")
    unknown = [name for name in columns if name and name not in KNOWN_COLUMNS]
    if unknown:
        raise CommandError(
            f"{path}: unknown column(s) {', '.join(repr(n) for n in unknown)}; nothing was "
            f"imported. The known columns are: {', '.join(KNOWN_COLUMNS)} "
            "(see import_invoices --help)."
        )
    twice = sorted({name for name in columns if name and columns.count(name) > 1})
    if twice:
        raise CommandError(
            f"{path}: column(s) {', '.join(repr(n) for n in twice)} appear more than once; "
            "nothing was imported."
        )


def _described(invoice: Invoice) -> str:
    number = f" {invoice.number}" if invoice.number else ""
    return (
        f"invoice #{invoice.pk}{number}, {invoice.status}, total "
        f"{money_display(invoice.total, invoice.currency)}"
    )
