"""Post draft invoices: `manage.py post_invoices --ids 4 5 6` or `--account 12` or `--all`.

The drafts are posted through `invoices_post` in batches of `BATCH` (in id order, so numbers
follow ids as in one call): each batch is one transaction, the sequence policy's lock is held
for one batch at a time, and the progress bar moves per batch. The output is one summary
line; `-v 2` adds a line per posted invoice; failures go to standard error.
"""

from django.core.management.base import BaseCommand, CommandError

from core.management.progress import command_progress
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services.posting import invoices_post

BATCH = 100


class Command(BaseCommand):
    help = "Post draft invoices: actual tax, gapless numbers, posted date."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--ids", type=int, nargs="+", help="Invoice ids.")
        scope.add_argument("--account", type=int, help="Every draft of this account.")
        scope.add_argument("--all", action="store_true", help="Every draft invoice.")

    def handle(self, *args, **opts):
        drafts = Invoice.objects.filter(status=InvoiceStatus.DRAFT)
        if opts["ids"]:
            drafts = drafts.filter(pk__in=opts["ids"])
            skipped = set(opts["ids"]) - set(drafts.values_list("pk", flat=True))
            for pk in sorted(skipped):
                self.stderr.write(f"invoice {pk}: not a draft (or does not exist); skipped")
        elif opts["account"]:
            drafts = drafts.filter(account_id=opts["account"])
        ids = list(drafts.order_by("id").values_list("pk", flat=True))
        if not ids:
            self.stdout.write("No draft invoices to post.")
            return
        posted: list[int] = []
        failures = []
        with command_progress(
            self, "Posting invoices", total=len(ids), verbosity=opts["verbosity"]
        ) as progress:
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                done, failed = invoices_post(invoice_ids=batch, posted_by="manage.py")
                for invoice in Invoice.objects.filter(pk__in=done).order_by("id"):
                    progress.detail(f"posted {invoice.number:<24} (invoice {invoice.pk})")
                for failure in failed:
                    progress.error(f"invoice {failure.invoice_id} left draft: {failure.message}")
                posted += done
                failures += failed
                progress.update(start + len(batch))
        progress.summary(f"{len(posted)} posted, {len(failures)} failed.", ok=not failures)
        if failures:
            raise CommandError("Some invoices could not be posted; see the errors above.")
