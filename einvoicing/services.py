"""E-invoices: an invoice or a credit memo as UBL (Peppol BIS Billing 3.0), XRechnung, CII
or a Factur-X PDF, and the official rules run on it.

- `einvoice_render(document, format)` writes the file; only posted (or voided) documents
  are exported, since an e-invoice is the legal document and a draft has no number.
- `einvoice_check(document, format)` writes it and runs every rule that applies: our own
  pre-checks (what EN 16931 cannot say), the XML Schema, the CEN EN 16931 schematron, and
  for UBL our Peppol checks (plus XRechnung's for XRechnung, and an operator's Peppol XSLT
  when configured). Any document can be checked, a draft included.
- `invoices_einvoice_refusals(invoices)` is the posting gate (invoicing.hooks): an invoice
  of an account that requires e-invoicing is posted only when its e-invoice has no fatal
  finding; otherwise it stays draft and the error names the rule and the fix.

The format is the request's, else the account's preference, else Peppol UBL.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch
from facturx import generate_from_binary
from facturx.generate_xml import generate_xml
from lxml import etree

from accounts.models import Account
from core.einvoice_codes import EInvoiceFormat
from core.exceptions import DomainError, NotFound, ValidationError
from einvoicing.exceptions import EInvoiceInvalid, EInvoiceNotPosted
from einvoicing.peppol import PEPPOL_BIS, XRECHNUNG, peppol_findings, xrechnung_findings
from einvoicing.rules import Finding, schematron_findings, xsd_findings
from einvoicing.semantic import Semantic, clean_data, credit_memo_semantic, invoice_semantic
from invoicing.models import CreditMemo, Invoice, InvoiceAddress, InvoiceStatus
from invoicing.pdf import render_credit_memo_pdf, render_invoice_pdf

CEN = "urn:cen.eu:en16931:2017"
Document = Invoice | CreditMemo


@dataclass(frozen=True)
class Format:
    key: str
    label: str
    syntax: str  # "ubl" or "cii"
    customization: str  # BT-24
    extension: str
    content_type: str


_XML, _PDF = "application/xml", "application/pdf"
FORMATS: dict[str, Format] = {
    "ubl": Format("ubl", "Peppol BIS Billing 3.0 (UBL)", "ubl", PEPPOL_BIS, "xml", _XML),
    "xrechnung": Format("xrechnung", "XRechnung 3.0 (UBL)", "ubl", XRECHNUNG, "xml", _XML),
    "cii": Format("cii", "UN/CEFACT CII (EN 16931)", "cii", CEN, "xml", _XML),
    "facturx": Format("facturx", "Factur-X PDF (EN 16931)", "cii", CEN, "pdf", _PDF),
}
assert set(FORMATS) == set(EInvoiceFormat.values)


@dataclass(frozen=True)
class EInvoiceFile:
    content: bytes
    filename: str
    content_type: str
    format: Format
    xml: bytes  # the XML itself (for Factur-X: what the PDF embeds)


@dataclass
class CheckResult:
    format: Format
    findings: list[Finding] = field(default_factory=list)

    @property
    def fatal(self) -> list[Finding]:
        return [f for f in self.findings if f.fatal]

    @property
    def valid(self) -> bool:
        return not self.fatal

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format.key,
            "valid": self.valid,
            "fatal": len(self.fatal),
            "warnings": len(self.findings) - len(self.fatal),
            "findings": [f.as_dict() for f in self.findings],
        }


def einvoice_format(document: Document, requested: str | None = None) -> Format:
    """The format asked for, else the account's preferred one, else Peppol UBL. An unknown
    format is refused naming the known ones."""
    key = requested or document.account.einvoice_format or EInvoiceFormat.UBL
    if key not in FORMATS:
        raise ValidationError(
            {"format": f"“{key}” is not an e-invoice format: use one of {', '.join(FORMATS)}."}
        )
    return FORMATS[key]


# --- reading documents -----------------------------------------------------------------------


def _addresses() -> Prefetch:
    return Prefetch("addresses", queryset=InvoiceAddress.objects.order_by("id"))


def invoices_for_einvoice(ids: Sequence[int]) -> list[Invoice]:
    """Invoices with what their e-invoice reads (a fixed number of queries per invoice)."""
    return list(
        Invoice.objects.filter(pk__in=list(ids))
        .select_related(
            "account__legal_entity__address",
            "legal_entity__address",
            "bill_to",
            "reference_order",
            "payment_term",
        )
        .prefetch_related(_addresses())
        .order_by("id")
    )


def credit_memos_for_einvoice(ids: Sequence[int]) -> list[CreditMemo]:
    return list(
        CreditMemo.objects.filter(pk__in=list(ids))
        .select_related(
            "account__legal_entity__address",
            "legal_entity__address",
            "invoice__bill_to",
            "invoice__reference_order",
        )
        .prefetch_related(
            Prefetch("invoice__addresses", queryset=InvoiceAddress.objects.order_by("id")),
            "account__billing_profiles__bill_to",
            "account__billing_profiles__billing_address",
        )
        .order_by("id")
    )


def _semantic(document: Document) -> Semantic:
    if isinstance(document, CreditMemo):
        return credit_memo_semantic(document)
    return invoice_semantic(document)


# --- writing ---------------------------------------------------------------------------------


def _xml(semantic: Semantic, fmt: Format) -> bytes:
    data = clean_data(copy.deepcopy(semantic.data))
    if fmt.syntax == "cii":
        data.pop("BT-23", None)  # the Peppol process id is a UBL/Peppol matter
        xml = generate_xml(
            data, flavor="factur-x", level="en16931", check_xsd=False, check_schematron=False
        )
        return bytes(xml)
    xml = generate_xml(
        data, flavor="ubl-2.1", level="en16931", check_xsd=False, check_schematron=False
    )
    root = etree.fromstring(xml)
    customization = root.find(
        "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}CustomizationID"
    )
    assert customization is not None
    customization.text = fmt.customization
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _filename(document: Document, fmt: Format) -> str:
    label = document.number or (
        f"credit-memo-{document.pk}" if isinstance(document, CreditMemo) else f"draft-{document.pk}"
    )
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label)[:80]
    suffix = {"ubl": "-ubl", "xrechnung": "-xrechnung", "cii": "-cii", "facturx": ""}[fmt.key]
    return f"{safe}{suffix}.{fmt.extension}"


def _posted(document: Document) -> None:
    if isinstance(document, CreditMemo):
        ok = document.status in (CreditMemo.Status.POSTED, CreditMemo.Status.VOIDED)
    else:
        ok = document.status in (InvoiceStatus.POSTED, InvoiceStatus.VOIDED)
    if not ok or not document.number:
        raise EInvoiceNotPosted(
            f"{document} is a draft: only a posted document is exported as an e-invoice. "
            "Post it first, or check it (the check action works on drafts).",
            details={"status": document.status},
        )


def _refuse_problems(document: Document, semantic: Semantic, fmt: Format) -> None:
    if semantic.problems:
        findings = [
            Finding(p.rule, "fatal", p.message, fix=p.fix, source="Ledgerline")
            for p in semantic.problems
        ]
        raise EInvoiceInvalid.of(document, fmt.key, findings)


def einvoice_render(document: Document, fmt: Format) -> EInvoiceFile:
    """The e-invoice file of a posted document in `fmt`. A document EN 16931 cannot express
    is refused (EInvoiceInvalid, with the findings); rules are not run here (see
    einvoice_check), so an export never waits on them."""
    _posted(document)
    semantic = _semantic(document)
    _refuse_problems(document, semantic, fmt)
    xml = _xml(semantic, fmt)
    content = xml
    if fmt.key == "facturx":
        content = facturx_pdf(document, xml)
    return EInvoiceFile(
        content=content,
        filename=_filename(document, fmt),
        content_type=fmt.content_type,
        format=fmt,
        xml=xml,
    )


def facturx_pdf(document: Document, xml: bytes) -> bytes:
    """The document's PDF with its CII embedded as factur-x.xml (PDF/A-3, EN 16931 level)."""
    if isinstance(document, CreditMemo):
        pdf = render_credit_memo_pdf(document)
        title = f"Credit note {document.number}"
    else:
        pdf = render_invoice_pdf(document)
        title = f"Invoice {document.number}"
    seller = document.legal_entity or document.account.legal_entity
    return bytes(
        generate_from_binary(
            pdf,
            xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=False,
            pdf_metadata={
                "author": seller.name if seller else "",
                "keywords": "Factur-X, EN 16931",
                "title": title,
                "subject": f"{title} for {document.account.name}",
            },
        )
    )


