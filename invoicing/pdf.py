"""The invoice PDF: what a finance team sends to a customer.

`render_invoice_pdf(invoice)` reads everything once through `_collect` (a fixed number of
queries whatever the number of lines) into plain, immutable values; the layout that follows
is pure and builds the document in one pass with reportlab's platypus.

Text uses the built-in Helvetica fonts (WinAnsi encoding). A character those fonts cannot
show is replaced by a plain alternative (see `_plain`), never by a missing-glyph box.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db.models import Prefetch
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.money import currency_exponent, number_display
from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceStatus

__all__ = ["render_invoice_pdf"]

# Statuses in which an invoice carries its final number (see the invoice check constraints).
_NUMBERED = {InvoiceStatus.POSTED, InvoiceStatus.VOID_IN_PROGRESS, InvoiceStatus.VOIDED}
_MAX_INDENT_DEPTH = 3
_LETTER_COUNTRIES = {"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PR"}


# --------------------------------------------------------------------------------------------
# Collected values: everything the layout needs, read in a fixed number of queries.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    name: str
    description: str
    is_adjustment: bool
    depth: int
    has_children: bool
    period_start: dt.date | None
    period_end: dt.date | None
    quantity: Decimal
    unit_code: str
    unit_scale: int | None
    unit_price: Decimal
    amount: Decimal
    is_usage: bool
    consumed: Decimal | None
    included: Decimal | None
    overage: Decimal | None


@dataclass(frozen=True)
class _Tax:
    name: str
    rate: Decimal
    kind: str
    taxable_amount: Decimal
    amount: Decimal


@dataclass(frozen=True)
class _Document:
    number: str | None
    status: str
    currency: str
    invoice_date: dt.date
    due_date: dt.date | None
    payment_term: str
    description: str
    seller_name: str
    seller_address: tuple[str, ...]
    seller_country: str
    seller_tax_id: str
    seller_email: str
    account_name: str
    account_tax_id: str
    bill_to_name: str
    bill_to_email: str
    billing_address: tuple[str, ...]
    lines: tuple[_Line, ...]
    taxes: tuple[_Tax, ...]
    total_charges: Decimal
    total_adjustments: Decimal
    total_tax: Decimal
    total: Decimal
    balance: Decimal
    payment_method_label: str

    @property
    def is_numbered(self) -> bool:
        return self.status in _NUMBERED and bool(self.number)

    @property
    def watermark(self) -> str:
        if self.status == InvoiceStatus.VOIDED:
            return "VOID"
        return "" if self.is_numbered else "DRAFT"


def _collect(invoice: Invoice) -> _Document:
    """Read the invoice, its parties, lines (with units and taxes) and addresses: 4 queries."""
    lines_qs = InvoiceLine.objects.select_related("unit").order_by("sort_order", "id")
    inv = (
        Invoice.objects.select_related(
            "account",
            "bill_to",
            "payment_term",
            "saved_payment_method",
            "legal_entity__address",
            "account__legal_entity__address",
        )
        .prefetch_related(
            Prefetch("lines", queryset=lines_qs),
            "lines__taxes",
            Prefetch(
                "addresses",
                queryset=InvoiceAddress.objects.filter(kind=InvoiceAddress.Kind.BILLING),
                to_attr="billing_addresses",
            ),
        )
        .get(pk=invoice.pk)
    )

    # The invoice's own legal entity; an invoice without one is issued by the account's.
    seller = inv.legal_entity or inv.account.legal_entity
    seller_address = seller.address if seller and seller.address_id else None
    billing = inv.billing_addresses[0] if inv.billing_addresses else None

    all_lines = list(inv.lines.all())
    lines = tuple(
        _line_values(line, depth, has_children)
        for line, depth, has_children in _tree_order(all_lines)
    )
    taxes = tuple(
        _Tax(
            name=tax.name,
            rate=tax.rate,
            kind=tax.kind,
            taxable_amount=tax.taxable_amount,
            amount=tax.amount,
        )
        for line in all_lines
        for tax in line.taxes.all()
    )

    return _Document(
        number=inv.number,
        status=inv.status,
        currency=inv.currency,
        invoice_date=inv.invoice_date,
        due_date=inv.due_date,
        payment_term=inv.payment_term.name if inv.payment_term_id else "",
        description=inv.description or "",
        seller_name=seller.name if seller else "",
        seller_address=tuple(p for p in seller_address.lines() if p) if seller_address else (),
        seller_country=seller_address.country if seller_address else "",
        seller_tax_id=seller.tax_id if seller else "",
        seller_email=seller.email if seller else "",
        account_name=inv.account.name,
        account_tax_id=inv.account.tax_id or "",
        bill_to_name=inv.bill_to.name if inv.bill_to_id else "",
        bill_to_email=inv.bill_to.email if inv.bill_to_id else "",
        billing_address=_invoice_address_lines(billing) if billing else (),
        lines=lines,
        taxes=taxes,
        total_charges=inv.total_charges,
        total_adjustments=inv.total_adjustments,
        total_tax=inv.total_tax,
        total=inv.total,
        balance=inv.balance,
        # Only the display label, which is already masked ('Visa •••• 4242'); nothing else
        # of the payment method ever reaches the document.
        payment_method_label=(
            inv.saved_payment_method.label if inv.saved_payment_method_id else ""
        ),
    )


def _tree_order(lines: list[InvoiceLine]) -> list[tuple[InvoiceLine, int, bool]]:
    """Lines in display order: each bundle parent followed by its children, depth first.

    `lines` is already in (sort_order, id) order. A line whose parent is not on this invoice
    is shown at the top level; a cycle (which the data should never contain) cannot loop.
    """
    by_id = {line.id: line for line in lines}
    children: dict[int, list[InvoiceLine]] = defaultdict(list)
    roots = []
    for line in lines:
        parent_id = line.parent_line_id
        if parent_id and parent_id in by_id and parent_id != line.id:
            children[parent_id].append(line)
        else:
            roots.append(line)

    ordered: list[tuple[InvoiceLine, int, bool]] = []
    seen: set[int] = set()

    def walk(start: InvoiceLine) -> None:
        stack = [(start, 0)]
        while stack:
            line, depth = stack.pop()
            if line.id in seen:
                continue
            seen.add(line.id)
            kids = children.get(line.id, [])
            ordered.append((line, depth, bool(kids)))
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    for root in roots:
        walk(root)
    for line in lines:  # only lines caught in a parent cycle remain
        if line.id not in seen:
            walk(line)
    return ordered


def _line_values(line: InvoiceLine, depth: int, has_children: bool) -> _Line:
    unit = line.unit
    return _Line(
        name=line.name,
        description=line.description or "",
        is_adjustment=line.type == InvoiceLine.Type.ADJUSTMENT,
        depth=depth,
        has_children=has_children,
        period_start=line.period_start,
        period_end=line.period_end,
        quantity=line.quantity,
        unit_code=unit.code if unit else "",
        unit_scale=unit.scale if unit else None,
        unit_price=line.unit_price,
        amount=line.amount,
        is_usage=line.is_usage,
        consumed=line.consumed_quantity,
        included=line.included_quantity,
        overage=line.overage_quantity,
    )


def _invoice_address_lines(address: InvoiceAddress) -> tuple[str, ...]:
    city_line = " ".join(p for p in (address.postal_code, address.city) if p)
    region_line = " ".join(p for p in (address.region, address.country) if p)
    parts = (address.name, address.line1, address.line2, city_line, region_line)
    return tuple(p for p in parts if p)


# --------------------------------------------------------------------------------------------
# Formatting (pure).
# --------------------------------------------------------------------------------------------

_DOT = " \u00b7 "
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Plain stand-ins for characters the WinAnsi-encoded Helvetica cannot show.
_ALTERNATIVES = {
    "\u2212": "-",  # minus sign
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2015": "-",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2192": "->",
    "\u2190": "<-",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2248": "~",
    "\u2713": "v",
    "\u2714": "v",
    "\u2715": "x",
    "\u2717": "x",
    "\u25cf": "\u2022",
    "\u2219": "\u2022",
    "\u22c5": "\u00b7",
    "\u2032": "'",
    "\u2033": '"',
    "\u20bd": "RUB",
    "\u20b9": "INR",
    "\u20a9": "KRW",
    "\u20ba": "TRY",
    "\u20b1": "PHP",
    "\u20aa": "ILS",
    "\u20ab": "VND",
    "\u20b4": "UAH",
    "\u20a6": "NGN",
}


def _glyph_ok(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return ch in "\n\t" or unicodedata.category(ch) != "Cc"


def _plain(text: object) -> str:
    """The text with every character Helvetica (WinAnsi) cannot show replaced by a plain one."""
    s = "" if text is None else str(text)
    if s.isascii() and s.isprintable():
        return s
    out = []
    for ch in s:
        if _glyph_ok(ch):
            out.append(ch)
            continue
        alt = _ALTERNATIVES.get(ch)
        if alt is None:
            decomposed = unicodedata.normalize("NFKD", ch)
            alt = "".join(c for c in decomposed if _glyph_ok(c) and not unicodedata.combining(c))
            if not alt:
                alt = " " if unicodedata.category(ch)[0] in "ZC" else "?"
        out.append(alt)
    return "".join(out)


def _esc(text: object) -> str:
    """Safe for a Paragraph: plain glyphs, markup characters escaped."""
    return html.escape(_plain(text), quote=False)


def _date(d: dt.date | None) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}" if d else ""


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if start and end and start != end:
        return f"{_date(start)} \u2013 {_date(end)}"
    return _date(start or end)


def _exponent(currency: str) -> int:
    try:
        return currency_exponent(currency)
    except Exception:  # noqa: BLE001 - an unknown code still renders, with 2 places
        return 2


def _places_needed(value: Decimal) -> int:
    exponent = Decimal(value).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _money(value: Decimal, exp: int) -> str:
    return number_display(value, exp)


def _unit_price(value: Decimal, exp: int) -> str:
    """At least the currency's places; more when the price has them (0.0125 per GB)."""
    return number_display(value, min(6, max(exp, _places_needed(value))))


