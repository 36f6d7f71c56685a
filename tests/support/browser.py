"""The browser harness of the staff UI tests: Debian's Chromium, headless, driven by
Playwright against the live server, on the demo data. Each step is screenshotted to
test-output/screenshots/ (look at them).

Chromium must be installed (`make test` installs the `chromium` package where it is
missing): without it these tests fail, they never skip. The fixtures (`browser`, `demo`,
`page`) are made available to tests/web/ by its conftest.
"""

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from accounts.models import Account
from demo.data import demo_load
from web.roles import BILLING_OPERATIONS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(settings.BASE_DIR) / "test-output" / "screenshots"
TODAY = dt.date(2026, 11, 24)
TIMEOUT_MS = 30_000


def orm(fn, *args, **kwargs):
    """Run database code outside Playwright's event loop (Django refuses the ORM in a thread
    with a running loop): in a worker thread, which has its own connection."""
    from django.db import connection

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def browser():
    assert os.path.exists(CHROMIUM), (
        f"{CHROMIUM} is missing: install Debian's chromium package (make test does it)."
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def demo(transactional_db):
    demo_load(today=TODAY)
    user = User.objects.create_user("olga", password="ops-secret-1")
    user.groups.add(Group.objects.get_or_create(name=BILLING_OPERATIONS)[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    return Account.objects.get(external_id="DEMO-006")  # Pinecrest Media Group


@pytest.fixture
def page(demo, live_server, browser):
    """A logged-out browser tab on the live server (the demo data is loaded before the
    browser starts: Django refuses the ORM while Playwright's event loop runs)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page, prefix: str = "") -> None:
    page.goto("/")
    assert page.url.endswith("/login/?next=/")
    shot(page, f"{prefix}01-login")
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill("ops-secret-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Billing operations").is_visible()
    assert page.locator("header .role").inner_text() == "Billing operations"
    shot(page, f"{prefix}02-dashboard")
