"""Postal addresses as a person writes them: the one place that decides the order of an
address's parts (the invoice and memo PDFs, the staff UI and `accounts.Address.__str__` all
print through `address_lines`).

Countries write the town, region and postcode in different orders:

- United States, Canada, Australia: ``San Francisco, CA 94103`` (town, region, postcode on one
  line);
- United Kingdom, Ireland and the Crown dependencies: the post town, then the county (when
  given), then the postcode on a line of its own;
- most of continental Europe (and a few others): ``10117 Berlin``; Italy adds the province
  after the town (``00144 Roma RM``); elsewhere a region given goes on its own line;
- anywhere else: ``Town, Region Postcode`` (``Auckland 1010``, ``Mumbai, MH 400001``).

The country is written last, by its English name (``Germany``, not ``DE``), and only when it
differs from `home_country` (the other party's country on a document: a domestic address has
no country line). With no `home_country` the country is always written.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pycountry
from babel import Locale

__all__ = ["address_lines", "address_lines_of", "country_code_valid", "country_name"]

# Codes in use that ISO 3166-1 has not assigned: Kosovo (XK, used by the EU and SWIFT).
_USER_ASSIGNED_COUNTRIES = frozenset({"XK"})

# "Town, REGION POSTCODE" on one line.
_TOWN_REGION_POSTCODE = frozenset({"US", "CA", "AU", "PR", "GU", "VI", "AS", "MP", "UM"})
# The post town, the county, then the postcode on a line of its own.
_TOWN_THEN_POSTCODE = frozenset({"GB", "IE", "IM", "JE", "GG"})
# "POSTCODE Town".
_POSTCODE_TOWN = frozenset(
    {
        "AD", "AL", "AR", "AT", "AX", "BA", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "DZ",
        "EE", "ES", "FI", "FO", "FR", "GF", "GL", "GP", "GR", "HR", "HU", "IL", "IS", "IT",
        "LI", "LT", "LU", "MA", "MC", "MD", "ME", "MK", "MQ", "NC", "NL", "NO", "PF", "PL",
        "PM", "PT", "RE", "RO", "RS", "SE", "SI", "SK", "SM", "TN", "TR", "VA", "YT",
    }
)  # fmt: skip
# "POSTCODE Town PROVINCE".
_PROVINCE_AFTER_TOWN = frozenset({"IT", "SM", "VA"})


@lru_cache(maxsize=1)
def _territories() -> dict[str, str]:
    return dict(Locale("en").territories)


def country_name(code: str) -> str:
    """The English name of an ISO 3166 alpha-2 code ('DE' → 'Germany'); an unknown code as
    given."""
    code = (code or "").strip().upper()
    return _territories().get(code, code) if code else ""


def country_code_valid(code: str) -> bool:
    """Whether `code` is an assigned ISO 3166-1 alpha-2 country code (uppercase), or XK.
    "ZZ" (unknown region), "EU" or "UK" are not."""
    code = code or ""
    if len(code) != 2 or not code.isascii() or not code.isupper():
        return False
    return code in _USER_ASSIGNED_COUNTRIES or pycountry.countries.get(alpha_2=code) is not None


def _join(*parts: str, sep: str = " ") -> str:
    return sep.join(p for p in parts if p)


def address_lines(
    *,
    name: str = "",
    line1: str = "",
    line2: str = "",
    city: str = "",
    region: str = "",
    postal_code: str = "",
    country: str = "",
    home_country: str = "",
) -> tuple[str, ...]:
    """The address as printed lines, in the order of its country (see the module docstring),
    empty parts left out."""
    name, line1, line2 = (name or "").strip(), (line1 or "").strip(), (line2 or "").strip()
    city, region = (city or "").strip(), (region or "").strip()
    postal_code = (postal_code or "").strip()
    code = (country or "").strip().upper()

    if code in _TOWN_REGION_POSTCODE:
        locality = [_join(_join(city, region, sep=", "), postal_code)]
    elif code in _TOWN_THEN_POSTCODE:
        locality = [city, region, postal_code]
    elif code in _PROVINCE_AFTER_TOWN:
        locality = [_join(postal_code, city, region)]
    elif code in _POSTCODE_TOWN:
        locality = [_join(postal_code, city), region]
    else:
        locality = [_join(_join(city, region, sep=", "), postal_code)]

    home = (home_country or "").strip().upper()
    country_line = country_name(code) if code and code != home else ""
    return tuple(p for p in (name, line1, line2, *locality, country_line) if p)


def address_lines_of(
    address: Any, *, name: str | None = None, home_country: str = ""
) -> tuple[str, ...]:
    """`address_lines` of anything with line1, line2, city, region, postal_code and country
    (accounts.Address, invoicing.InvoiceAddress); `name`, when given, replaces the address's
    own name ("" prints none)."""
    return address_lines(
        name=getattr(address, "name", "") if name is None else name,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country=address.country,
        home_country=home_country,
    )
