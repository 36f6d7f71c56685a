"""core/cards.py: a card number is found whatever separates its digits, ordinary numbers (phone
numbers, tax ids, IBANs, invoice numbers, masked labels, processor tokens) are not."""

import pytest

from core.cards import card_number_found, cvv_found, luhn_valid

CARDS = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111_1111_1111_1111",
    "4111,1111,1111,1111",
    "4111:1111:1111:1111",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111a1111b1111c1111",  # digits separated by letters
    "4111 - 1111 - 1111 - 1111",
    "Card: 4111111111111111 exp 12/27",  # with the expiry glued on after a space
    "Ref 12 4111 1111 1111 1111",
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express (15)
    "3782 822463 10005",
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
    "30569309025904",  # Diners Club (14)
    "6200000000000005",  # UnionPay
    "4111111111111111110",  # Visa (19)
]

NOT_CARDS = [
    "",
    None,
    "4111 1111 1111 1112",  # fails the Luhn check
    "1234567812345670",  # passes Luhn, but no network issues numbers starting with 1
    "Visa •••• 4242 (12/28)",
    "pm_1NxAbcdef4242",
    "+1 (415) 555-0100 ext 1234",
    "+49 1512 3456789",  # a German mobile number: 13 digits, starts with 4
    "+44 20 7946 0958",
    "US-12-3456789",
    "DE123456789",
    "INV-2026-000050",
    "FR76 3000 6000 0112 3456 7890 189",  # an IBAN whose bank code looks like Diners Club
    "DE89 3704 0044 0532 0130 00",
    "Pay to DE89370400440532013000 by 2026-03-01",
    "PO 2026-0042, line 7",
]


@pytest.mark.parametrize("text", CARDS)
def test_a_card_number_is_found_whatever_separates_its_digits(text):
    assert card_number_found(text)


@pytest.mark.parametrize("text", NOT_CARDS)
def test_ordinary_numbers_are_not_card_numbers(text):
    assert not card_number_found(text)


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert luhn_valid("79927398713")


def test_a_labelled_cvv_is_found():
    assert cvv_found("CVV 123")
    assert cvv_found("security code: 9876")
    assert not cvv_found("Visa •••• 4242")
    assert not cvv_found(None)
