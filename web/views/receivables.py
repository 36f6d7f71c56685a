"""Receivables: the AR aging report (a chart and a table per currency, CSV) and an account's
statement for a date range (page, PDF, CSV). Read-only pages: every role sees them. The
figures are invoicing.receivables' (the same as the API's and the commands')."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.urls import reverse
from django.views import View

from accounts import selectors as account_selectors
from core.money import currency_exponent, number_display
from invoicing.pdf.statement import render_statement_pdf, statement_pdf_filename
from invoicing.receivables import (
    AGING_BUCKET_LABELS,
    AGING_BUCKETS,
    AGING_COLUMNS,
    ONE_DAY,
    STATEMENT_COLUMNS,
    AgingReport,
    AgingRow,
    EntryType,
    Statement,
    account_balances,
    account_statement,
    aging_filename,
    aging_report,
    aging_table,
    csv_text,
    invoice_receivables,
    receivables_today,
    statement_dates,
    statement_filename,
    statement_table,
)
from web.forms import AgingFilterForm, StatementFilterForm
from web.views.base import PageView, get_or_404

# The tone of each receivable status's badge (web.css: badge-ok, -warn, -bad, -off, -info).
STATUS_TONES = {
    "not_due": "info",
    "due": "warn",
    "overdue": "bad",
    "paid": "ok",
    "credited": "ok",
    "written_off": "off",
    "voided": "off",
}


# --- the chart ----------------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 600, 190


def aging_chart_bars(
    total: AgingRow, *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> dict[str, Any]:
    """Geometry of one currency's aging chart (inline SVG, drawn here): a bar per bucket,
    scaled to the largest amount; a negative amount (credit not yet applied exceeding what is
    current) hangs below the zero line."""
    amounts = total.amounts
    top, bottom = 22, height - 26
    high = max([a for a in amounts if a > 0], default=0)
    low = max([-a for a in amounts if a < 0], default=0)
    scale = (bottom - top) / float(high + low) if high + low else 0.0
    zero = top + float(high) * scale if high + low else bottom
    slot = width / len(amounts)
    bar_w = slot * 0.56
    places = currency_exponent(total.currency)
    bars = []
    for i, (bucket, amount) in enumerate(total.by_bucket):
        h = abs(float(amount)) * scale
        y = zero - h if amount >= 0 else zero
        bars.append(
            {
                "bucket": bucket,
                "label": AGING_BUCKET_LABELS[bucket],
                "amount": amount,
                "text": number_display(amount, places),
                "x": round(i * slot + (slot - bar_w) / 2, 1),
                "y": round(y, 1),
                "w": round(bar_w, 1),
                "h": round(h, 1),
                "cx": round(i * slot + slot / 2, 1),
                "value_y": round(y - 5 if amount >= 0 else y + h + 13, 1),
                "label_y": height - 8,
                "tone": "current" if bucket == "current" else f"late{i}",
            }
        )
    return {"bars": bars, "zero_y": round(zero, 1), "width": width, "height": height}


# --- aging --------------------------------------------------------------------------------------


def _aging_from(form: AgingFilterForm) -> tuple[AgingReport, dict[str, str]]:
    """The report a valid filter form asks for, and its parameters as the links repeat them
    (the date resolved, so a download shows what the page showed)."""
    data = form.cleaned_data
    as_of = data.get("as_of") or receivables_today()
    entity = data.get("legal_entity")
    report = aging_report(
        as_of=as_of,
        currency=data.get("currency", ""),
        legal_entity_id=entity.pk if entity else None,
    )
    params = {"as_of": as_of.isoformat()}
    if data.get("currency"):
        params["currency"] = data["currency"]
    if entity:
        params["legal_entity"] = str(entity.pk)
    return report, params


class AgingReportView(PageView):
    template_name = "web/receivables/aging.html"
    nav = "receivables"
    title = "Receivables aging"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = AgingFilterForm(self.request.GET)
        report, params, currencies = None, {}, []
        if form.is_valid():
            report, params = _aging_from(form)
            currencies = [
                {
                    "total": total,
                    "rows": report.rows_for(total.currency),
                    "chart": aging_chart_bars(total),
                }
                for total in report.totals
            ]
        query = f"?{urlencode(params)}" if params else ""
        context.update(
            form=form,
            report=report,
            currencies=currencies,
            buckets=[(b, AGING_BUCKET_LABELS[b]) for b in AGING_BUCKETS],
            csv_url=reverse("web:receivables_aging_csv") + query,
            statement_to=params.get("as_of", ""),
        )
        return context


def _bad_request(form) -> HttpResponse:
    """A download whose parameters the page would refuse: what is wrong, as plain text."""
    lines = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
    return HttpResponse(
        "Nothing to download; fix these parameters:\n" + "\n".join(lines) + "\n",
        status=400,
        content_type="text/plain; charset=utf-8",
    )


def _file(content: bytes | str, content_type: str, filename: str, *, inline: bool = False):
    response = HttpResponse(content, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


class AgingCsvView(LoginRequiredMixin, View):
    """The aging report as CSV, for the page's filters."""

    def get(self, request):
        form = AgingFilterForm(request.GET)
        if not form.is_valid():
            return _bad_request(form)
        report, params = _aging_from(form)
        return _file(
            csv_text(AGING_COLUMNS, aging_table(report)),
            "text/csv; charset=utf-8",
            aging_filename(report, "csv", currency=params.get("currency", "")),
        )


