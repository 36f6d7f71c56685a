"""The account statement as a PDF, drawn with the invoice's building blocks
(invoicing/pdf/layout.py): the same header (seller, title, facts), parties with the highlighted
amount, ruled table, totals and footer ("Page X of Y").

One part per currency of the statement (invoicing.receivables.account_statement), each from a
new page: the opening balance (the day before the range), every invoice, credit memo and
payment dated in the range with the running balance, the closing balance; the totals
(opening, invoiced, credited, paid, closing); what is open at the end of the range by age
(invoicing.receivables.aging_report, the same figures as the aging report).

The buyer is the account with its default billing profile's contact and billing address, the
seller its legal entity, both as on the invoice (invoicing/pdf/collect.py).
"""

from __future__ import annotations

import io
from functools import partial

from django.db.models import Prefetch
from django.utils import timezone
from reportlab.lib.units import mm
from reportlab.platypus import (
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from accounts.models import Account, BillingProfile
from core.money import ZERO
from invoicing.pdf.collect import _parties, _profile_terms
from invoicing.pdf.document import Document, Highlight, Party, Row, Section
from invoicing.pdf.layout import (
    BOLD,
    FONT,
    HAIRLINE,
    HEADER_BG,
    INK,
    MUTED,
    RULE,
    _header,
    _no_decoration,
    _NumberedCanvas,
    _page_size,
    _sections,
    _styles,
    _summary,
)
from invoicing.pdf.layout import (
    _parties as _parties_block,
)
from invoicing.pdf.text import DOT, date_text, esc, exponent, money, plain
from invoicing.receivables import (
    AGING_BUCKET_LABELS,
    AGING_BUCKETS,
    EntryType,
    Statement,
    StatementSection,
    aging_report,
    statement_filename,
)


def statement_period_text(statement: Statement) -> str:
    """'1 Jan 2026 – 31 Mar 2026'."""
    return f"{date_text(statement.date_from)} \u2013 {date_text(statement.date_to)}"


def statement_pdf_filename(statement: Statement) -> str:
    """'statement-ACME-1-2026-01-01-2026-03-31.pdf' (invoicing.receivables.statement_filename)."""
    return statement_filename(statement, "pdf")


def _account_with_parties(account: Account) -> Account:
    """The account with its seller's address and its billing profiles (for _profile_terms)."""
    return (
        Account.objects.select_related("legal_entity__address")
        .prefetch_related(
            Prefetch(
                "billing_profiles",
                queryset=BillingProfile.objects.select_related("bill_to", "billing_address"),
            )
        )
        .get(pk=account.pk)
    )


def _parties_of(account: Account) -> tuple[Party, Party]:
    contact, billing = _profile_terms(account)
    return _parties(seller=account.legal_entity, account=account, contact=contact, billing=billing)


def statement_document(
    statement: Statement, section: StatementSection, *, seller: Party, buyer: Party
) -> Document:
    """The header, parties, totals and sections of one currency's part of the statement (its
    entries are drawn by _entries_table)."""
    cur = section.currency
    exp = exponent(cur)
    account = statement.account
    closing = section.closing_balance
    invoiced = sum((e.debit for e in section.entries if e.type == EntryType.INVOICE), ZERO)
    other_debits = section.debits - invoiced  # refunds, reversals, offsetting debit memos
    credited = sum((e.credit for e in section.entries if e.type == EntryType.CREDIT_MEMO), ZERO)
    paid = sum((e.credit for e in section.entries if e.type == EntryType.PAYMENT), ZERO)

    aging = aging_report(as_of=statement.date_to, currency=cur, account_id=account.pk)
    row = aging.total_for(cur)
    overdue = sum((row.amount(b) for b in AGING_BUCKETS[1:]), ZERO) if row else ZERO

    facts: list[tuple[str, str]] = [("Account", account.external_id or f"#{account.pk}")]
    facts.append(("Period", statement_period_text(statement)))
    facts.append(("Currency", cur))
    facts.append(("Issued", date_text(timezone.localdate())))

    notes = [f"As of {date_text(statement.date_to)}"]
    if overdue > ZERO:
        notes.append(f"{cur} {money(overdue, exp)} of it overdue")
    elif closing < ZERO:
        notes.append("A credit in your favour")

    totals = [Row("Opening balance", section.opening_balance), Row("Invoiced", invoiced)]
    if other_debits:
        totals.append(Row("Refunds and reversals", other_debits))
    totals += [
        Row("Less credits", credited),
        Row("Less payments", paid),
        Row("Closing balance", closing, "due", currency=True),
    ]

    sections: list[Section] = []
    if row is not None and any(row.amounts):
        aged = [
            f"{AGING_BUCKET_LABELS[bucket]}: {money(row.amount(bucket), exp)}"
            for bucket in AGING_BUCKETS
        ]
        sections.append(
            Section(
                f"By age, as of {date_text(statement.date_to)} ({cur})",
                (
                    DOT.join(aged),
                    "Current includes amounts not yet due, and credit not yet applied and "
                    "payments not yet allocated as negative amounts.",
                ),
            )
        )
    if closing > ZERO:
        sections.append(
            Section("Payment", ("Please quote the invoice numbers with your payment.",))
        )
    now = timezone.now()
    return Document(
        kind="Statement",
        number=None,
        marks=(),
        watermark="",
        facts=tuple(facts),
        currency=cur,
        seller=seller,
        buyer_label="STATEMENT FOR",
        buyer=buyer,
        lines=(),
        taxes=(),
        tax_note="",
        totals=tuple(totals),
        highlight=Highlight(
            "BALANCE DUE" if closing >= ZERO else "CREDIT BALANCE", closing, tuple(notes)
        ),
        sections=tuple(sections),
        created_at=now,
        modified_at=now,
    )


_ENTRY_HEADERS = ("Date", "Document", "Description", "Debit", "Credit", "Balance")


def _entries_table(statement: Statement, section: StatementSection, st: dict, width: float):
    exp = exponent(section.currency)
    date_w, doc_w, num_w = 24 * mm, 38 * mm, 25 * mm
    col_widths = [date_w, doc_w, width - date_w - doc_w - 3 * num_w, num_w, num_w, num_w]
    cur = plain(section.currency)
    data: list[list] = [[*_ENTRY_HEADERS[:3], f"Debit ({cur})", f"Credit ({cur})", "Balance"]]

    def amount(value) -> str:
        return money(value, exp) if value else ""

    data.append(
        [
            date_text(statement.date_from),
            Paragraph("<b>Opening balance</b>", st["line0"]),
            "",
            "",
            "",
            money(section.opening_balance, exp),
        ]
    )
    for entry in section.entries:
        data.append(
            [
                date_text(entry.date),
                Paragraph(f"{esc(entry.type_label)} {esc(entry.document)}", st["line0"]),
                Paragraph(esc(entry.describe(date_text)), st["line0"]),
                amount(entry.debit),
                amount(entry.credit),
                money(entry.balance, exp),
            ]
        )
    if not section.entries:
        data.append(
            ["", Paragraph("No document or payment in this period", st["muted"]), "", "", "", ""]
        )
    data.append(
        [
            date_text(statement.date_to),
            Paragraph("<b>Closing balance</b>", st["line0"]),
            "",
            money(section.debits, exp),
            money(section.credits, exp),
            money(section.closing_balance, exp),
        ]
    )
    last = len(data) - 1
    table = LongTable(data, colWidths=col_widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), BOLD, 8),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, RULE),
                ("FONT", (0, 1), (-1, -1), FONT, 8.5),
                ("TEXTCOLOR", (0, 1), (-1, -1), INK),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, HAIRLINE),
                ("LINEABOVE", (0, last), (-1, last), 0.75, RULE),
                ("FONT", (3, last), (-1, last), BOLD, 8.5),
                ("FONT", (-1, 1), (-1, 1), BOLD, 8.5),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return [table]


