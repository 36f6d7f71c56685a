from django.db import migrations, models
from django.db.models import F


def void_memos_marked(apps, schema_editor):
    """The mirror memos of earlier voids: on a voided invoice, for its whole total."""
    CreditMemo = apps.get_model("invoicing", "CreditMemo")
    CreditMemo.objects.filter(invoice__status="voided", total=F("invoice__total")).update(
        source="void", reason_code="billing_error"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0007_credit_application_who_and_unapply"),
    ]

    operations = [
        migrations.AddField(
            model_name="creditmemo",
            name="reason_code",
            field=models.CharField(
                choices=[
                    ("billing_error", "Billing error"),
                    ("service_issue", "Service issue"),
                    ("goodwill", "Goodwill"),
                    ("cancellation", "Cancellation"),
                    ("other", "Other"),
                ],
                default="other",
                help_text="Why the credit was given (the API's `reason`); `reason` is the note "
                "that explains it (the API's `note`).",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="creditmemo",
            name="source",
            field=models.CharField(
                choices=[
                    ("standalone", "Standalone"),
                    ("invoice", "Credit of invoice lines"),
                    ("void", "Void of an invoice"),
                    ("write_off", "Write-off"),
                    ("negative_lines", "Negative invoice lines"),
                ],
                default="standalone",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="creditmemo",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("posted", "Posted"), ("voided", "Voided")],
                default="draft",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="debitmemo",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("posted", "Posted"),
                    ("invoiced", "Invoiced"),
                    ("canceled", "Canceled"),
                    ("offset", "Offsets a voided credit memo (not billed)"),
                ],
                default="draft",
                max_length=20,
            ),
        ),
        migrations.RunPython(void_memos_marked, migrations.RunPython.noop),
    ]