def _quantity(value: Decimal | None, scale: int | None) -> str:
    if value is None:
        return ""
    places = scale if scale is not None else min(6, _places_needed(value))
    return number_display(value, places)


def _rate(tax: _Tax) -> str:
    if tax.kind == "flat":
        return "Flat"
    return f"{number_display(tax.rate, _places_needed(tax.rate))}%"


# --------------------------------------------------------------------------------------------
# Layout (pure): styles, blocks, page decoration.
# --------------------------------------------------------------------------------------------

INK = colors.HexColor("#111827")
MUTED = colors.HexColor("#6b7280")
RULE = colors.HexColor("#d1d5db")
HAIRLINE = colors.HexColor("#e5e7eb")
HEADER_BG = colors.HexColor("#f3f4f6")
ACCENT = colors.HexColor("#1f3a5f")
_DRAFT_HEX = "#b45309"
WATERMARK = colors.HexColor("#eef0f3")

FONT = "Helvetica"
BOLD = "Helvetica-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, textColor=INK)
    s = {
        "base": base,
        "seller": ParagraphStyle("seller", parent=base, fontName=BOLD, fontSize=13, leading=16),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=11.5),
        "muted": ParagraphStyle("muted", parent=base, fontSize=8, leading=10.5, textColor=MUTED),
        "label": ParagraphStyle(
            "label", parent=base, fontName=BOLD, fontSize=7.5, leading=10, textColor=MUTED
        ),
        "title": ParagraphStyle(
            "title",
            parent=base,
            fontName=BOLD,
            fontSize=24,
            leading=28,
            textColor=ACCENT,
            alignment=TA_RIGHT,
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base, fontSize=11, leading=14, alignment=TA_RIGHT
        ),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "due_label": ParagraphStyle(
            "due_label", parent=base, fontName=BOLD, fontSize=8, leading=10, textColor=MUTED
        ),
        "due_amount": ParagraphStyle(
            "due_amount", parent=base, fontName=BOLD, fontSize=17, leading=21, textColor=ACCENT
        ),
        "section": ParagraphStyle(
            "section", parent=base, fontName=BOLD, fontSize=9, leading=12, spaceAfter=2
        ),
    }
    for depth in range(_MAX_INDENT_DEPTH + 1):
        s[f"line{depth}"] = ParagraphStyle(
            f"line{depth}",
            parent=base,
            fontSize=8.5,
            leading=10.5,
            leftIndent=depth * 12,
            alignment=TA_LEFT,
        )
    return s


