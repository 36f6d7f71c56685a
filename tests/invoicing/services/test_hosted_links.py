"""Customer links (invoicing/services/hosted_links.py): a signed token per posted document that
resolves back to it, refuses drafts, rejects any edit, and expires after
LEDGERLINE["HOSTED_LINK_MAX_AGE_DAYS"] days."""

import datetime as dt

import pytest
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from freezegun import freeze_time

from invoicing.exceptions import HostedLinkExpired, HostedLinkInvalid, HostedLinkUnavailable
from invoicing.models import SequencePolicy
from invoicing.services.hosted_links import (
    SALT,
    hosted_document_resolve,
    hosted_link,
    hosted_link_available,
    hosted_link_token,
    hosted_link_url,
)
from invoicing.services.memos import debit_memo_create
from invoicing.services.void import invoice_void
from tests.support.invoicing import generate

pytestmark = pytest.mark.django_db
d = dt.date

MADE = "2026-01-20 10:00:00"


def ledgerline(settings, **values) -> None:
    settings.LEDGERLINE = {**settings.LEDGERLINE, **values}


def test_a_posted_invoice_round_trips(lw):
    invoice = generate(lw, d(2026, 1, 15))
    token = hosted_link_token(invoice)

    assert hosted_document_resolve(token) == invoice
    payload = signing.loads(token, salt=SALT)
    assert payload == ["invoice", invoice.pk, "INV-0001"]
    url = hosted_link_url(invoice)
    assert url.startswith("http://127.0.0.1:8000/d/") and url.endswith("/")
    assert hosted_document_resolve(url.removeprefix("http://127.0.0.1:8000/d/")[:-1]) == invoice


def test_the_public_base_url_and_the_expiry_come_from_the_settings(lw, settings):
    ledgerline(
        settings, PUBLIC_BASE_URL="https://billing.example.com/", HOSTED_LINK_MAX_AGE_DAYS=30
    )
    invoice = generate(lw, d(2026, 1, 15))
    with freeze_time(MADE):
        link = hosted_link(invoice)
    assert link.url == f"https://billing.example.com/d/{link.token}/"
    assert link.expires_at == dt.datetime(2026, 2, 19, 10, 0, tzinfo=dt.UTC)


def test_an_edited_or_foreign_token_opens_nothing(lw):
    invoice = generate(lw, d(2026, 1, 15))
    token = hosted_link_token(invoice)
    signed_value, _, signature = token.rpartition(":")
    edited_signature = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_id = signing.dumps(["invoice", invoice.pk + 1, "INV-0001"], salt="another.salt")

    for bad in (
        f"{signed_value}:{edited_signature}",  # tampered signature
        token[1:],  # truncated
        other_id,  # signed, but not as a customer link
        signing.dumps(["invoice", invoice.pk], salt=SALT),  # not a link's payload
        signing.dumps(["order", invoice.pk, "INV-0001"], salt=SALT),  # not a document kind
        signing.dumps(["invoice", invoice.pk, "INV-0002"], salt=SALT),  # another number
        signing.dumps(["invoice", 999_999, "INV-0001"], salt=SALT),  # no such invoice
        "",
        "not-a-token",
    ):
        with pytest.raises(HostedLinkInvalid) as caught:
            hosted_document_resolve(bad)
        assert (caught.value.code, caught.value.status_code) == ("hosted_link_invalid", 404)
        assert caught.value.message == "This link is not valid."


def test_a_link_expires_after_the_max_age(lw, settings):
    invoice = generate(lw, d(2026, 1, 15))
    with freeze_time(MADE):
        token = hosted_link_token(invoice)
    with freeze_time("2026-04-20 09:59:59"):  # 90 days later, less a second
        assert hosted_document_resolve(token) == invoice
    with freeze_time("2026-04-20 10:00:01"), pytest.raises(HostedLinkExpired) as caught:
        hosted_document_resolve(token)
    error = caught.value
    assert (error.code, error.status_code) == ("hosted_link_expired", 410)
    assert error.message == (
        "This link has expired: links to documents open for 90 days. Ask the seller for a new link."
    )
    assert error.details == {
        "max_age_days": 90,
        "document": "invoice",
        "label": "invoice",
        "number": "INV-0001",
        "seller": "Ledgerline Demo Inc.",
        "seller_email": "",
    }

    # A shorter setting applies to links already made.
    ledgerline(settings, HOSTED_LINK_MAX_AGE_DAYS=7)
    with freeze_time("2026-01-27 10:00:01"), pytest.raises(HostedLinkExpired):
        hosted_document_resolve(token)


