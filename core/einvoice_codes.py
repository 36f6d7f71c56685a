"""The code lists and identifier checks an EN 16931 e-invoice needs from the data model:
electronic address schemes (CEF EAS), payment means (UNCL 4461), e-invoice formats, IBAN and
BIC (schwifty), and the format checks of electronic addresses (python-stdnum), which the
models run when the data is entered and the Peppol checks (einvoicing.peppol) run again on
the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import ean
from stdnum.au import abn
from stdnum.be import vat as be_vat
from stdnum.dk import cvr
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren, siret
from stdnum.it import codicefiscale, iva
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr

from core.vat import vat_id_normalize


class EInvoiceFormat(models.TextChoices):
    UBL = "ubl", "Peppol BIS Billing 3.0 (UBL)"
    CII = "cii", "UN/CEFACT CII (EN 16931)"
    FACTURX = "facturx", "Factur-X / ZUGFeRD PDF (EN 16931)"
    XRECHNUNG = "xrechnung", "XRechnung 3.0 (UBL)"


class PaymentMeans(models.TextChoices):
    """UNCL 4461 payment means codes (the ones a billing team uses)."""

    NOT_DEFINED = "1", "1: not defined"
    CASH = "10", "10: in cash"
    CHEQUE = "20", "20: cheque"
    CREDIT_TRANSFER = "30", "30: credit transfer"
    DEBIT_TRANSFER = "31", "31: debit transfer"
    BANK_ACCOUNT = "42", "42: payment to bank account"
    BANK_CARD = "48", "48: bank card"
    DIRECT_DEBIT = "49", "49: direct debit"
    CREDIT_CARD = "54", "54: credit card"
    DEBIT_CARD = "55", "55: debit card"
    STANDING_AGREEMENT = "57", "57: standing agreement"
    SEPA_CREDIT_TRANSFER = "58", "58: SEPA credit transfer"
    SEPA_DIRECT_DEBIT = "59", "59: SEPA direct debit"
    ONLINE_SERVICE = "68", "68: online payment service"


# Payment means that name the seller's account (BT-84 is required for them: BR-61).
CREDIT_TRANSFER_MEANS = frozenset({"30", "58"})


class EndpointScheme(models.TextChoices):
    """Electronic address schemes (CEF EAS code list), the ones in use in Europe."""

    SIRENE = "0002", "0002: FR SIRENE"
    SE_ORGNR = "0007", "0007: SE organisation number"
    SIRET = "0009", "0009: FR SIRET"
    DUNS = "0060", "0060: DUNS"
    GLN = "0088", "0088: GS1 GLN"
    DK_P = "0096", "0096: DK P number"
    NL_KVK = "0106", "0106: NL KvK"
    AU_ABN = "0151", "0151: AU ABN"
    CH_UIDB = "0183", "0183: CH UIDB"
    DK_CVR = "0184", "0184: DK CVR"
    NL_OIN = "0190", "0190: NL OIN"
    EE_REG = "0191", "0191: EE company code"
    NO_ORGNR = "0192", "0192: NO organisation number"
    SG_UEN = "0195", "0195: SG UEN"
    LEI = "0199", "0199: Legal Entity Identifier"
    LT_CODE = "0200", "0200: LT legal entity code"
    IT_IPA = "0201", "0201: IT IPA code"
    DE_LEITWEG = "0204", "0204: DE Leitweg-ID"
    BE_KBO = "0208", "0208: BE enterprise number (KBO/BCE)"
    IT_CF = "0210", "0210: IT codice fiscale"
    IT_IVA = "0211", "0211: IT partita IVA"
    FI_OVT = "0216", "0216: FI OVTcode"
    HU_VAT = "9910", "9910: HU VAT"
    AT_VAT = "9914", "9914: AT VAT"
    AT_GOV = "9915", "9915: AT government"
    ES_VAT = "9920", "9920: ES VAT"
    BE_VAT = "9925", "9925: BE VAT"
    BG_VAT = "9926", "9926: BG VAT"
    CH_VAT = "9927", "9927: CH VAT"
    CY_VAT = "9928", "9928: CY VAT"
    CZ_VAT = "9929", "9929: CZ VAT"
    DE_VAT = "9930", "9930: DE VAT"
    EE_VAT = "9931", "9931: EE VAT"
    GB_VAT = "9932", "9932: GB VAT"
    GR_VAT = "9933", "9933: GR VAT"
    HR_VAT = "9934", "9934: HR VAT"
    IE_VAT = "9935", "9935: IE VAT"
    LT_VAT = "9937", "9937: LT VAT"
    LU_VAT = "9938", "9938: LU VAT"
    LV_VAT = "9939", "9939: LV VAT"
    MT_VAT = "9943", "9943: MT VAT"
    NL_VAT = "9944", "9944: NL VAT"
    PL_VAT = "9945", "9945: PL VAT"
    PT_VAT = "9946", "9946: PT VAT"
    RO_VAT = "9947", "9947: RO VAT"
    SI_VAT = "9949", "9949: SI VAT"
    SK_VAT = "9950", "9950: SK VAT"
    FR_VAT = "9957", "9957: FR VAT"
    US_EIN = "9959", "9959: US EIN"
    EMAIL = "EM", "EM: email address"


# VAT-id schemes: the address is the VAT id of the scheme's country (prefix included).
_VAT_SCHEMES = {
    "9910": "HU", "9914": "AT", "9920": "ES", "9925": "BE", "9926": "BG", "9927": "CH",
    "9928": "CY", "9929": "CZ", "9930": "DE", "9931": "EE", "9932": "GB", "9933": "EL",
    "9934": "HR", "9935": "IE", "9937": "LT", "9938": "LU", "9939": "LV", "9943": "MT",
    "9944": "NL", "9945": "PL", "9946": "PT", "9947": "RO", "9949": "SI", "9950": "SK",
    "9957": "FR",
}  # fmt: skip

_LEITWEG = re.compile(r"[0-9]{2,12}(-[0-9A-Z]{1,30})?-[0-9]{2}")


def _leitweg_valid(value: str) -> None:
    """A Leitweg-ID: coarse-, fine-address and two check digits (ISO 7064 mod 97-10)."""
    if not _LEITWEG.fullmatch(value):
        raise StdnumError("not of the form 04011000-12345-06")
    body, check = value.rsplit("-", 1)
    digits = "".join(str(int(ch, 36)) for ch in body.replace("-", ""))
    if (int(digits + check) % 97) != 1:
        raise StdnumError("its check digits do not match")


def _email_valid(value: str) -> None:
    try:
        validate_email(value)
    except ValidationError as exc:
        raise StdnumError("not an email address") from exc


# Scheme → the check of its identifier (the Peppol rules PEPPOL-COMMON-R040 … R050 and the
# schemes python-stdnum knows). A scheme without an entry is checked for presence only.
ENDPOINT_CHECKS: dict[str, Callable[[str], object]] = {
    "0002": siren.validate,
    "0007": se_orgnr.validate,
    "0009": siret.validate,
    "0088": ean.validate,
    "0151": abn.validate,
    "0184": cvr.validate,
    "0192": no_orgnr.validate,
    "0204": _leitweg_valid,
    "0208": lambda value: be_vat.validate("BE" + value),
    "0210": codicefiscale.validate,
    "0211": iva.validate,
    "EM": _email_valid,
}

# The Peppol rule each check stands for, where Peppol names one.
ENDPOINT_RULES = {
    "0088": "PEPPOL-COMMON-R040",
    "0192": "PEPPOL-COMMON-R041",
    "0184": "PEPPOL-COMMON-R042",
    "0208": "PEPPOL-COMMON-R043",
    "0201": "PEPPOL-COMMON-R044",
    "0210": "PEPPOL-COMMON-R046",
    "0211": "PEPPOL-COMMON-R047",
    "0007": "PEPPOL-COMMON-R049",
    "0151": "PEPPOL-COMMON-R050",
}


def endpoint_problem(endpoint_id: str, scheme: str) -> str:
    """What is wrong with an electronic address for its scheme ('' when nothing is)."""
    if not endpoint_id and not scheme:
        return ""
    if not scheme:
        return "Choose the scheme of the electronic address."
    if not endpoint_id:
        return "Give the electronic address, or clear its scheme."
    if scheme not in EndpointScheme.values:
        return f"{scheme} is not an electronic address scheme (CEF EAS code list)."
    if scheme in _VAT_SCHEMES:
        prefix = _VAT_SCHEMES[scheme]
        if not endpoint_id.upper().startswith(prefix):
            return f"A {scheme} address is a {prefix} VAT id starting with {prefix}."
        try:
            vat_id_normalize(endpoint_id, field="endpoint_id")
        except ValidationError as exc:
            return str(exc.message_dict["endpoint_id"][0])
        return ""
    check = ENDPOINT_CHECKS.get(scheme)
    if check is None:
        return ""
    try:
        check(endpoint_id)
    except (StdnumError, ValueError) as exc:
        label = EndpointScheme(scheme).label.split(": ", 1)[1]
        return f"“{endpoint_id}” is not a valid {label} ({exc})."
    return ""


def endpoint_check(endpoint_id: str, scheme: str) -> None:
    """Raise a ValidationError naming the field at fault, or nothing."""
    problem = endpoint_problem(endpoint_id, scheme)
    if problem:
        at_fault = (
            "endpoint_scheme"
            if not scheme or scheme not in EndpointScheme.values
            else ("endpoint_id")
        )
        raise ValidationError({at_fault: problem})


def iban_normalize(value: str) -> str:
    if not value:
        return ""
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise ValidationError({"iban": f"“{value}” is not a valid IBAN ({exc})."}) from exc


def bic_normalize(value: str) -> str:
    if not value:
        return ""
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise ValidationError({"bic": f"“{value}” is not a valid BIC ({exc})."}) from exc
