"""core/throttling.py: API rate limits per user and per client address (whatever its
credentials), and sign-in attempts per address and user name; over a limit, 429 with
Retry-After (the API in the one error shape). The rates are settings."""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.permissions import READ_ONLY

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "address": "1000/min",
                "user": "1000/min",
                "login": "1000/min",
                "login_ip": "1000/min",
                **rates,
            },
        }

    cache.clear()
    yield set_rates
    cache.clear()


def test_a_user_over_its_rate_gets_429_in_the_error_shape(rates, token_client):
    rates(user="3/min")
    reader = token_client("reader", READ_ONLY)
    other = token_client("other", READ_ONLY)
    assert [reader.get("/api/v1/accounts/").status_code for _ in range(3)] == [200] * 3
    response = reader.get("/api/v1/accounts/")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert body["message"].startswith("Request was throttled. Expected available in ")
    assert body["details"] == {}
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another user has a rate of its own.
    assert other.get("/api/v1/accounts/").status_code == 200


def test_every_request_of_an_address_counts_whatever_its_credentials(rates, token_client):
    rates(address="3/min")
    anonymous, guesser = APIClient(), APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert anonymous.get("/api/v1/accounts/").status_code == 401
    assert guesser.get("/api/v1/accounts/").status_code == 401
    assert guesser.get("/api/v1/accounts/").status_code == 401
    for client in (anonymous, guesser, token_client("reader", READ_ONLY)):
        response = client.get("/api/v1/accounts/")
        assert response.status_code == 429
        assert response.json() == {
            "code": "throttled",
            "message": response.json()["message"],
            "details": {},
        }
        assert response.json()["message"].startswith("Too many requests from this address.")
        assert int(response["Retry-After"]) >= 1


def test_a_forged_forwarded_for_header_does_not_escape_the_address_rate(rates):
    rates(address="2/min")
    client = APIClient()
    statuses = [
        client.get("/api/v1/accounts/", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_the_default_rates_are_generous():
    from config.settings import base

    rates = base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {
        "address": "6000/min",
        "user": "3000/min",
        "login": "10/min",
        "login_ip": "100/min",
    }
    assert base.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == ["core.throttling.UserRateThrottle"]
    assert "core.throttling.ApiAddressThrottleMiddleware" in base.MIDDLEWARE


@pytest.mark.parametrize("login", ["web:login", "admin:login"])
def test_sign_in_attempts_are_limited_before_the_password_is_checked(rates, login):
    rates(login="3/min")
    User.objects.create_user("olga", password="right", is_staff=True)
    client = Client()
    url = reverse(login)
    for _ in range(3):
        assert client.post(url, {"username": "olga", "password": "wrong"}).status_code == 200
    response = client.post(url, {"username": "olga", "password": "right"})
    assert response.status_code == 429
    assert "Too many sign-in attempts from this address. Wait" in response.content.decode()
    assert 1 <= int(response["Retry-After"]) <= 61
    assert "_auth_user_id" not in client.session  # not signed in
    # Another user name from the same address may still sign in.
    User.objects.create_user("rita", password="pw", is_staff=True)
    assert client.post(url, {"username": "rita", "password": "pw"}).status_code == 302


def test_sign_in_attempts_per_address_whatever_the_user_name(rates):
    rates(login_ip="2/min")
    client = Client()
    url = reverse("web:login")
    assert client.post(url, {"username": "a", "password": "x"}).status_code == 200
    assert client.post(url, {"username": "b", "password": "x"}).status_code == 200
    assert client.post(url, {"username": "c", "password": "x"}).status_code == 429
    assert client.get(url).status_code == 200  # the page itself is not counted
