"""The one layout of every customer document (pure): a `Document` in, PDF bytes out, built in
one pass with reportlab's platypus.

Page: the seller and the document's title and facts; the buyer and the highlighted amount;
the lines (bundle children indented, the header repeated on every page); the tax summary and
the totals; the sections (payment, void, billing, reason, notes); a footer with the document's
label, the seller and "Page X of Y" on every page. Letter paper for a seller in the Americas
(and the Philippines), A4 elsewhere.

The PDF's information dictionary carries the document's title, author (the seller), subject
and its real creation and modification times (`Document.created_at` / `modified_at`, in UTC),
never reportlab's fixed "invariant" date; the rest of the file stays deterministic (invariant
mode), so the same document rendered twice gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from functools import partial

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfdoc import PDFDictionary, PDFInfo, PDFName, PDFString
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from invoicing.pdf.document import Document, Line, Party, Tax
from invoicing.pdf.text import (
    DOT,
    esc,
    exponent,
    money,
    period_text,
    plain,
    quantity,
    rate,
    unit_price,
)

_MAX_INDENT_DEPTH = 3
_LETTER_COUNTRIES = {"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PR"}

INK = colors.HexColor("#111827")
MUTED = colors.HexColor("#6b7280")
RULE = colors.HexColor("#d1d5db")
HAIRLINE = colors.HexColor("#e5e7eb")
HEADER_BG = colors.HexColor("#f3f4f6")
ACCENT = colors.HexColor("#1f3a5f")
_DRAFT_HEX = "#b45309"
_VOID_HEX = "#b91c1c"
WATERMARK = colors.HexColor("#eef0f3")

FONT = "Helvetica"
BOLD = "Helvetica-Bold"
_NO_PADDING = [
    ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ("TOPPADDING", (0, 0), (-1, -1), 0),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
]


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
        # The labels of the totals rows (plain, total, due), wrapped when long.
        "row_plain": ParagraphStyle("row_plain", parent=base, textColor=MUTED),
        "row_total": ParagraphStyle(
            "row_total", parent=base, fontName=BOLD, fontSize=9.5, leading=12
        ),
        "row_due": ParagraphStyle(
            "row_due", parent=base, fontName=BOLD, fontSize=11, leading=13, textColor=ACCENT
        ),
    }
    s["amount_plain"] = ParagraphStyle("amount_plain", parent=base, alignment=TA_RIGHT)
    for kind in ("total", "due"):
        s[f"amount_{kind}"] = ParagraphStyle(
            f"amount_{kind}", parent=s[f"row_{kind}"], alignment=TA_RIGHT
        )
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


def _page_size(doc: Document) -> tuple[float, float]:
    return LETTER if doc.seller.country.upper() in _LETTER_COUNTRIES else A4


def _two_columns(left, right, left_width: float, right_width: float) -> Table:
    """A borderless row: `left` flush left, `right` flush right (nested tables included)."""
    table = Table([[left, right]], colWidths=[left_width, right_width])
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (1, 0), (1, 0), "RIGHT")])
    )
    table.setStyle(TableStyle(_NO_PADDING))
    return table


def _mark(mark: str) -> str:
    if mark == "DRAFT":
        return f'<font color="{_DRAFT_HEX}"><b>DRAFT</b></font> \u00b7 not yet issued'
    return f'<font color="{_VOID_HEX}"><b>{esc(mark)}</b></font>'


def _header(doc: Document, st: dict, width: float) -> list:
    seller = doc.seller
    left = [Paragraph(esc(seller.name), st["seller"])] if seller.name else []
    for line in seller.address:
        left.append(Paragraph(esc(line), st["small"]))
    if seller.email:
        left.append(Paragraph(esc(seller.email), st["small"]))
    left += _tax_ids(seller, st)
    if seller.registration_id:
        left.append(Paragraph(f"Registration: {esc(seller.registration_id)}", st["small"]))

    right = [Paragraph(esc(doc.title), st["title"])]
    right += [Paragraph(_mark(mark), st["subtitle"]) for mark in doc.marks]
    meta_rows = [
        [Paragraph(esc(k), st["muted"]), Paragraph(esc(v), st["right"])] for k, v in doc.facts
    ]
    meta_table = Table(meta_rows, colWidths=[32 * mm, 48 * mm], hAlign="RIGHT")
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
    return [_two_columns(left, right, width * 0.5, width * 0.5)]


def _tax_ids(party: Party, st: dict) -> list:
    """A party's VAT ID, then its other tax id (unless it repeats the VAT id)."""
    rows = []
    if party.vat_id:
        rows.append(Paragraph(f"VAT ID: {esc(party.vat_id)}", st["small"]))
    if party.tax_id and party.tax_id != party.vat_id:
        rows.append(Paragraph(f"Tax ID: {esc(party.tax_id)}", st["small"]))
    return rows


