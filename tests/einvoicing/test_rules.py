"""Broken documents give the expected rule ids; the posting gate refuses an invoice that
would fail and takes no number; Factur-X embeds exactly the XML generated; an operator's
Peppol stylesheet runs as well."""

import datetime as dt
import shutil
import subprocess
from decimal import Decimal as D

import pytest
from facturx import get_xml_from_pdf
from lxml import etree

from accounts.models import Account, LegalEntity
from einvoicing.exceptions import EInvoiceInvalid
from einvoicing.rules import _svrl_findings
from einvoicing.services import (
    FORMATS,
    einvoice_check,
    einvoice_render,
    invoices_for_einvoice,
    xml_findings,
)
from invoicing.models import ErrorLog, Invoice, SequencePolicy
from invoicing.pdf import render_invoice_pdf
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoice_post
from tests.support.einvoice import item, post_for
from tests.support.generation import activate

d = dt.date
UBL = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}


def loaded(invoice):
    (fresh,) = invoices_for_einvoice([invoice.pk])
    return fresh


@pytest.fixture
def posted(eu):
    activate(eu.berlin, [item(eu.seat, quantity=D("3"), unit_price=D("49.90"))])
    return loaded(post_for(eu.berlin, d(2026, 1, 1)))


def tampered(xml: bytes, path: str, value: str) -> bytes:
    root = etree.fromstring(xml)
    (node,) = root.xpath(path, namespaces=UBL)
    node.text = value
    return etree.tostring(root)


def fatal_rules(findings) -> set[str]:
    return {f.rule for f in findings if f.fatal}


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "BR-CO-10"),
        ("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "BR-CO-13"),
        ("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "BR-CO-15"),
    ],
)
def test_totals_that_are_not_the_sum_of_the_lines_break_the_cen_rules(posted, path, rule):
    xml = einvoice_render(posted, FORMATS["ubl"]).xml
    assert fatal_rules(xml_findings(xml, FORMATS["ubl"], credit_note=False)) == set()

    broken = tampered(xml, path, "999.99")

    assert rule in fatal_rules(xml_findings(broken, FORMATS["ubl"], credit_note=False))


def test_cii_totals_break_the_cen_rules_too(posted):
    xml = einvoice_render(posted, FORMATS["cii"]).xml
    root = etree.fromstring(xml)
    (node,) = root.xpath("//*[local-name()='LineTotalAmount' and not(ancestor::*"
                         "[local-name()='IncludedSupplyChainTradeLineItem'])]")  # fmt: skip
    node.text = "999.99"

    findings = xml_findings(etree.tostring(root), FORMATS["cii"], credit_note=False)

    assert "BR-CO-10" in fatal_rules(findings)


def test_a_seller_without_vat_or_registration_id_fails_br_co_26_with_the_fix(eu, posted):
    LegalEntity.objects.filter(pk=eu.seller.pk).update(vat_id="", legal_registration_id="")

    result = einvoice_check(loaded(posted), FORMATS["ubl"])

    (finding,) = [f for f in result.fatal if f.rule == "BR-CO-26"]
    assert finding.fix == (
        "the seller has no VAT id or legal registration id: set one on legal entity "
        "Ledgerline GmbH."
    )
    assert not result.valid


def test_a_wrong_endpoint_scheme_fails_our_peppol_check(eu, posted):
    Account.objects.filter(pk=eu.berlin.pk).update(endpoint_scheme="9999")

    findings = einvoice_check(loaded(posted), FORMATS["ubl"]).fatal

    assert "PEPPOL-EN16931-CL008" in fatal_rules(findings)


def test_a_gln_with_a_wrong_check_digit_fails_peppol_common_r040(eu, posted):
    Account.objects.filter(pk=eu.berlin.pk).update(
        endpoint_id="4000001123453", endpoint_scheme="0088"
    )

    findings = einvoice_check(loaded(posted), FORMATS["ubl"]).fatal

    (finding,) = [f for f in findings if f.rule == "PEPPOL-COMMON-R040"]
    assert "4000001123453" in finding.message


def test_a_missing_buyer_reference_fails_r003_and_xrechnung_br_de_15(eu, posted):
    Account.objects.filter(pk=eu.berlin.pk).update(buyer_reference="")

    assert "PEPPOL-EN16931-R003" in fatal_rules(
        einvoice_check(loaded(posted), FORMATS["ubl"]).fatal
    )
    xrechnung = einvoice_check(loaded(posted), FORMATS["xrechnung"]).fatal
    assert {"PEPPOL-EN16931-R003", "BR-DE-15"} <= fatal_rules(xrechnung)


def test_a_finding_without_a_flag_counts_as_fatal():
    svrl = b"""<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
      <svrl:failed-assert id="BR-01" location="/Invoice"><svrl:text>[BR-01] x</svrl:text>
      </svrl:failed-assert>
      <svrl:failed-assert id="BR-02" flag="warning" location="/"><svrl:text>y</svrl:text>
      </svrl:failed-assert></svrl:schematron-output>"""

    findings = _svrl_findings(svrl, source="test")

    assert [(f.rule, f.flag, f.fatal) for f in findings] == [
        ("BR-01", "fatal", True),
        ("BR-02", "warning", False),
    ]


