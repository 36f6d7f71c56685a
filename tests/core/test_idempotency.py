"""Idempotency-Key on POSTs (core/idempotency.py)."""

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import PaymentTerm
from core.idempotency import KEY_TTL, LOCK_TIMEOUT, request_fingerprint
from core.models import IdempotencyKey
from core.permissions import BILLING_ADMIN

URL = "/api/v1/payment-terms/"
BODY = {"name": "Net 45", "kind": "net", "days": 45}

pytestmark = pytest.mark.django_db


def test_same_key_and_body_replays_the_first_response_and_creates_nothing(admin):
    first = admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    second = admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="abc")
    assert second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true"
    assert PaymentTerm.objects.filter(name="Net 45").count() == 1
    # The same JSON with other key order and spacing is the same body.
    third = admin.post(
        URL,
        '{"days": 45,  "kind": "net", "name": "Net 45"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="abc",
    )
    assert third.status_code == 201 and third.content == first.content


def test_same_key_with_another_body_or_path_is_409(admin):
    assert admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    response = admin.post(URL, {**BODY, "days": 46}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert body["details"] == {"key": "k", "first_request": f"POST {URL}"}
    response = admin.post("/api/v1/units-of-measure/", BODY, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    assert PaymentTerm.objects.filter(name="Net 45").count() == 1


def test_keys_belong_to_their_user(admin, token_client):
    other = token_client("other-admin", BILLING_ADMIN)
    assert admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    response = other.post(URL, {**BODY, "name": "Net 46"}, HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201
    assert IdempotencyKey.objects.filter(key="shared").count() == 2


def test_a_validation_error_is_replayed_too(admin):
    first = admin.post(URL, {"name": ""}, HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == 400
    second = admin.post(URL, {"name": ""}, HTTP_IDEMPOTENCY_KEY="bad")
    assert (second.status_code, second.content) == (400, first.content)
    assert second["Idempotent-Replayed"] == "true"


def test_refusals_and_server_errors_are_not_stored(admin, reader):
    assert reader.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="ro").status_code == 403
    assert not IdempotencyKey.objects.filter(key="ro").exists()
    with mock.patch(
        "accounts.api.setup.services.payment_term_create", side_effect=RuntimeError("boom")
    ):
        response = admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="boom")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "boom" not in response.content.decode()  # no stack trace or message leaks
    assert not IdempotencyKey.objects.filter(key="boom").exists()
    # The retry runs.
    assert admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="boom").status_code == 201


def test_without_a_key_or_credentials_nothing_is_stored(admin):
    assert admin.post(URL, BODY).status_code == 201
    assert APIClient().post(URL, BODY, HTTP_IDEMPOTENCY_KEY="anon").status_code == 401
    assert admin.get(URL, HTTP_IDEMPOTENCY_KEY="get").status_code == 200
    assert IdempotencyKey.objects.count() == 0


def test_a_bad_key_is_400(admin):
    response = admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["Idempotency-Key"]
    assert not PaymentTerm.objects.filter(name="Net 45").exists()


def test_keys_expire_after_24_hours(admin):
    assert admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - KEY_TTL - dt.timedelta(seconds=1))
    response = admin.post(URL, {**BODY, "name": "Net 50"}, HTTP_IDEMPOTENCY_KEY="other")
    assert response.status_code == 201
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["other"]  # purged
    # The expired key is free again: a new request with it runs.
    assert (
        admin.post(URL, {**BODY, "name": "Net 60"}, HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    )


def test_a_key_in_progress_is_409_until_it_is_abandoned(admin):
    now = timezone.now()
    row = IdempotencyKey.objects.create(
        user=admin.user,
        key="busy",
        method="POST",
        path=URL,
        request_hash=request_fingerprint(
            b'{"name":"Net 45","kind":"net","days":45}', "application/json"
        ),
        created_at=now,
        locked_at=now,
    )
    response = admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert not PaymentTerm.objects.filter(name="Net 45").exists()
    IdempotencyKey.objects.filter(pk=row.pk).update(
        locked_at=now - LOCK_TIMEOUT - dt.timedelta(seconds=1)
    )
    assert admin.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="busy").status_code == 201
    assert IdempotencyKey.objects.get(pk=row.pk).response_status == 201


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_with_one_key_run_once(token_client):
    """The second request arrives while the first is inside its view: it must not run."""
    first_client = token_client("racer", BILLING_ADMIN)
    second_client = APIClient()
    second_client.credentials(HTTP_AUTHORIZATION=first_client._credentials["HTTP_AUTHORIZATION"])
    second_client.default_format = "json"
    real = services.payment_term_create
    inside, release = threading.Event(), threading.Event()

    def slow_create(**data):
        inside.set()
        assert release.wait(20)
        return real(**data)

    results = {}

    def run_first():
        try:
            results["first"] = first_client.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="race")
        finally:
            connection.close()

    with mock.patch("accounts.api.setup.services.payment_term_create", side_effect=slow_create):
        thread = threading.Thread(target=run_first)
        thread.start()
        assert inside.wait(20)
        second = second_client.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="race")
        release.set()
        thread.join(30)
    assert results["first"].status_code == 201
    assert second.status_code == 409
    assert second.json()["code"] == "idempotency_key_in_progress"
    assert PaymentTerm.objects.filter(name="Net 45").count() == 1
    # Once the first finished, a retry receives its response.
    third = second_client.post(URL, BODY, HTTP_IDEMPOTENCY_KEY="race")
    assert (third.status_code, third.content) == (201, results["first"].content)
