"""Text of the documents (pure): characters Helvetica can show, dates, amounts, quantities.

Text uses the built-in Helvetica fonts (WinAnsi encoding). A character those fonts cannot
show is replaced by a plain alternative (see `plain`), never by a missing-glyph box.
"""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from decimal import Decimal

from core.money import currency_exponent, number_display

DOT = " \u00b7 "
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


def plain(text: object) -> str:
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


def esc(text: object) -> str:
    """Safe for a Paragraph: plain glyphs, markup characters escaped."""
    return html.escape(plain(text), quote=False)


def date_text(d: dt.date | None) -> str:
    """'3 Mar 2026': the same in every country, never ambiguous."""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}" if d else ""


def period_text(start: dt.date | None, end: dt.date | None) -> str:
    if start and end and start != end:
        return f"{date_text(start)} \u2013 {date_text(end)}"
    return date_text(start or end)


def exponent(currency: str) -> int:
    try:
        return currency_exponent(currency)
    except Exception:  # noqa: BLE001 - an unknown code still renders, with 2 places
        return 2


def _places_needed(value: Decimal) -> int:
    exp = Decimal(value).normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def money(value: Decimal, exp: int) -> str:
    return number_display(value, exp)


def unit_price(value: Decimal, exp: int) -> str:
    """At least the currency's places; more when the price has them (0.0125 per GB)."""
    return number_display(value, min(6, max(exp, _places_needed(value))))


def quantity(value: Decimal | None, scale: int | None) -> str:
    if value is None:
        return ""
    places = scale if scale is not None else min(6, _places_needed(value))
    return number_display(value, places)


def rate(value: Decimal | None, kind: str) -> str:
    """'20%', 'Flat', or '' when the rate is not known (a tax typed in as an amount)."""
    if kind == "flat":
        return "Flat"
    if value is None:
        return ""
    return f"{number_display(value, _places_needed(value))}%"
