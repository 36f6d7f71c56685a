"""Sequence policies stamp {DATE} in the reference's formats only (ADR 0006).

date_format held a strftime format ("%Y"); it now holds one of YYYY, MM-YYYY, MM-DD-YYYY or
YYYY-YY (fiscal year, whose first month is the new fiscal_year_start_month). Existing rows are
migrated: the strftime equivalents of the reference formats map exactly ("%Y" → YYYY,
"%m-%Y" → MM-YYYY, "%m-%d-%Y" → MM-DD-YYYY), a reference format in another case is
upper-cased, and any other value takes the reference format of the same granularity (a day
directive → MM-DD-YYYY, else a month directive → MM-YYYY, else YYYY), so no row keeps a
constant stamp. Then the check constraints make any other value impossible.
"""

import django.core.validators
from django.db import migrations, models

REFERENCE_FORMATS = ("YYYY", "MM-YYYY", "MM-DD-YYYY", "YYYY-YY")
FROM_STRFTIME = {"%Y": "YYYY", "%m-%Y": "MM-YYYY", "%m-%d-%Y": "MM-DD-YYYY"}
TO_STRFTIME = {"YYYY": "%Y", "MM-YYYY": "%m-%Y", "MM-DD-YYYY": "%m-%d-%Y", "YYYY-YY": "%Y"}
DAY_DIRECTIVES = ("%d", "%-d", "%e", "%j", "%x", "%c", "%F", "%D")
MONTH_DIRECTIVES = ("%m", "%-m", "%b", "%B", "%h")


def reference_format(value: str) -> str:
    if value.upper() in REFERENCE_FORMATS:
        return value.upper()
    if value in FROM_STRFTIME:
        return FROM_STRFTIME[value]
    if any(directive in value for directive in DAY_DIRECTIVES):
        return "MM-DD-YYYY"
    if any(directive in value for directive in MONTH_DIRECTIVES):
        return "MM-YYYY"
    return "YYYY"


def to_reference_formats(apps, schema_editor):
    SequencePolicy = apps.get_model("invoicing", "SequencePolicy")
    for policy in SequencePolicy.objects.exclude(date_format__in=REFERENCE_FORMATS):
        policy.date_format = reference_format(policy.date_format)
        policy.save(update_fields=["date_format"])


def to_strftime_formats(apps, schema_editor):
    SequencePolicy = apps.get_model("invoicing", "SequencePolicy")
    for reference, strftime in TO_STRFTIME.items():
        SequencePolicy.objects.filter(date_format=reference).update(date_format=strftime)


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0004_batch_runs_and_lifecycle"),
    ]

    operations = [
        migrations.AddField(
            model_name="sequencepolicy",
            name="fiscal_year_start_month",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="First month (1-12) of the fiscal year stamped by YYYY-YY; 4 is April.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(12),
                ],
            ),
        ),
        migrations.RunPython(to_reference_formats, to_strftime_formats),
        migrations.AlterField(
            model_name="sequencepolicy",
            name="date_format",
            field=models.CharField(
                choices=[
                    ("YYYY", "YYYY (2026)"),
                    ("MM-YYYY", "MM-YYYY (04-2026)"),
                    ("MM-DD-YYYY", "MM-DD-YYYY (04-15-2026)"),
                    ("YYYY-YY", "YYYY-YY fiscal year (2025-26)"),
                ],
                default="YYYY",
                error_messages={
                    "invalid_choice": '"%(value)s" is not a date stamp format. Accepted: '
                    "YYYY, MM-YYYY, MM-DD-YYYY, YYYY-YY (fiscal year)."
                },
                help_text=(
                    "How {DATE} is stamped from the document's date: YYYY (2026), MM-YYYY "
                    "(04-2026), MM-DD-YYYY (04-15-2026) or YYYY-YY, the fiscal year holding that "
                    "date (first year, then the last two digits of the year it ends in: 2025-26)."
                ),
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="sequencepolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("date_format__in", ["YYYY", "MM-YYYY", "MM-DD-YYYY", "YYYY-YY"])
                ),
                name="sequence_date_format_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="sequencepolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("fiscal_year_start_month__gte", 1), ("fiscal_year_start_month__lte", 12)
                ),
                name="sequence_fiscal_year_start_month_valid",
            ),
        ),
    ]