def _page_size(doc: _Document) -> tuple[float, float]:
    return LETTER if doc.seller_country.upper() in _LETTER_COUNTRIES else A4


def _header(doc: _Document, st: dict, width: float) -> list:
    left = [Paragraph(_esc(doc.seller_name), st["seller"])] if doc.seller_name else []
    for line in doc.seller_address:
        left.append(Paragraph(_esc(line), st["small"]))
    if doc.seller_email:
        left.append(Paragraph(_esc(doc.seller_email), st["small"]))
    if doc.seller_tax_id:
        left.append(Paragraph(f"Tax ID: {_esc(doc.seller_tax_id)}", st["small"]))

    title = "INVOICE"
    right = [Paragraph(title, st["title"])]
    if not doc.is_numbered:
        right.append(
            Paragraph(
                f'<font color="{_DRAFT_HEX}"><b>DRAFT</b></font> \u00b7 not yet issued',
                st["subtitle"],
            )
        )
    if doc.status == InvoiceStatus.VOIDED:
        right.append(Paragraph("<b>VOID</b>", st["subtitle"]))

    meta = []
    if doc.is_numbered:
        meta.append(("Invoice number", doc.number))
    meta.append(("Invoice date", _date(doc.invoice_date)))
    if doc.due_date:
        meta.append(("Due date", _date(doc.due_date)))
    if doc.payment_term:
        meta.append(("Payment terms", doc.payment_term))
    meta_rows = [
        [Paragraph(_esc(k), st["muted"]), Paragraph(_esc(v), st["right"])] for k, v in meta
    ]
    meta_table = Table(meta_rows, colWidths=[30 * mm, 45 * mm], hAlign="RIGHT")
    meta_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    right += [Spacer(1, 8), meta_table]
    return [_two_columns(left, right, width * 0.55, width * 0.45)]


