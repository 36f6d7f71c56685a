"""Post draft invoices: `manage.py post_invoices --ids 4 5 6` or `--account 12` or `--all`."""

from django.core.management.base import BaseCommand, CommandError

from invoicing.models import Invoice, InvoiceStatus
from invoicing.services.posting import invoices_post


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
        posted, failures = invoices_post(invoice_ids=ids, posted_by="manage.py")
        for invoice in Invoice.objects.filter(pk__in=posted).order_by("id"):
            self.stdout.write(f"posted {invoice.number:<24} (invoice {invoice.pk})")
        for failure in failures:
            self.stderr.write(f"invoice {failure.invoice_id} left draft: {failure.message}")
        self.stdout.write(self.style.SUCCESS(f"{len(posted)} posted, {len(failures)} failed."))
        if failures:
            raise CommandError("Some invoices could not be posted; see the errors above.")