def test_an_operators_peppol_stylesheet_is_run_as_well(posted, settings, tmp_path):
    xslt = tmp_path / "peppol.xslt"
    xslt.write_text(
        """<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
             xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
          <xsl:template match="/"><svrl:schematron-output>
            <svrl:failed-assert id="PEPPOL-EN16931-R053" flag="fatal" location="/">
              <svrl:text>Only one tax total with tax subtotals MUST be provided.</svrl:text>
            </svrl:failed-assert></svrl:schematron-output></xsl:template>
        </xsl:stylesheet>"""
    )
    settings.LEDGERLINE = {**settings.LEDGERLINE, "PEPPOL_XSLT": str(xslt)}

    result = einvoice_check(posted, FORMATS["ubl"])

    (finding,) = result.fatal
    assert (finding.rule, finding.source) == ("PEPPOL-EN16931-R053", "Peppol BIS 3.0")
    # CII is not Peppol's syntax: the stylesheet is not run on it.
    assert einvoice_check(posted, FORMATS["cii"]).fatal == []


# --- the posting gate ---------------------------------------------------------------------------


def test_posting_refuses_an_invoice_that_would_fail_and_takes_no_number(eu):
    Account.objects.filter(pk=eu.berlin.pk).update(einvoice_required=True, einvoice_format="ubl")
    LegalEntity.objects.filter(pk=eu.seller.pk).update(vat_id="", legal_registration_id="")
    activate(eu.berlin, [item(eu.seat)])
    result = invoices_generate(account_id=eu.berlin.pk, target_date=d(2026, 1, 1))
    (draft,) = result.invoices

    with pytest.raises(EInvoiceInvalid) as refused:
        invoice_post(invoice_id=draft.pk)

    assert refused.value.message.startswith(f"Draft invoice #{draft.pk} fails the e-invoice rules")
    assert "BR-CO-26" in refused.value.message
    assert "set one on legal entity Ledgerline GmbH" in refused.value.message
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("draft", None)
    assert ErrorLog.objects.get(primary_id=draft.pk).code == "einvoice_invalid"
    assert SequencePolicy.objects.get(name="Invoices EUR").next_value in (None, 1)

    # Fixed, it posts, and takes the first number: none was used up.
    LegalEntity.objects.filter(pk=eu.seller.pk).update(vat_id="DE136695976")
    posted = invoice_post(invoice_id=draft.pk)
    assert (posted.status, posted.number) == ("posted", "RE-EUR-00001")


def test_generating_posted_invoices_leaves_the_failing_one_draft(eu):
    Account.objects.filter(pk=eu.berlin.pk).update(einvoice_required=True, buyer_reference="")
    activate(eu.berlin, [item(eu.seat)])
    activate(eu.paris, [item(eu.seat)])

    result = invoices_generate(
        billing_schedule_ids=None,
        all_schedules=True,
        target_date=d(2026, 1, 1),
        action="posted",
    )

    berlin = Invoice.objects.get(account=eu.berlin)
    paris = Invoice.objects.get(account=eu.paris)
    assert (berlin.status, berlin.number) == ("draft", None)
    assert (paris.status, paris.number) == ("posted", "RE-EUR-00001")
    (failure,) = result.posting_errors
    assert failure["code"] == "einvoice_invalid"
    assert "PEPPOL-EN16931-R003" in failure["message"]


def test_an_account_that_does_not_require_e_invoices_posts_as_before(eu):
    LegalEntity.objects.filter(pk=eu.seller.pk).update(vat_id="", legal_registration_id="")
    activate(eu.berlin, [item(eu.seat)])

    invoice = post_for(eu.berlin, d(2026, 1, 1))

    assert invoice.number == "RE-EUR-00001"


# --- Factur-X -----------------------------------------------------------------------------------


def test_factur_x_embeds_the_generated_xml_and_is_still_the_same_invoice(posted, tmp_path):
    cii = einvoice_render(posted, FORMATS["cii"]).content
    pdf = einvoice_render(posted, FORMATS["facturx"]).content

    filename, extracted = get_xml_from_pdf(pdf, check_xsd=True)

    assert filename == "factur-x.xml"
    assert extracted == cii
    # The same invoice to the eye: page 1 rendered to PNG, and its text that of the PDF.
    (tmp_path / "fx.pdf").write_bytes(pdf)
    (tmp_path / "plain.pdf").write_bytes(render_invoice_pdf(posted))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "fx.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    png = next(tmp_path.glob("page*.png")).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    texts = [
        subprocess.run(
            ["pdftotext", "-layout", name, "-"], cwd=tmp_path, check=True, capture_output=True
        ).stdout.decode()
        for name in ("fx.pdf", "plain.pdf")
    ]
    assert texts[0] == texts[1]
    assert "RE-EUR-00001" in texts[0] and "178.14" in texts[0]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="never: poppler is required")
def test_poppler_is_installed():
    assert shutil.which("pdftotext")
