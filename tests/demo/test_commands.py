"""The demo commands `make run` uses: load_demo and ensure_demo_staff."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_load_demo_command_prints_what_it_created():
    out = StringIO()
    call_command("load_demo", "--today", "2026-11-24", stdout=out)
    text = out.getvalue()
    assert text.startswith("Demo data ready: ")
    assert text.startswith("Demo data ready: 20 accounts, 23 orders, 28 schedules, ")
    out = StringIO()
    call_command("load_demo", "--today", "2026-11-24", stdout=out)
    assert out.getvalue().strip() == "Demo data already loaded; nothing changed."


def test_ensure_demo_staff_is_idempotent():
    for _ in range(2):
        out = StringIO()
        call_command("ensure_demo_staff", stdout=out)
        assert (
            "Staff login: http://127.0.0.1:8000/  user: admin  password: ledgerline-demo  "
            "(admin: http://127.0.0.1:8000/admin/)" in out.getvalue()
        )
    users = get_user_model().objects.filter(is_superuser=True)
    assert [u.username for u in users] == ["admin"]
    assert users[0].is_staff and users[0].check_password("ledgerline-demo")