# --- checking --------------------------------------------------------------------------------


def _fix(finding: Finding, semantic: Semantic) -> Finding:
    """The finding with what data to change, in plain words, where we know it."""
    if finding.fix:
        return finding
    seller = semantic.seller.name if semantic.seller else "the legal entity"
    account = semantic.account.name if semantic.account else "the account"
    fixes = {
        "BR-CO-26": f"the seller has no VAT id or legal registration id: set one on legal "
        f"entity {seller}.",
        "BR-CO-09": f"a VAT id has no valid country prefix: check the VAT ids of {seller} and "
        f"{account}.",
        "BR-S-02": f"standard-rated lines need the seller's VAT id: set it on legal entity "
        f"{seller}.",
        "BR-AE-02": f"reverse charge needs both VAT ids: set them on {seller} and {account}.",
        "BR-AE-03": f"reverse charge needs both VAT ids: set them on {seller} and {account}.",
        "BR-IC-02": f"an intra-community supply needs both VAT ids: set them on {seller} and "
        f"{account}.",
        "BR-IC-12": f"an intra-community supply needs the deliver-to country: set the billing "
        f"address country of {account}.",
        "BR-08": f"the seller has no address: set the address of legal entity {seller}.",
        "BR-09": f"the seller's address has no country: set it on legal entity {seller}.",
        "BR-10": f"the buyer has no address: set the billing address of {account}.",
        "BR-11": f"the buyer's address has no country: set it on the billing address of {account}.",
        "BR-61": f"a credit transfer needs the account to pay into: set the IBAN of legal "
        f"entity {seller}.",
        "BR-CL-23": "a unit of measure has no valid UN/ECE Rec 20 code: set it under Units of "
        "measure.",
        "PEPPOL-EN16931-R003": f"set the buyer reference of {account}, or the purchase order "
        "reference of the order.",
        "PEPPOL-EN16931-R010": f"set the electronic address and its scheme of {account}.",
        "PEPPOL-EN16931-R020": f"set the electronic address and its scheme of legal entity "
        f"{seller}.",
        "BR-DE-15": f"XRechnung needs the buyer reference (Leitweg-ID): set it on {account}.",
        "BR-DE-1": f"set the payment means and IBAN of legal entity {seller}.",
        "BR-DE-7": f"set the email of legal entity {seller}.",
        "BR-DE-3": f"set the city of legal entity {seller}'s address.",
        "BR-DE-4": f"set the post code of legal entity {seller}'s address.",
        "BR-DE-8": f"set the city of {account}'s billing address.",
        "BR-DE-9": f"set the post code of {account}'s billing address.",
    }
    fix = fixes.get(finding.rule, "")
    if not fix and (finding.rule.startswith("PEPPOL-COMMON") or finding.rule.endswith("CL008")):
        fix = f"correct the electronic address of {seller} or {account}."
    if not fix and finding.rule.startswith("BR-DEC"):
        fix = "EN 16931 amounts have at most two decimals."
    if fix.endswith(".."):  # a name that ends with a dot ("Acme Inc.") ends the sentence
        fix = fix[:-1]
    return Finding(
        finding.rule, finding.flag, finding.message, finding.location, fix, finding.source
    )