def test_a_draft_gets_no_link(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")

    assert hosted_link_available(draft) is False
    with pytest.raises(HostedLinkUnavailable) as caught:
        hosted_link_token(draft)
    assert caught.value.code == "hosted_link_unavailable"
    assert caught.value.message == (
        f"Draft invoice #{draft.pk} is draft: only a posted invoice has a customer link. "
        "Post the invoice first."
    )
    assert caught.value.details == {"document": "invoice", "id": draft.pk, "status": "draft"}

    # A link forged for a draft (as if signed) opens nothing either.
    with pytest.raises(HostedLinkInvalid):
        hosted_document_resolve(signing.dumps(["invoice", draft.pk, ""], salt=SALT))


def test_a_void_keeps_the_link_working_and_the_credit_memo_gets_its_own(lw):
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=3
    )
    invoice = generate(lw, d(2026, 1, 15))
    token = hosted_link_token(invoice)

    memo = invoice_void(invoice_id=invoice.pk, void_date=d(2026, 1, 20)).credit_memo

    resolved = hosted_document_resolve(token)
    assert (resolved.pk, resolved.status) == (invoice.pk, "voided")
    memo_token = hosted_link_token(memo)
    assert signing.loads(memo_token, salt=SALT) == ["credit_memo", memo.pk, "CM-001"]
    assert hosted_document_resolve(memo_token) == memo


def test_debit_memos_get_a_link_once_posted(lw):
    line = [{"name": "Late fee", "unit_price": "25.00"}]
    draft = debit_memo_create(account_id=lw.account.pk, memo_date=d(2026, 1, 10), lines=line)
    posted = debit_memo_create(
        account_id=lw.account.pk, memo_date=d(2026, 1, 10), lines=line, post=True
    )

    with pytest.raises(HostedLinkUnavailable) as caught:
        hosted_link_token(draft)
    assert caught.value.message == (
        f"Debit memo #{draft.pk} is draft: only a posted debit memo has a customer link. "
        "Post the debit memo first."
    )
    token = hosted_link_token(posted)
    assert signing.loads(token, salt=SALT) == ["debit_memo", posted.pk, ""]
    assert hosted_document_resolve(token) == posted
    # The kind is part of what is signed: the memo's id as an invoice opens nothing.
    with pytest.raises(HostedLinkInvalid):
        hosted_document_resolve(signing.dumps(["invoice", posted.pk, ""], salt=SALT))


def test_links_survive_a_key_rotation_only_while_the_old_key_is_a_fallback(lw, settings):
    invoice = generate(lw, d(2026, 1, 15))
    token = hosted_link_token(invoice)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "a-brand-new-secret-key-for-ledgerline-0123456789"
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert hosted_document_resolve(token) == invoice

    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(HostedLinkInvalid):
        hosted_document_resolve(token)


@pytest.mark.parametrize("days", [0, -3, "90", None])
def test_a_bad_max_age_setting_is_named(lw, settings, days):
    invoice = generate(lw, d(2026, 1, 15))
    ledgerline(settings, HOSTED_LINK_MAX_AGE_DAYS=days)
    with pytest.raises(ImproperlyConfigured) as caught:
        hosted_link(invoice)
    assert str(caught.value) == (
        f'LEDGERLINE["HOSTED_LINK_MAX_AGE_DAYS"] is {days!r}: give a whole number of days, '
        "1 or more (environment variable LEDGERLINE_HOSTED_LINK_MAX_AGE_DAYS)."
    )
