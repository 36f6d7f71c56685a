"""VAT: identifiers, EU membership and the EN 16931 VAT categories (UNCL 5305 subset).

VAT identifiers are checked with python-stdnum (format and check digits, per country, no
network call). The categories and their exemption reasons (the CEF VATEX code list) are the
ones an EN 16931 e-invoice carries on every line and in its VAT breakdown; the tax engine
(invoicing.tax) chooses them and the e-invoice exports (einvoicing) write them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

# EU member states by ISO 3166 code (Greece's VAT prefix is EL; XI is Northern Ireland for
# goods, which the EU VAT rules treat as a member state).
EU_COUNTRIES = frozenset(
    "GR" if code == "el" else code.upper() for code in eu_vat.MEMBER_STATES
) | {"GR"}


def is_eu(country: str) -> bool:
    return (country or "").upper() in EU_COUNTRIES


class VatCategory(models.TextChoices):
    """EN 16931 VAT category codes (BT-118, BT-151, BT-102)."""

    STANDARD = "S", "S: standard rate"
    ZERO = "Z", "Z: zero rated goods"
    EXEMPT = "E", "E: exempt from VAT"
    REVERSE_CHARGE = "AE", "AE: VAT reverse charge"
    INTRA_COMMUNITY = "K", "K: intra-community supply (VAT exempt for EEA intra-community supply)"
    EXPORT = "G", "G: free export item, VAT not charged"
    NOT_SUBJECT = "O", "O: services outside scope of tax"
    CANARY = "L", "L: Canary Islands general indirect tax (IGIC)"
    CEUTA_MELILLA = "M", "M: tax for production, services and importation in Ceuta and Melilla"


# Categories whose rate is 0 and that need an exemption reason (code or text) on the
# document (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10, BR-O-10).
ZERO_RATE_CATEGORIES = frozenset({"Z", "E", "AE", "K", "G", "O"})
REASON_CATEGORIES = frozenset({"E", "AE", "K", "G", "O"})


@dataclass(frozen=True)
class VatTreatment:
    """A category with the exemption reason (VATEX code and text) the document states."""

    category: str
    reason_code: str = ""
    reason: str = ""
    label: str = ""  # the tax row's short name


REVERSE_CHARGE = VatTreatment(
    "AE",
    "VATEX-EU-AE",
    "Reverse charge: VAT to be accounted for by the customer",
    "Reverse charge",
)
INTRA_COMMUNITY_SUPPLY = VatTreatment(
    "K",
    "VATEX-EU-IC",
    "Intra-Community supply exempt from VAT (Art. 138 Directive 2006/112/EC)",
    "Intra-Community supply",
)
EXPORT = VatTreatment("G", "VATEX-EU-G", "Export outside the EU exempt from VAT", "Export")
NOT_SUBJECT = VatTreatment(
    "O", "VATEX-EU-O", "Services outside the scope of EU VAT", "Outside the scope of VAT"
)
EXEMPT = VatTreatment("E", "", "Exempt from VAT", "Exempt")


def vat_prefix(country: str) -> str:
    """The prefix a country's VAT ids carry (Greece: EL)."""
    country = (country or "").upper()
    return "EL" if country == "GR" else country


def vat_id_normalize(value: str, *, country: str = "", field: str = "tax_id") -> str:
    """`value` as a compact VAT id with its country prefix, or a ValidationError naming
    `field` that says what is wrong and how to fix it.

    An id with an EU prefix is checked against that member state's format and check
    digits; an id without a prefix takes `country`'s. Countries python-stdnum knows outside
    the EU (GB, CH, NO, ...) are checked the same way; others are kept as written.
    """
    raw = "".join((value or "").split()).upper().replace("-", "").replace(".", "")
    if not raw:
        return ""
    if raw.startswith("GR"):
        raw = "EL" + raw[2:]  # Greece's VAT ids carry EL
    prefix = raw[:2]
    if not prefix.isalpha():
        if not country:
            raise ValidationError(
                {field: f"“{value}” has no country prefix: write it as e.g. DE123456789."}
            )
        raw = vat_prefix(country) + raw
        prefix = raw[:2]
    if prefix.lower() in eu_vat.MEMBER_STATES or prefix == "EL":
        try:
            return str(eu_vat.validate(raw))
        except StdnumError as exc:
            raise ValidationError(
                {field: f"“{value}” is not a valid {prefix} VAT id ({exc}). Check the digits."}
            ) from exc
    module = get_cc_module(prefix.lower(), "vat")
    if module is not None:
        try:
            number = str(module.compact(raw))
            module.validate(number)
        except StdnumError as exc:
            raise ValidationError(
                {field: f"“{value}” is not a valid {prefix} VAT id ({exc}). Check the digits."}
            ) from exc
        return raw
    return raw


def vat_id_valid(value: str) -> bool:
    """Whether `value` (a stored, normalised id) is a valid VAT id with an EU prefix."""
    if not value:
        return False
    try:
        vat_id_normalize(value)
    except ValidationError:
        return False
    return value[:2].lower() in eu_vat.MEMBER_STATES or value[:2] == "EL"


def vat_id_country(value: str) -> str:
    """The ISO 3166 country of a prefixed VAT id (EL → GR)."""
    prefix = (value or "")[:2].upper()
    return "GR" if prefix == "EL" else prefix


def cross_border_treatment(
    *, seller_country: str, buyer_country: str, buyer_vat_id: str, goods: bool
) -> VatTreatment | None:
    """The EU VAT rule for a supply from `seller_country` to `buyer_country`, or None when
    the domestic rates apply (same country, a seller outside the EU, an EU consumer, or a
    place the document does not name):

    - to a business in another member state (a valid EU VAT id): services are
      reverse-charged (AE, Art. 196), goods are an intra-community supply (K, Art. 138);
    - to a buyer outside the EU: goods are an export (G, Art. 146); services to a business
      are outside the scope of EU VAT (O, Art. 44).
    """
    seller, buyer = (seller_country or "").upper(), (buyer_country or "").upper()
    if not seller or not buyer or seller == buyer or not is_eu(seller):
        return None
    if is_eu(buyer):
        if vat_id_valid(buyer_vat_id) and vat_id_country(buyer_vat_id) != seller:
            return INTRA_COMMUNITY_SUPPLY if goods else REVERSE_CHARGE
        return None
    if goods:
        return EXPORT
    return NOT_SUBJECT if buyer_vat_id else None