def einvoice_check(document: Document, fmt: Format) -> CheckResult:
    """Every rule that applies to the document's e-invoice in `fmt`: what it finds, fatal
    first. Works on drafts (a provisional number stands in) and writes nothing."""
    semantic = _semantic(document)
    result = CheckResult(format=fmt)
    result.findings += [
        Finding(p.rule, "fatal", p.message, fix=p.fix, source="Ledgerline")
        for p in semantic.problems
    ]
    if semantic.problems:
        # What EN 16931 cannot say comes first: such a document is never exported, and the
        # rules would only repeat it (a line left out breaks the totals' rules).
        return result
    xml = _xml(semantic, fmt)
    found = xml_findings(xml, fmt, credit_note=isinstance(document, CreditMemo))
    result.findings += [_fix(f, semantic) for f in found]
    result.findings.sort(key=lambda f: (not f.fatal, f.rule))
    return result


def xml_findings(xml: bytes, fmt: Format, *, credit_note: bool) -> list[Finding]:
    """The rules of `fmt` on an e-invoice's XML: the XML Schema, the CEN EN 16931
    schematron and, for UBL, our Peppol checks (and XRechnung's for XRechnung)."""
    found = xsd_findings(xml, syntax=fmt.syntax, credit_note=credit_note)
    found += schematron_findings(xml, syntax=fmt.syntax)
    if fmt.syntax == "ubl":
        found += peppol_findings(xml, customization=fmt.customization)
        if fmt.key == "xrechnung":
            found += xrechnung_findings(xml)
    return found


