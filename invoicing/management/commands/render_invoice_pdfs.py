"""Render invoice PDFs: `manage.py render_invoice_pdfs --missing` (posted and voided
invoices without a current document), `--ids 4 5 --regenerate` (a new version each).

A progress bar on a terminal; the output is one summary line, with a line per document under
`-v 2`; failures go to standard error."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.management.progress import command_progress
from invoicing.models import Invoice, InvoiceDocument, InvoiceStatus
from invoicing.services.documents import invoice_document_render


class Command(BaseCommand):
    help = "Render and store invoice PDFs as versioned documents."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--ids", type=int, nargs="+", help="These invoices.")
        scope.add_argument(
            "--missing",
            action="store_true",
            help="Posted and voided invoices with no ready document.",
        )
        parser.add_argument(
            "--regenerate", action="store_true", help="Add a new version even if one is current."
        )

    def handle(self, *args, **opts):
        if opts["ids"]:
            ids = opts["ids"]
        else:
            ids = list(
                Invoice.objects.filter(status__in=[InvoiceStatus.POSTED, InvoiceStatus.VOIDED])
                .exclude(documents__status=InvoiceDocument.Status.READY)
                .order_by("id")
                .values_list("pk", flat=True)
            )
        failed = 0
        with command_progress(
            self, "Rendering PDFs", total=len(ids), verbosity=opts["verbosity"]
        ) as progress:
            for pk in ids:
                try:
                    doc = invoice_document_render(invoice_id=pk, regenerate=opts["regenerate"])
                except DomainError as exc:
                    failed += 1
                    progress.error(f"invoice {pk}: [{exc.code}] {exc.message}")
                else:
                    progress.detail(
                        f"invoice {pk}: version {doc.version}, {doc.page_count} page(s), "
                        f"{doc.size} bytes, sha256 {doc.sha256[:12]}…"
                    )
                progress.advance()
        progress.summary(f"{len(ids) - failed} rendered, {failed} failed.", ok=not failed)
        if failed:
            raise CommandError("Some PDFs could not be rendered; see the errors above.")