def _parties(doc: Document, st: dict, width: float, exp: int) -> list:
    buyer = doc.buyer
    block = [Paragraph(esc(doc.buyer_label), st["label"]), Spacer(1, 2)]
    block.append(Paragraph(f"<b>{esc(buyer.name)}</b>", st["base"]))
    if buyer.contact:
        block.append(Paragraph(esc(buyer.contact), st["small"]))
    if buyer.email:
        block.append(Paragraph(esc(buyer.email), st["small"]))
    for line in buyer.address:
        block.append(Paragraph(esc(line), st["small"]))
    block += _tax_ids(buyer, st)

    box = [
        Paragraph(esc(doc.highlight.label), st["due_label"]),
        Paragraph(f"{esc(doc.currency)} {money(doc.highlight.amount, exp)}", st["due_amount"]),
    ]
    box += [Paragraph(esc(note), st["muted"]) for note in doc.highlight.notes]
    due_box = Table([[box]], colWidths=[72 * mm], hAlign="RIGHT")
    due_box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), HEADER_BG),
                ("LINEBEFORE", (0, 0), (0, -1), 2.5, ACCENT),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return [_two_columns(block, due_box, width * 0.55, width * 0.45)]


def _description_cell(line: Line, st: dict) -> Paragraph:
    depth = min(line.depth, _MAX_INDENT_DEPTH)
    name = esc(line.name)
    if line.has_children:
        name = f"<b>{name}</b>"
    parts = [name]
    details = []
    if line.is_adjustment:
        details.append("Adjustment")
    if line.description and line.description != line.name:
        details.append(esc(line.description))
    period = period_text(line.period_start, line.period_end)
    if period:
        details.append(period)
    if details:
        parts.append(f'<font size="7" color="#6b7280">{DOT.join(details)}</font>')
    if line.is_usage:
        usage = []
        if line.consumed is not None:
            consumed = quantity(line.consumed, line.unit_scale)
            unit = f" {esc(line.unit_code)}" if line.unit_code else ""
            usage.append(f"Consumed {consumed}{unit}")
        if line.included is not None:
            usage.append(f"Included {quantity(line.included, line.unit_scale)}")
        if line.overage is not None:
            usage.append(f"Overage {quantity(line.overage, line.unit_scale)}")
        if usage:
            parts.append(f'<font size="7" color="#6b7280">{DOT.join(usage)}</font>')
    return Paragraph("<br/>".join(parts), st[f"line{depth}"])


_LINE_HEADERS = ("Description", "Quantity", "Unit price", "Amount")