def _two_columns(left, right, left_width: float, right_width: float) -> Table:
    """A borderless row: `left` flush left, `right` flush right (nested tables included)."""
    table = Table([[left, right]], colWidths=[left_width, right_width])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _parties(doc: _Document, st: dict, width: float, exp: int) -> list:
    bill = [Paragraph("BILL TO", st["label"]), Spacer(1, 2)]
    bill.append(Paragraph(f"<b>{_esc(doc.account_name)}</b>", st["base"]))
    if doc.bill_to_name:
        bill.append(Paragraph(_esc(doc.bill_to_name), st["small"]))
    if doc.bill_to_email:
        bill.append(Paragraph(_esc(doc.bill_to_email), st["small"]))
    address = list(doc.billing_address)
    if address and address[0] in (doc.account_name, doc.bill_to_name):
        address = address[1:]  # the snapshot's name repeats the account or contact
    for line in address:
        bill.append(Paragraph(_esc(line), st["small"]))
    if doc.account_tax_id:
        bill.append(Paragraph(f"Tax ID: {_esc(doc.account_tax_id)}", st["small"]))

    due = [
        Paragraph("BALANCE DUE", st["due_label"]),
        Paragraph(f"{_esc(doc.currency)} {_money(doc.balance, exp)}", st["due_amount"]),
    ]
    if doc.balance == 0 and doc.total != 0 and doc.is_numbered:
        due.append(Paragraph("Paid in full", st["muted"]))
    elif doc.due_date:
        due.append(Paragraph(f"Due {_date(doc.due_date)}", st["muted"]))
    due_box = Table([[due]], colWidths=[70 * mm], hAlign="RIGHT")
    due_box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), HEADER_BG),
                ("LINEBEFORE", (0, 0), (0, -1), 2.5, ACCENT),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return [_two_columns(bill, due_box, width * 0.55, width * 0.45)]


def _description_cell(line: _Line, st: dict) -> Paragraph:
    depth = min(line.depth, _MAX_INDENT_DEPTH)
    name = _esc(line.name)
    if line.has_children:
        name = f"<b>{name}</b>"
    parts = [name]
    details = []
    if line.is_adjustment:
        details.append("Adjustment")
    if line.description and line.description != line.name:
        details.append(_esc(line.description))
    period = _period(line.period_start, line.period_end)
    if period:
        details.append(period)
    if details:
        parts.append(f'<font size="7" color="#6b7280">{_DOT.join(details)}</font>')
    if line.is_usage:
        usage = []
        if line.consumed is not None:
            consumed = _quantity(line.consumed, line.unit_scale)
            unit = f" {_esc(line.unit_code)}" if line.unit_code else ""
            usage.append(f"Consumed {consumed}{unit}")
        if line.included is not None:
            usage.append(f"Included {_quantity(line.included, line.unit_scale)}")
        if line.overage is not None:
            usage.append(f"Overage {_quantity(line.overage, line.unit_scale)}")
        if usage:
            parts.append(f'<font size="7" color="#6b7280">{_DOT.join(usage)}</font>')
    return Paragraph("<br/>".join(parts), st[f"line{depth}"])


