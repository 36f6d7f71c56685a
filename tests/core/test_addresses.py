"""Postal addresses in their country's order (core.addresses): the one function every
document and page prints addresses through."""

import pytest

from accounts.models import Address
from core.addresses import address_lines, country_name

SF = {"line1": "500 Howard St", "city": "San Francisco", "region": "CA", "postal_code": "94103"}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            {**SF, "country": "US"},
            ("500 Howard St", "San Francisco, CA 94103"),
        ),
        (
            {"line1": "1 Yonge St", "city": "Toronto", "region": "ON", "postal_code": "M5E 1W7",
             "country": "CA"},
            ("1 Yonge St", "Toronto, ON M5E 1W7", "Canada"),
        ),
        (
            {"line1": "1 George St", "city": "Sydney", "region": "NSW", "postal_code": "2000",
             "country": "AU"},
            ("1 George St", "Sydney, NSW 2000", "Australia"),
        ),
        (
            {"line1": "10 Downing Street", "city": "London", "postal_code": "SW1A 2AA",
             "country": "GB"},
            ("10 Downing Street", "London", "SW1A 2AA", "United Kingdom"),
        ),
        (
            {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
             "country": "DE"},
            ("Unter den Linden 1", "10117 Berlin", "Germany"),
        ),
        (
            {"line1": "8 rue de Rivoli", "city": "Paris", "postal_code": "75004", "country": "FR"},
            ("8 rue de Rivoli", "75004 Paris", "France"),
        ),
        (
            {"line1": "Damrak 1", "city": "Amsterdam", "postal_code": "1012 LG", "country": "NL"},
            ("Damrak 1", "1012 LG Amsterdam", "Netherlands"),
        ),
        (
            {"line1": "Via del Corso 1", "city": "Roma", "region": "RM", "postal_code": "00186",
             "country": "IT"},
            ("Via del Corso 1", "00186 Roma RM", "Italy"),
        ),
        (
            {"line1": "1 Queen St", "city": "Auckland", "postal_code": "1010", "country": "NZ"},
            ("1 Queen St", "Auckland 1010", "New Zealand"),
        ),
    ],
)  # fmt: skip
def test_each_country_writes_town_region_and_postcode_in_its_order(address, expected):
    assert address_lines(**address, home_country="US") == expected


def test_the_country_is_named_only_abroad_and_by_its_name():
    german = {"city": "Berlin", "postal_code": "10117", "country": "DE"}

    assert address_lines(**german, home_country="DE") == ("10117 Berlin",)
    assert address_lines(**german, home_country="us") == ("10117 Berlin", "Germany")
    assert address_lines(**german) == ("10117 Berlin", "Germany")  # no home: always named
    assert country_name("gb") == "United Kingdom"
    assert country_name("") == ""


def test_name_first_and_empty_parts_left_out():
    assert address_lines(
        name="Acme Corp", city="Austin", region="TX", country="US", home_country="US"
    ) == (
        "Acme Corp",
        "Austin, TX",
    )
    assert address_lines(city="London", country="GB", home_country="GB") == ("London",)
    assert address_lines() == ()


@pytest.mark.django_db
def test_a_stored_address_prints_through_the_same_function():
    address = Address.objects.create(**SF, country="US")

    assert str(address) == "500 Howard St, San Francisco, CA 94103, United States"
    assert address.lines(home_country="US") == ["500 Howard St", "San Francisco, CA 94103"]