def _lines_table(doc: Document, st: dict, width: float, exp: int) -> list:
    qty_w, price_w, amount_w = 34 * mm, 28 * mm, 30 * mm
    col_widths = [width - qty_w - price_w - amount_w, qty_w, price_w, amount_w]
    data: list[list] = [[*_LINE_HEADERS[:3], f"Amount ({plain(doc.currency)})"]]
    for line in doc.lines:
        show_qty = not line.is_adjustment or line.unit_price != 0
        qty = ""
        if show_qty:
            qty = quantity(line.quantity, line.unit_scale)
            if line.unit_code:
                qty = f"{qty} {plain(line.unit_code)}"
        data.append(
            [
                _description_cell(line, st),
                qty,
                unit_price(line.unit_price, exp) if show_qty else "",
                money(line.amount, exp),
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


# Categories that need no column of their own: standard-rated VAT, and taxes of no known
# category (sales taxes, rows written before categories existed).
_PLAIN_CATEGORIES = {"", "S"}


def tax_summary(taxes: tuple[Tax, ...]) -> list[tuple[str, str, str, Decimal, Decimal]]:
    """The VAT breakdown: one row per (VAT category, rate, kind), as EN 16931 groups it
    (BR-CO-17, BR-S-08: the documents and their e-invoices agree), naming the taxes it sums:
    (names, category, rate text, summed taxable amount, summed tax)."""
    grouped: dict[tuple[str, Decimal | None, str], list] = {}
    for tax in taxes:
        key = (tax.category, tax.rate.normalize() if tax.rate is not None else None, tax.kind)
        row = grouped.get(key)
        if row is None:
            row = grouped[key] = [[tax.name], tax.category, rate(tax.rate, tax.kind), 0, 0]
        elif tax.name not in row[0]:
            row[0].append(tax.name)
        row[3] += tax.taxable_amount
        row[4] += tax.amount
    return [
        (" / ".join(row[0]), row[1], row[2], Decimal(row[3]), Decimal(row[4]))
        for row in grouped.values()
    ]


def _summary(doc: Document, st: dict, width: float, exp: int) -> list:
    cur = plain(doc.currency)
    right_w = 78 * mm
    left_w = width - right_w - 8 * mm

    # Tax summary (left).
    left: list = []
    tax_rows = tax_summary(doc.taxes)
    if tax_rows:
        # The category code after the name, when a category other than standard-rated VAT
        # is shown (a zero-rated, exempt or reverse-charged supply).
        with_category = any(row[1] not in _PLAIN_CATEGORIES for row in tax_rows)
        data = [["Tax", "Rate", "Taxable", "Tax amount"]]
        for name, category, rate_text, taxable, amount in tax_rows:
            label = esc(name)
            if with_category and category:
                label += f' <font color="#6b7280">({esc(category)})</font>'
            name_cell = Paragraph(label, st["small"])
            data.append([name_cell, rate_text, money(taxable, exp), money(amount, exp)])
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
    if doc.tax_note:
        left += [Spacer(1, 4), Paragraph(esc(doc.tax_note), st["muted"])]

    # Totals (right): label and amount are paragraphs of one style, so they share a baseline.
    data: list[list] = []
    style = [
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    for i, row in enumerate(doc.totals):
        kind = row.style or "plain"
        amount = f"{cur} {money(row.amount, exp)}" if row.currency else money(row.amount, exp)
        data.append(
            [Paragraph(esc(row.label), st[f"row_{kind}"]), Paragraph(amount, st[f"amount_{kind}"])]
        )
        if row.style == "total":
            style.append(("LINEABOVE", (0, i), (-1, i), 0.75, RULE))
        elif row.style == "due":
            style += [
                ("BACKGROUND", (0, i), (-1, i), HEADER_BG),
                ("LINEABOVE", (0, i), (-1, i), 1.25, ACCENT),
                ("TOPPADDING", (0, i), (-1, i), 6),
                ("BOTTOMPADDING", (0, i), (-1, i), 6),
            ]
    totals = Table(data, colWidths=[right_w * 0.52, right_w * 0.48], hAlign="RIGHT")
    totals.setStyle(TableStyle(style))

    return [_two_columns(left, totals, width - right_w, right_w)]


def _sections(doc: Document, st: dict, width: float) -> list:
    block: list = []
    for section in doc.sections:
        if block:
            block.append(Spacer(1, 6))
        block.append(Paragraph(esc(section.title), st["section"]))
        block += [Paragraph(esc(row), st["small"]) for row in section.rows]
    if not block:
        return []
    table = Table([[block]], colWidths=[width])
    table.setStyle(TableStyle(_NO_PADDING))
    return [Spacer(1, 8 * mm), table]


def _pdf_date(moment: dt.datetime) -> str:
    """A PDF date string (PDF 32000-1 §7.9.4) of an aware datetime, in UTC."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("D:%Y%m%d%H%M%S+00'00'")


class _Info(PDFInfo):
    """The information dictionary with the document's own creation and modification times
    (reportlab writes one time stamp for both, fixed in invariant mode)."""

    def __init__(self, created: dt.datetime, modified: dt.datetime):
        super().__init__()
        self._created = created
        self._modified = modified

    def format(self, document):
        info = PDFDictionary(
            {
                "Title": PDFString(self.title),
                "Author": PDFString(self.author),
                "Subject": PDFString(self.subject),
                "Keywords": PDFString(self.keywords),
                "Creator": PDFString(self.creator),
                "Producer": PDFString(self.producer),
                "CreationDate": PDFString(_pdf_date(self._created)),
                "ModDate": PDFString(_pdf_date(self._modified)),
                "Trapped": PDFName(self.trapped),
            }
        )
        return info.format(document)


class _NumberedCanvas(rl_canvas.Canvas):
    """Two passes: pages are kept until the end, then each gets "Page X of Y" and the footer."""

    def __init__(
        self,
        *args,
        footer_left: str = "",
        footer_center: str = "",
        created: dt.datetime,
        modified: dt.datetime,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._doc.info = _Info(created, modified)
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
        canv.setFont(BOLD, 110 if len(text) <= 5 else 80)
        canv.translate(width / 2, height / 2)
        canv.rotate(35)
        canv.drawCentredString(0, -35, text)
        canv.restoreState()

    return draw


def _no_decoration(canv, _doc) -> None:
    return None


def render(doc: Document) -> bytes:
    """The document as PDF bytes."""
    st = _styles()
    exp = exponent(doc.currency)
    buffer = io.BytesIO()
    margin = 18 * mm
    template = SimpleDocTemplate(
        buffer,
        pagesize=_page_size(doc),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=16 * mm,
        bottomMargin=22 * mm,
        title=plain(doc.label),
        author=plain(doc.seller.name),
        subject=plain(f"{doc.label} for {doc.buyer.name}"),
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
    story += _sections(doc, st, width)

    on_page = _watermark(doc.watermark) if doc.watermark else _no_decoration
    template.build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=partial(
            _NumberedCanvas,
            footer_left=plain(doc.label),
            footer_center=plain(doc.seller.name),
            created=doc.created_at,
            modified=doc.modified_at,
        ),
    )
    return buffer.getvalue()