def _document(kind: str, pk: int) -> Document:
    """One invoice or credit memo by id, read for its e-invoice; NotFound naming it."""
    loader = credit_memos_for_einvoice if kind == "credit memo" else invoices_for_einvoice
    found: list[Document] = list(loader([pk]))
    if not found:
        raise NotFound(f"There is no {kind} with id {pk}.", details={"id": pk})
    return found[0]


def invoice_einvoice_check(invoice_id: int, requested: str | None = None) -> CheckResult:
    """The check of one invoice by id (the UI's and the API's check action)."""
    invoice = _document("invoice", invoice_id)
    return einvoice_check(invoice, einvoice_format(invoice, requested))


def credit_memo_einvoice_check(memo_id: int, requested: str | None = None) -> CheckResult:
    memo = _document("credit memo", memo_id)
    return einvoice_check(memo, einvoice_format(memo, requested))


def invoice_einvoice_render(invoice_id: int, requested: str | None = None) -> EInvoiceFile:
    invoice = _document("invoice", invoice_id)
    return einvoice_render(invoice, einvoice_format(invoice, requested))


def credit_memo_einvoice_render(memo_id: int, requested: str | None = None) -> EInvoiceFile:
    memo = _document("credit memo", memo_id)
    return einvoice_render(memo, einvoice_format(memo, requested))


# --- the posting gate ------------------------------------------------------------------------


def accounts_requiring_einvoice(account_ids: set[int]) -> set[int]:
    return set(
        Account.objects.filter(pk__in=account_ids, einvoice_required=True).values_list(
            "pk", flat=True
        )
    )


def invoices_einvoice_refusals(invoices: Sequence[Any]) -> dict[int, DomainError]:
    """The posting gate: {invoice id: the error} for each invoice of an account that
    requires e-invoicing whose e-invoice (in the account's format) has a fatal finding.
    Runs after posting computed the actual tax, before numbering; reads only."""
    required = accounts_requiring_einvoice({i.account_id for i in invoices})
    if not required:
        return {}
    ids = [i.pk for i in invoices if i.account_id in required]
    refusals: dict[int, DomainError] = {}
    for invoice in invoices_for_einvoice(ids):
        fmt = einvoice_format(invoice)
        result = einvoice_check(invoice, fmt)
        if not result.valid:
            refusals[invoice.pk] = EInvoiceInvalid.of(invoice, fmt.key, result.fatal)
    return refusals


def posted_between(*, since: dt.date | None, until: dt.date | None) -> tuple[list[int], list[int]]:
    """Ids of the posted invoices and credit memos dated in [since, until] (the bulk
    export's selection), in id order."""
    invoices = Invoice.objects.filter(status__in=[InvoiceStatus.POSTED, InvoiceStatus.VOIDED])
    memos = CreditMemo.objects.filter(
        status__in=[CreditMemo.Status.POSTED, CreditMemo.Status.VOIDED], number__isnull=False
    )
    if since:
        invoices = invoices.filter(invoice_date__gte=since)
        memos = memos.filter(memo_date__gte=since)
    if until:
        invoices = invoices.filter(invoice_date__lte=until)
        memos = memos.filter(memo_date__lte=until)
    return (
        list(invoices.order_by("id").values_list("pk", flat=True)),
        list(memos.order_by("id").values_list("pk", flat=True)),
    )
