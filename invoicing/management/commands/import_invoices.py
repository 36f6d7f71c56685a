"""`manage.py import_invoices FILE`: ingest invoices from a JSON or CSV file.

Each invoice goes through the Invoice Ingestion API's parser and service
(invoicing.services.ingestion), all or nothing per invoice: a bad invoice is reported with
every bad field and nothing of it is written; the others are imported. An invoice whose
`unique_identifier` was imported before is reported as already present, so a file can be
imported again after fixing its bad rows. Progress goes to stderr, the per-invoice report to
stdout; the exit status is non-zero when any invoice failed.

JSON: a list of invoices, or {"invoices": [...]}, each shaped like the body of
POST /api/v1/invoices/ingest.

CSV: one row per invoice line. Rows with the same `invoice` value (else the same
`unique_identifier`; else every row alone) make one invoice, whose header fields are taken
from its first row. Columns (all optional but those a rule needs):

- header: account, account_external_id, bill_to, legal_entity, status, invoice_date,
  due_date, posted_date, payment_term, currency, number, unique_identifier,
  reference_order, debit_memo, calculate_tax, description, correlation_id;
- addresses: billing_name, billing_line1, billing_line2, billing_city, billing_region,
  billing_postal_code, billing_country, and the same with shipping_;
- line: line_type, line_name, line_description, product, period_start, period_end,
  quantity, unit (the unit of measure's code), unit_price, amount, line_taxable, line_tax_code;
- one tax row of the line: tax_name, tax_code, tax_rate, tax_amount, tax_kind, tax_status.
  A row with tax columns only adds another tax row to the line above it.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rest_framework import exceptions as drf_exceptions

from core.api import exception_handler
from core.exceptions import DomainError
from core.money import money_str
from invoicing.api.invoices import IngestInvoiceSerializer
from invoicing.services.ingestion import invoice_ingest

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
_LINE_PATH = re.compile(r"^lines\[(\d+)\]")


@dataclass
class Record:
    """One invoice of the file, with where it came from."""

    label: str
    data: dict[str, Any]
    line_rows: list[int] = field(default_factory=list)  # CSV row of each line


class Command(BaseCommand):
    help = "Import invoices from a JSON or CSV file through the Invoice Ingestion API's rules."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="A .json or .csv file.")
        parser.add_argument(
            "--format", choices=["json", "csv"], help="Default: from the file's extension."
        )
        parser.add_argument(
            "--user", default="import_invoices", help="Recorded as who posted the invoices."
        )

    def handle(self, *args, file: str, format: str | None, user: str, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        kind = format or path.suffix.lower().lstrip(".")
        if kind == "json":
            records = self._json_records(path)
        elif kind == "csv":
            records = self._csv_records(path)
        else:
            raise CommandError("Name a .json or .csv file, or pass --format json|csv.")

        total = len(records)
        created = present = failed = 0
        for n, record in enumerate(records, start=1):
            self.stderr.write(f"\rimporting {n}/{total}", ending="")
            self.stderr.flush()
            ok, status, lines = self._import(record, user=user)
            prefix = f"[{n}/{total}] {record.label}:"
            if not ok:
                failed += 1
                self.stdout.write(f"{prefix} FAILED {status}")
                for line in lines:
                    self.stdout.write(f"    {line}")
            elif status == "created":
                created += 1
                self.stdout.write(f"{prefix} created {lines[0]}")
            else:
                present += 1
                self.stdout.write(f"{prefix} already present {lines[0]}")
        self.stderr.write("")
        summary = (
            f"{total} invoice(s): {created} created, {present} already present, {failed} failed."
        )
        if failed:
            self.stdout.write(summary)
            raise CommandError(
                f"{failed} of {total} invoice(s) failed; nothing of them was written."
            )
        self.stdout.write(self.style.SUCCESS(summary))

    # --- one invoice ------------------------------------------------------------------------

    def _import(self, record: Record, *, user: str) -> tuple[bool, str, list[str]]:
        try:
            serializer = IngestInvoiceSerializer(data=record.data)
            serializer.is_valid(raise_exception=True)
            result = invoice_ingest(data=serializer.validated_data, ingested_by=user)
        except (DomainError, drf_exceptions.APIException) as exc:
            body = exception_handler(exc, {}).data
            lines = [
                f"{self._where(path, record)}: {message}"
                for path, messages in (body.get("details") or {}).items()
                if isinstance(messages, list)
                for message in messages
            ]
            return False, f"{body['code']}: {body['message']}", lines
        except Exception as exc:  # a bug: report it with the row, keep importing the others
            return False, f"error: {type(exc).__name__}: {exc}", []
        invoice = result.invoice
        number = f" {invoice.number}" if invoice.number else ""
        text = (
            f"invoice #{invoice.pk}{number}, {invoice.status}, total "
            f"{money_str(invoice.total, invoice.currency)} {invoice.currency}"
        )
        return True, "created" if result.created else "present", [text]

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
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{path} cannot be read as CSV: {exc}")
        groups: dict[str, list[tuple[int, dict]]] = {}
        for row_number, row in enumerate(rows, start=2):  # row 1 is the header
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            key = row.get("invoice") or row.get("unique_identifier") or f"row {row_number}"
            groups.setdefault(key, []).append((row_number, row))
        return [self._csv_record(key, group) for key, group in groups.items()]

    @staticmethod
    def _csv_record(key: str, group: list[tuple[int, dict]]) -> Record:
        first = group[0][1]
        data: dict[str, Any] = {f: first[f] for f in HEADER_FIELDS if first.get(f)}
        addresses = []
        for kind in ("billing", "shipping"):
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
