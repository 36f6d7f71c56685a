"""Our own checks of the Peppol BIS Billing 3.0 rules the UBL output relies on, and of the
XRechnung rules (BR-DE) it relies on.

No package ships the Peppol BIS rule set (OpenPeppol publishes it; an operator may run its
compiled stylesheet as well: einvoicing.rules.peppol_stylesheet). These checks read the
UBL document with lxml, so they judge what is sent, not the database:

- PEPPOL-EN16931-R001 business process (ProfileID) present;
- PEPPOL-EN16931-R003 a buyer reference or a purchase order reference present;
- PEPPOL-EN16931-R004 the specification identifier is Peppol BIS Billing 3.0's;
- PEPPOL-EN16931-R008 no empty elements;
- PEPPOL-EN16931-R010 / R020 the buyer's and the seller's electronic addresses present;
- PEPPOL-EN16931-R051 every amount in the document currency;
- PEPPOL-EN16931-R120 line net amount = quantity × (price / base quantity) + charges −
  allowances (within 0.02, as Peppol's own slack);
- PEPPOL-EN16931-CL008 and PEPPOL-COMMON-R040 … R050 an electronic address scheme from the
  EAS list, and the identifier valid for its scheme (core.einvoice_codes).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from core.einvoice_codes import ENDPOINT_RULES, EndpointScheme, endpoint_problem
from einvoicing.rules import Finding

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS = {"cbc": CBC, "cac": CAC}
PEPPOL_BIS = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL = "Peppol BIS 3.0 (Ledgerline's checks)"
XRECHNUNG_SOURCE = "XRechnung 3.0 (Ledgerline's checks)"


def _finding(rule: str, message: str, location: str = "", source: str = PEPPOL) -> Finding:
    return Finding(rule=rule, flag="fatal", message=message, location=location, source=source)


def _text(root: etree._Element, path: str) -> str:
    """The text of what `path` selects (elements or strings), joined."""
    values = []
    for value in root.xpath(path, namespaces=NS):
        text = value.text if isinstance(value, etree._Element) else value
        if text and str(text).strip():
            values.append(str(text).strip())
    return " ".join(values)


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        return None


def _line_findings(root: etree._Element) -> list[Finding]:
    findings = []
    for line in root.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NS):
        line_id = _text(line, "cbc:ID")
        amount = _decimal(_text(line, "cbc:LineExtensionAmount"))
        quantity = _decimal(_text(line, "cbc:InvoicedQuantity | cbc:CreditedQuantity"))
        price = _decimal(_text(line, "cac:Price/cbc:PriceAmount"))
        base = _decimal(_text(line, "cac:Price/cbc:BaseQuantity") or "1") or Decimal(1)
        charges = sum(
            (
                _decimal(v) or Decimal(0)
                for v in line.xpath(
                    "cac:AllowanceCharge[cbc:ChargeIndicator='true']/cbc:Amount/text()",
                    namespaces=NS,
                )
            ),
            Decimal(0),
        )
        allowances = sum(
            (
                _decimal(v) or Decimal(0)
                for v in line.xpath(
                    "cac:AllowanceCharge[cbc:ChargeIndicator='false']/cbc:Amount/text()",
                    namespaces=NS,
                )
            ),
            Decimal(0),
        )
        if amount is None or quantity is None or price is None or base == 0:
            continue
        expected = quantity * (price / base) + charges - allowances
        if abs(amount - expected) > Decimal("0.02"):
            findings.append(
                _finding(
                    "PEPPOL-EN16931-R120",
                    f"Invoice line {line_id}: the net amount {amount} is not quantity "
                    f"{quantity} × price {price} (= {expected.quantize(Decimal('0.01'))}).",
                    f"line {line_id}",
                )
            )
    return findings


def _endpoint_findings(root: etree._Element) -> list[Finding]:
    findings = []
    for party, rule, who in (
        ("cac:AccountingSupplierParty", "PEPPOL-EN16931-R020", "seller"),
        ("cac:AccountingCustomerParty", "PEPPOL-EN16931-R010", "buyer"),
    ):
        nodes = root.xpath(f"{party}/cac:Party/cbc:EndpointID", namespaces=NS)
        if not nodes or not (nodes[0].text or "").strip():
            findings.append(
                _finding(rule, f"The {who}'s electronic address (EndpointID) is missing.", party)
            )
            continue
        value, scheme = nodes[0].text.strip(), nodes[0].get("schemeID") or ""
        if scheme not in EndpointScheme.values:
            findings.append(
                _finding(
                    "PEPPOL-EN16931-CL008",
                    f"The {who}'s electronic address scheme “{scheme}” is not in the EAS code "
                    "list.",
                    party,
                )
            )
            continue
        problem = endpoint_problem(value, scheme)
        if problem:
            findings.append(
                _finding(
                    ENDPOINT_RULES.get(scheme, "PEPPOL-COMMON-EAS"),
                    f"The {who}'s electronic address: {problem}",
                    party,
                )
            )
    return findings


def peppol_findings(xml: bytes, *, customization: str = PEPPOL_BIS) -> list[Finding]:
    """The Peppol rules above on a UBL Invoice or CreditNote. `customization`: the
    specification identifier the document must carry (Peppol's, or XRechnung's, a Peppol
    CIUS)."""
    root = etree.fromstring(xml)
    findings: list[Finding] = []
    if not _text(root, "cbc:ProfileID"):
        findings.append(_finding("PEPPOL-EN16931-R001", "Business process (ProfileID) missing."))
    if not _text(root, "cbc:BuyerReference") and not _text(root, "cac:OrderReference/cbc:ID"):
        findings.append(
            _finding(
                "PEPPOL-EN16931-R003",
                "Neither a buyer reference nor a purchase order reference is given.",
            )
        )
    if _text(root, "cbc:CustomizationID") != customization:
        findings.append(
            _finding(
                "PEPPOL-EN16931-R004",
                f"The specification identifier is “{_text(root, 'cbc:CustomizationID')}”, "
                f"not “{customization}”.",
            )
        )
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if len(element) == 0 and not (element.text or "").strip():
            findings.append(
                _finding(
                    "PEPPOL-EN16931-R008",
                    f"Empty element {etree.QName(element).localname}.",
                    root.getroottree().getpath(element),
                )
            )
    currency = _text(root, "cbc:DocumentCurrencyCode")
    tax_currency = _text(root, "cbc:TaxCurrencyCode")
    for element in root.xpath("//*[@currencyID]"):
        code = element.get("currencyID")
        if code != currency and code != tax_currency:
            findings.append(
                _finding(
                    "PEPPOL-EN16931-R051",
                    f"{etree.QName(element).localname} is in {code}, the document in {currency}.",
                    root.getroottree().getpath(element),
                )
            )
    findings += _endpoint_findings(root)
    findings += _line_findings(root)
    return findings


def xrechnung_findings(xml: bytes) -> list[Finding]:
    """The XRechnung (BR-DE) rules the UBL output relies on: a buyer reference (Leitweg-ID)
    BR-DE-15, payment instructions BR-DE-1, the seller's contact email BR-DE-7, the seller's
    and the buyer's city and post code BR-DE-3/4/8/9."""
    root = etree.fromstring(xml)
    findings = []

    def need(rule: str, path: str, what: str) -> None:
        if not _text(root, path):
            findings.append(_finding(rule, f"{what} is missing.", source=XRECHNUNG_SOURCE))

    need("BR-DE-15", "cbc:BuyerReference", "The buyer reference (Leitweg-ID, BT-10)")
    need("BR-DE-1", "cac:PaymentMeans/cbc:PaymentMeansCode", "Payment instructions (BG-16)")
    seller = "cac:AccountingSupplierParty/cac:Party"
    buyer = "cac:AccountingCustomerParty/cac:Party"
    need("BR-DE-7", f"{seller}/cac:Contact/cbc:ElectronicMail", "The seller's contact email")
    need("BR-DE-3", f"{seller}/cac:PostalAddress/cbc:CityName", "The seller's city")
    need("BR-DE-4", f"{seller}/cac:PostalAddress/cbc:PostalZone", "The seller's post code")
    need("BR-DE-8", f"{buyer}/cac:PostalAddress/cbc:CityName", "The buyer's city")
    need("BR-DE-9", f"{buyer}/cac:PostalAddress/cbc:PostalZone", "The buyer's post code")
    return findings
