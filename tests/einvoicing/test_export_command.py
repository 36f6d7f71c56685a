"""`manage.py export_einvoices`: every posted invoice and credit memo dated in the range,
written into the directory under the service's file names; failures named with their rule
ids and a non-zero exit; bad options refused naming the option."""

import datetime as dt
import logging
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from lxml import etree

from accounts.models import Account, LegalEntity
from invoicing.services.credits import invoice_credit
from invoicing.services.generation import invoices_generate
from tests.support.einvoice import eu_account, item, post_for
from tests.support.generation import activate

d = dt.date
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


@pytest.fixture
def documents(eu):
    """Posted: Spree's January and February (RE-EUR-00001, -00002), Seine's January
    (RE-EUR-00003), a credit memo of one January seat on 10 Jan (GS-00001); Seine's February
    a draft."""
    activate(eu.berlin, [item(eu.seat, quantity=D("3"), unit_price=D("49.90"))])
    activate(eu.paris, [item(eu.seat, quantity=D("2"), unit_price=D("250.00"))])
    january = post_for(eu.berlin, d(2026, 1, 1))
    post_for(eu.berlin, d(2026, 2, 1))
    post_for(eu.paris, d(2026, 1, 1))
    invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.lines.get().pk, "quantity": "1"}],
        credit_date=d(2026, 1, 10),
    )
    invoices_generate(account_id=eu.paris.pk, target_date=d(2026, 2, 1), action="draft")
    return eu


def export(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("export_einvoices", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def files(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_january_in_ubl(documents, tmp_path):
    out, err = export("--since", "2026-01-01", "--until", "2026-01-31", "--format", "ubl",
                      "--out", str(tmp_path / "jan"))  # fmt: skip

    written = files(tmp_path / "jan")
    assert list(written) == ["GS-00001-ubl.xml", "RE-EUR-00001-ubl.xml", "RE-EUR-00003-ubl.xml"]
    for name, content in written.items():
        assert etree.fromstring(content).findtext(f"{CBC}ID") == name.removesuffix("-ubl.xml")
    size = sum(len(c) for c in written.values())
    assert out == (
        f"Exported 2 invoice(s) and 1 credit memo(s) dated 2026-01-01 to 2026-01-31 into "
        f"{tmp_path / 'jan'}: {size:,} bytes (ubl 3).\n"
    )
    assert err == ""


def test_each_accounts_preferred_format_when_none_is_given_and_validated(
    documents, tmp_path, caplog
):
    Account.objects.filter(pk=documents.paris.pk).update(einvoice_format="facturx")
    Account.objects.filter(pk=documents.berlin.pk).update(einvoice_format="xrechnung")

    with caplog.at_level(logging.INFO):
        out, _ = export("--since", "2026-01-01", "--out", str(tmp_path), "--validate")

    assert list(files(tmp_path)) == [
        "GS-00001-xrechnung.xml",
        "RE-EUR-00001-xrechnung.xml",
        "RE-EUR-00002-xrechnung.xml",
        "RE-EUR-00003.pdf",
    ]
    assert files(tmp_path)["RE-EUR-00003.pdf"].startswith(b"%PDF-")
    assert "Exported 3 invoice(s) and 1 credit memo(s) dated 2026-01-01 to any time" in out
    assert "(facturx 1, xrechnung 3); each checked against the rules first." in out
    # factur-x's two INFO lines per PDF stay out of a bulk export's output.
    assert [r.getMessage() for r in caplog.records if r.name == "factur-x"] == []


def test_a_document_failing_the_rules_is_not_written_and_the_exit_code_says_so(documents, tmp_path):
    LegalEntity.objects.filter(pk=documents.seller.pk).update(
        vat_id="", tax_id="", legal_registration_id=""
    )
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"^3 document\(s\) could not be exported"):
        call_command("export_einvoices", "--until", "2026-01-31", "--out", str(tmp_path),
                     "--format", "cii", "--validate", stdout=out, stderr=err)  # fmt: skip

    assert list(tmp_path.iterdir()) == []
    assert "invoice RE-EUR-00001 (id " in err.getvalue()
    assert "fails the rules (BR-CO-26" in err.getvalue()
    assert "Exported 0 invoice(s) and 0 credit memo(s)" in out.getvalue()
    assert "; 3 failed (" in out.getvalue()
    assert "BR-CO-26 ×3" in out.getvalue()


def test_without_validate_a_document_en16931_cannot_express_fails_alone(documents, tmp_path):
    manama = eu_account(
        documents.seller, "Manama WLL", country="BH", city="Manama", postal_code="317",
        currency="BHD", buyer_reference="BH-1", endpoint_id="ap@manama.example",
        endpoint_scheme="EM",
    )  # fmt: skip
    activate(manama, [item(documents.seat, quantity=D("1"), unit_price=D("10.125"))])
    bhd = post_for(manama, d(2026, 1, 1))
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"^1 document\(s\) could not be exported"):
        call_command("export_einvoices", "--since", "2026-01-01", "--until", "2026-01-31",
                     "--out", str(tmp_path), stdout=out, stderr=err)  # fmt: skip

    assert list(files(tmp_path)) == [
        "GS-00001-ubl.xml",
        "RE-EUR-00001-ubl.xml",
        "RE-EUR-00003-ubl.xml",
    ]
    assert err.getvalue().startswith(f"invoice {bhd.number} (id {bhd.pk}): [LL-DEC] ")
    assert "Exported 2 invoice(s) and 1 credit memo(s)" in out.getvalue()
    assert out.getvalue().endswith("; 1 failed (LL-DEC ×1).\n")


def test_the_exit_code_is_1_on_a_failure(documents, tmp_path, capsys):
    LegalEntity.objects.filter(pk=documents.seller.pk).update(
        vat_id="", tax_id="", legal_registration_id=""
    )
    utility = ManagementUtility(
        ["manage.py", "export_einvoices", "--out", str(tmp_path), "--validate"]
    )

    with pytest.raises(SystemExit) as exit_:
        utility.execute()

    assert exit_.value.code == 1
    assert "CommandError: 4 document(s) could not be exported" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_nothing_in_the_range(documents, tmp_path):
    out, _ = export("--since", "2027-01-01", "--out", str(tmp_path))

    assert out == (
        "No posted invoices or credit memos dated 2027-01-01 to any time: nothing written.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "--since: '2026-13-01' is not a date: write it as YYYY-MM-DD"),
        (["--until", "31.01.2026"], "--until: '31.01.2026' is not a date"),
        (
            ["--since", "2026-02-01", "--until", "2026-01-01"],
            "--since 2026-02-01 is after --until 2026-01-01",
        ),
        (["--format", "pdf"], "--format: 'pdf' is not an e-invoice format: use one of ubl"),
    ],
)
def test_bad_options_name_the_option(documents, tmp_path, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(".", r"\.")):
        export(*args, "--out", str(tmp_path / "out"))

    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_out_must_be_a_directory(documents, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")

    with pytest.raises(CommandError, match="--out: .*file.txt is a file, not a directory"):
        export("--out", str(a_file))
    with pytest.raises(CommandError, match="--out"):
        export()