_LINE_HEADERS = ("Description", "Quantity", "Unit price", "Amount")


def _lines_table(doc: _Document, st: dict, width: float, exp: int) -> list:
    qty_w, price_w, amount_w = 34 * mm, 28 * mm, 30 * mm
    col_widths = [width - qty_w - price_w - amount_w, qty_w, price_w, amount_w]
    data: list[list] = [[*_LINE_HEADERS[:3], f"Amount ({_plain(doc.currency)})"]]
    for line in doc.lines:
        show_qty = not line.is_adjustment or line.unit_price != 0
        qty = ""
        if show_qty:
            qty = _quantity(line.quantity, line.unit_scale)
            if line.unit_code:
                qty = f"{qty} {_plain(line.unit_code)}"
        data.append(
            [
                _description_cell(line, st),
                qty,
                _unit_price(line.unit_price, exp) if show_qty else "",
                _money(line.amount, exp),
            ]
        )
    if not doc.lines:
        data.append([Paragraph("No lines", st["muted"]), "", "", ""])

    table = LongTable(data, colWidths=col_widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), BOLD, 8),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, RULE),
                ("FONT", (1, 1), (-1, -1), FONT, 8.5),
                ("TEXTCOLOR", (1, 1), (-1, -1), INK),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, HAIRLINE),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return [table]


def _tax_summary(taxes: tuple[_Tax, ...]) -> list[tuple[str, str, Decimal, Decimal]]:
    """One row per distinct (name, rate): rate text, summed taxable amount and tax."""
    grouped: dict[tuple[str, Decimal], list] = {}
    for tax in taxes:
        key = (tax.name, tax.rate.normalize())
        row = grouped.get(key)
        if row is None:
            grouped[key] = [tax.name, _rate(tax), tax.taxable_amount, tax.amount]
        else:
            row[2] += tax.taxable_amount
            row[3] += tax.amount
    return [tuple(row) for row in grouped.values()]


def _summary(doc: _Document, st: dict, width: float, exp: int) -> list:
    cur = _plain(doc.currency)
    right_w = 74 * mm
    left_w = width - right_w - 8 * mm

    # Tax summary (left).
    left: list = []
    tax_rows = _tax_summary(doc.taxes)
    if tax_rows:
        data = [["Tax", "Rate", "Taxable", "Tax amount"]]
        for name, rate, taxable, amount in tax_rows:
            data.append(
                [
                    Paragraph(_esc(name), st["small"]),
                    rate,
                    _money(taxable, exp),
                    _money(amount, exp),
                ]
            )
        num_w = 22 * mm
        tax_table = Table(
            data,
            colWidths=[left_w - 14 * mm - 2 * num_w, 14 * mm, num_w, num_w],
            hAlign="LEFT",
        )
        tax_table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
                    ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                    ("FONT", (1, 1), (-1, -1), FONT, 8.5),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.75, RULE),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, HAIRLINE),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (0, -1), 0),
                    ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        left = [Paragraph("Tax summary", st["section"]), tax_table]

    # Totals (right).
    rows: list[tuple[str, str, str]] = [("Subtotal", _money(doc.total_charges, exp), "")]
    if doc.total_adjustments != 0:
        rows.append(("Adjustments", _money(doc.total_adjustments, exp), ""))
    rows.append(("Tax", _money(doc.total_tax, exp), ""))
    rows.append(("Total", f"{cur} {_money(doc.total, exp)}", "total"))
    paid = doc.total - doc.balance
    if paid != 0:
        rows.append(("Amount paid", _money(paid, exp), ""))
    rows.append(("Balance due", f"{cur} {_money(doc.balance, exp)}", "due"))

    data = [[label, value] for label, value, _ in rows]
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    for i, (_, _, kind) in enumerate(rows):
        if kind == "total":
            style += [
                ("LINEABOVE", (0, i), (-1, i), 0.75, RULE),
                ("FONT", (0, i), (-1, i), BOLD, 9.5),
                ("TEXTCOLOR", (0, i), (0, i), INK),
            ]
        elif kind == "due":
            style += [
                ("BACKGROUND", (0, i), (-1, i), HEADER_BG),
                ("LINEABOVE", (0, i), (-1, i), 1.25, ACCENT),
                ("FONT", (0, i), (-1, i), BOLD, 11),
                ("TEXTCOLOR", (0, i), (-1, i), ACCENT),
                ("TOPPADDING", (0, i), (-1, i), 6),
                ("BOTTOMPADDING", (0, i), (-1, i), 6),
            ]
    totals = Table(data, colWidths=[right_w * 0.45, right_w * 0.55], hAlign="RIGHT")
    totals.setStyle(TableStyle(style))

    return [_two_columns(left, totals, width - right_w, right_w)]