def render_statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes: one part per currency, each from a new page."""
    account = _account_with_parties(statement.account)
    seller, buyer = _parties_of(account)
    st = _styles()
    documents = [
        (section, statement_document(statement, section, seller=seller, buyer=buyer))
        for section in statement.sections
    ]
    first = documents[0][1]
    label = f"Statement of {account.name}, {statement_period_text(statement)}"
    buffer = io.BytesIO()
    margin = 18 * mm
    template = SimpleDocTemplate(
        buffer,
        pagesize=_page_size(first),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=16 * mm,
        bottomMargin=22 * mm,
        title=plain(label),
        author=plain(seller.name),
        subject=plain(f"Account statement for {account.name}"),
        creator="Ledgerline",
        invariant=1,
    )
    width = template.width
    story: list = []
    for i, (section, doc) in enumerate(documents):
        if i:
            story.append(PageBreak())
        exp = exponent(section.currency)
        story += _header(doc, st, width)
        story.append(Spacer(1, 9 * mm))
        story += _parties_block(doc, st, width, exp)
        story.append(Spacer(1, 8 * mm))
        story += _entries_table(statement, section, st, width)
        story.append(Spacer(1, 6 * mm))
        story += _summary(doc, st, width, exp)
        story += _sections(doc, st, width)
    template.build(
        story,
        onFirstPage=_no_decoration,
        onLaterPages=_no_decoration,
        canvasmaker=partial(
            _NumberedCanvas,
            footer_left=plain(f"Statement {statement_period_text(statement)}"),
            footer_center=plain(seller.name),
            created=first.created_at,
            modified=first.modified_at,
        ),
    )
    return buffer.getvalue()
