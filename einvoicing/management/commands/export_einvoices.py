"""Bulk export of e-invoices: `manage.py export_einvoices --since 2026-01-01 --until
2026-03-31 --format ubl --out DIR [--validate]`.

Every posted (or voided) invoice and credit memo dated from --since to --until (either may be
left out: no bound) is written into DIR under the name the service gives it
(`RE-00042-ubl.xml`, `GS-00007-cii.xml`, `RE-00042.pdf` for Factur-X; -2, -3… when two
documents of different sellers share a number). Without --format each document takes its
account's preferred format, else Peppol UBL. With --validate every document is first checked
against the rules, and one with a fatal finding is not written.

Documents are read a chunk at a time and each file is written as soon as it is made, so
memory stays flat however many there are. A progress bar on a terminal; a line per file with
`-v 2`; a failure (a document EN 16931 cannot express, or with --validate one that fails the
rules) is named on standard error with its rule ids, the others are still written, and the
command ends with a non-zero exit code. The output is one summary line.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.management.progress import CommandProgress, command_progress
from einvoicing.logs import facturx_quiet
from einvoicing.naming import unique_filename
from einvoicing.services import (
    FORMATS,
    credit_memos_for_einvoice,
    einvoice_check,
    einvoice_format,
    einvoice_render,
    invoices_for_einvoice,
    posted_between,
)

CHUNK = 200  # documents read per query round


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            f"{option}: {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31."
        )


def _directory(value: str) -> Path:
    out = Path(value).expanduser()
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out: {out} is a file, not a directory: name a directory.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--out: the directory {out} cannot be created: {exc.strerror}.")
    if not os.access(out, os.W_OK | os.X_OK):
        raise CommandError(f"--out: the directory {out} is not writable by this user.")
    return out


def _rules(exc: DomainError) -> list[str]:
    """The rule ids an EInvoiceInvalid names in its details (none for other errors)."""
    findings = exc.details.get("findings", []) if isinstance(exc.details, dict) else []
    return sorted({f["rule"] for f in findings if isinstance(f, dict) and f.get("rule")})


class Command(BaseCommand):
    help = (
        "Write the e-invoice of every posted invoice and credit memo dated in a range into a "
        "directory (UBL, XRechnung, CII or Factur-X), optionally checked against the rules "
        "first. Exits non-zero when any document failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", metavar="YYYY-MM-DD", help="First document date (default: no bound)."
        )
        parser.add_argument(
            "--until", metavar="YYYY-MM-DD", help="Last document date (default: no bound)."
        )
        parser.add_argument(
            "--format",
            metavar="FORMAT",
            help=f"One of {', '.join(FORMATS)}; default: each account's preferred format, "
            "else ubl.",
        )
        parser.add_argument(
            "--out",
            metavar="DIR",
            required=True,
            help="The directory to write into (created if missing; files of the same name "
            "are replaced).",
        )
        parser.add_argument(
            "--validate",
            action="store_true",
            help="Check each document against the rules first; one with a fatal finding is "
            "not written and counts as failed.",
        )

    def handle(self, *args, **opts):
        since, until = _date("--since", opts["since"]), _date("--until", opts["until"])
        if since and until and since > until:
            raise CommandError(
                f"--since {since} is after --until {until}: the range is empty; swap them."
            )
        requested = (opts["format"] or "").strip().lower() or None
        if requested is not None and requested not in FORMATS:
            raise CommandError(
                f"--format: {opts['format']!r} is not an e-invoice format: use one of "
                f"{', '.join(FORMATS)}, or leave it out for each account's preferred format."
            )
        out = _directory(opts["out"])
        invoice_ids, memo_ids = posted_between(since=since, until=until)
        span = f"dated {since or 'any time'} to {until or 'any time'}"
        if not invoice_ids and not memo_ids:
            self.stdout.write(f"No posted invoices or credit memos {span}: nothing written.")
            return
        export = _Export(out, requested=requested, validate=opts["validate"])
        with (
            command_progress(
                self,
                "Exporting e-invoices",
                total=len(invoice_ids) + len(memo_ids),
                verbosity=opts["verbosity"],
            ) as progress,
            facturx_quiet(),
        ):
            export.progress = progress
            export.run("invoice", invoice_ids, invoices_for_einvoice)
            export.run("credit memo", memo_ids, credit_memos_for_einvoice)
        summary = export.summary(span)
        if export.failures:
            progress.summary(summary, ok=False)
            raise CommandError(
                f"{export.failures} document(s) could not be exported; see the errors above."
            )
        progress.summary(summary)


class _Failed(Exception):
    """A document whose e-invoice has fatal findings (--validate)."""

    def __init__(self, rules: list[str], message: str) -> None:
        super().__init__(message)
        self.rules = rules
        self.message = message


class _Export:
    """Writes the files and counts what it wrote and what failed."""

    def __init__(self, out: Path, *, requested: str | None, validate: bool) -> None:
        self.out = out
        self.requested = requested
        self.validate = validate
        self.progress: CommandProgress | None = None
        self.written: Counter[str] = Counter()  # per kind
        self.formats: Counter[str] = Counter()
        self.failed_rules: Counter[str] = Counter()
        self.failures = 0
        self.size = 0
        self.taken: set[str] = set()  # file names written by this run

    def run(self, kind: str, ids: list[int], load: Callable[[list[int]], list]) -> None:
        assert self.progress is not None
        for start in range(0, len(ids), CHUNK):
            gc.collect()  # frees the last chunk (its model instances refer to each other)
            for document in load(ids[start : start + CHUNK]):
                self.one(kind, document)
                self.progress.advance()

    def one(self, kind: str, document) -> None:
        assert self.progress is not None
        label = f"{kind} {document} (id {document.pk})"
        try:
            fmt = einvoice_format(document, self.requested)
            if self.validate:
                result = einvoice_check(document, fmt)
                if not result.valid:
                    first = result.fatal[0]
                    rules = sorted({f.rule for f in result.fatal})
                    raise _Failed(rules, f"{first.rule}: {first.message}")
            file = einvoice_render(document, fmt)
        except _Failed as exc:
            self.failed(exc.rules)
            self.progress.error(
                f"{label}: fails the rules ({', '.join(exc.rules)}), not written. {exc.message}"
            )
            return
        except DomainError as exc:
            rules = _rules(exc)
            self.failed(rules or [exc.code])
            self.progress.error(f"{label}: [{', '.join(rules) or exc.code}] {exc.message}")
            return
        name = unique_filename(file.filename, self.taken)
        path = self.out / name
        try:
            path.write_bytes(file.content)
        except OSError as exc:
            raise CommandError(f"--out: cannot write {path}: {exc.strerror}.")
        self.written[kind] += 1
        self.formats[fmt.key] += 1
        self.size += len(file.content)
        self.progress.detail(f"{name}  ({label}, {len(file.content):,} bytes)")

    def failed(self, rules: list[str]) -> None:
        self.failures += 1
        self.failed_rules.update(rules)

    def summary(self, span: str) -> str:
        formats = ", ".join(f"{key} {n}" for key, n in sorted(self.formats.items()))
        text = (
            f"Exported {self.written['invoice']} invoice(s) and {self.written['credit memo']} "
            f"credit memo(s) {span} into {self.out}: {self.size:,} bytes"
            + (f" ({formats})" if formats else "")
            + ("; each checked against the rules first" if self.validate else "")
        )
        if not self.failures:
            return f"{text}."
        rules = ", ".join(f"{rule} ×{n}" for rule, n in sorted(self.failed_rules.items()))
        return f"{text}; {self.failures} failed ({rules})."