def _payment(doc: _Document, st: dict, width: float) -> list:
    rows = []
    if doc.payment_method_label:
        rows.append(f"Payment method: {_esc(doc.payment_method_label)}")
    if doc.payment_term and doc.due_date:
        rows.append(f"Payment terms: {_esc(doc.payment_term)}, due {_date(doc.due_date)}")
    elif doc.payment_term:
        rows.append(f"Payment terms: {_esc(doc.payment_term)}")
    elif doc.due_date:
        rows.append(f"Due date: {_date(doc.due_date)}")
    reference = doc.number if doc.is_numbered else ""
    if reference and doc.balance > 0 and not doc.payment_method_label:
        rows.append(f"Please quote {_esc(reference)} with your payment.")
    if not rows and not doc.description:
        return []
    block: list = [Paragraph("Payment", st["section"])]
    block += [Paragraph(r, st["small"]) for r in rows]
    if doc.description:
        block += [Spacer(1, 6), Paragraph("Notes", st["section"])]
        block += [Paragraph(_esc(p), st["small"]) for p in doc.description.splitlines() if p]
    table = Table([[block]], colWidths=[width])
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [table]


class _NumberedCanvas(rl_canvas.Canvas):
    """Two passes: pages are kept until the end, then each gets "Page X of Y" and the footer."""

    def __init__(self, *args, footer_left: str = "", footer_center: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self._footer_left = footer_left
        self._footer_center = footer_center
        self._page_states: list[dict] = []

    def showPage(self):  # noqa: N802 - reportlab API
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        width, _ = self._pagesize
        margin = 18 * mm
        y = 12 * mm
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(margin, y + 10, width - margin, y + 10)
        self.setFont(FONT, 7.5)
        self.setFillColor(MUTED)
        self.drawString(margin, y, self._footer_left)
        if self._footer_center:
            self.drawCentredString(width / 2, y, self._footer_center)
        self.drawRightString(width - margin, y, f"Page {self._pageNumber} of {total}")
        self.restoreState()


def _watermark(text: str):
    def draw(canv, _doc) -> None:
        width, height = canv._pagesize
        canv.saveState()
        canv.setFillColor(WATERMARK)
        canv.setFont(BOLD, 110)
        canv.translate(width / 2, height / 2)
        canv.rotate(35)
        canv.drawCentredString(0, -35, text)
        canv.restoreState()

    return draw


def _build(doc: _Document) -> bytes:
    st = _styles()
    exp = _exponent(doc.currency)
    buffer = io.BytesIO()
    margin = 18 * mm
    label = f"Invoice {doc.number}" if doc.is_numbered else "Draft invoice"
    template = SimpleDocTemplate(
        buffer,
        pagesize=_page_size(doc),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=16 * mm,
        bottomMargin=22 * mm,
        title=_plain(label),
        author=_plain(doc.seller_name),
        subject=_plain(f"{label} for {doc.account_name}"),
        creator="Ledgerline",
        invariant=1,
    )
    width = template.width
    story: list = []
    story += _header(doc, st, width)
    story.append(Spacer(1, 9 * mm))
    story += _parties(doc, st, width, exp)
    story.append(Spacer(1, 8 * mm))
    story += _lines_table(doc, st, width, exp)
    story.append(Spacer(1, 6 * mm))
    story += _summary(doc, st, width, exp)
    payment = _payment(doc, st, width)
    if payment:
        story.append(Spacer(1, 8 * mm))
        story += payment

    on_page = _watermark(doc.watermark) if doc.watermark else (lambda canv, _doc: None)
    template.build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=partial(
            _NumberedCanvas,
            footer_left=_plain(label),
            footer_center=_plain(doc.seller_name),
        ),
    )
    return buffer.getvalue()


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF document (bytes). Reads the database in a fixed number of queries."""
    return _build(_collect(invoice))