# --- statements ---------------------------------------------------------------------------------


def _statement_from(account, form: StatementFilterForm | None) -> tuple[Statement, dict[str, str]]:
    """The statement a valid form (or, without one, the default range) asks for, and its
    parameters as the links repeat them."""
    data = form.cleaned_data if form is not None else {}
    start, end = statement_dates(data.get("from"), data.get("to"))
    currency = data.get("currency", "")
    statement = account_statement(account=account, date_from=start, date_to=end, currency=currency)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    if currency:
        params["currency"] = currency
    return statement, params


class AccountStatementView(PageView):
    template_name = "web/receivables/statement.html"
    nav = "accounts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = get_or_404(account_selectors.account_get, account_id=kwargs["pk"])
        statement, params = None, {}
        if self.request.GET:
            form = StatementFilterForm(self.request.GET)
            if form.is_valid():
                statement, params = _statement_from(account, form)
        else:
            statement, params = _statement_from(account, None)
            form = StatementFilterForm(
                initial={"from": statement.date_from, "to": statement.date_to}
            )
        sections = []
        if statement is not None:
            invoice_ids = [
                e.invoice_id
                for s in statement.sections
                for e in s.entries
                if e.type == EntryType.INVOICE and e.invoice_id
            ]
            standing = invoice_receivables(invoice_ids=invoice_ids, as_of=statement.date_to)
            aging = aging_report(as_of=statement.date_to, account_id=account.pk)
            for section in statement.sections:
                rows = []
                for entry in section.entries:
                    receivable = (
                        standing.get(entry.invoice_id)
                        if entry.type == EntryType.INVOICE and entry.invoice_id
                        else None
                    )
                    tone = STATUS_TONES.get(receivable.status, "info") if receivable else ""
                    rows.append({"entry": entry, "receivable": receivable, "tone": tone})
                sections.append(
                    {
                        "section": section,
                        "rows": rows,
                        "aging": aging.total_for(section.currency),
                    }
                )
        query = f"?{urlencode(params)}" if params else ""
        context.update(
            title=f"Statement of {account.name}",
            opening_date=statement.date_from - ONE_DAY if statement else None,
            account=account,
            form=form,
            statement=statement,
            sections=sections,
            buckets=[(b, AGING_BUCKET_LABELS[b]) for b in AGING_BUCKETS],
            balances=account_balances(account=account, as_of=receivables_today()),
            today=receivables_today(),
            pdf_url=reverse("web:account_statement_pdf", args=[account.pk]) + query,
            csv_url=reverse("web:account_statement_csv", args=[account.pk]) + query,
        )
        return context


class AccountStatementFileView(LoginRequiredMixin, View):
    """The statement as a file: `file_format` "pdf" (shown inline) or "csv"."""

    file_format = "pdf"

    def get(self, request, pk: int):
        account = get_or_404(account_selectors.account_get, account_id=pk)
        form = StatementFilterForm(request.GET)
        if not form.is_valid():
            return _bad_request(form)
        statement, _ = _statement_from(account, form)
        if self.file_format == "csv":
            return _file(
                csv_text(STATEMENT_COLUMNS, statement_table(statement)),
                "text/csv; charset=utf-8",
                statement_filename(statement, "csv"),
            )
        return _file(
            render_statement_pdf(statement),
            "application/pdf",
            statement_pdf_filename(statement),
            inline=True,
        )
