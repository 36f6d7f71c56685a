"""Login, roles, and that a read-only user (in the read_only group) sees every page but no
action: no action button, and a forged POST to any action of the URL conf answers 403 and
changes nothing; a user in no role group (staff or not: deny by default, the rule of
core/permissions.py) sees no page at all. (The walk of every view of the URL conf:
tests/web/test_permission_walk.py.)"""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from billing.models import BillingSchedule, Order
from invoicing.models import Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.generation import invoices_generate
from tests.factories import InvoiceBatchRunFactory, InvoiceSchedulerFactory
from web.roles import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY, Role, require_act

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def things(billed):
    """One of every record an action works on."""
    result = invoices_generate(account_id=billed.account.pk, target_date=d(2026, 2, 15))
    billed.draft = Invoice.objects.get(pk=result.invoice_ids[0])
    billed.run = InvoiceBatchRunFactory(status="completed", stage="done", progress=100)
    billed.scheduler = InvoiceSchedulerFactory(name="Monthly", start_date=d(2026, 1, 1))
    return billed


def actions(t) -> list[tuple[str, list]]:
    """(URL name, arguments) of every action, on real records."""
    inv, run, sch = t.draft.pk, t.run.pk, t.scheduler.pk
    return [
        ("account_generate", [t.account.pk]),
        ("order_activate", [t.order.pk]),
        ("order_generate", [t.order.pk]),
        ("invoice_post", [inv]),
        ("invoice_void", [inv]),
        ("invoice_email", [inv]),
        ("invoice_payment", [inv]),
        ("invoice_credit", [inv]),
        ("invoice_credit_lines", [inv]),
        ("invoice_write_off", [inv]),
        ("invoice_write_off_reverse", [inv]),
        ("receipt_new", [t.account.pk]),
        ("credit_memo_void", [1]),
        ("credit_memo_post", [1]),
        ("credit_memo_new", [t.account.pk]),
        ("invoice_convert_negative_lines", [inv]),
        ("receipt_allocate", [1]),
        ("receipt_refund", [1]),
        ("receipt_unallocate", [1, inv]),
        ("receipt_reverse", [1]),
        ("credit_application_unapply", [1]),
        ("invoice_edit", [inv]),
        ("invoice_adjustment_add", [inv]),
        ("invoice_adjustment_remove", [inv, 1]),
        ("invoice_delete", [inv]),
        ("run_start", []),
        ("run_recover", [run]),
        ("run_draft_to_posted", [run]),
        ("run_send_emails", [run]),
        ("scheduler_new", []),
        ("scheduler_edit", [sch]),
        ("scheduler_run_now", [sch]),
        ("scheduler_status", [sch, "activate"]),
        ("scheduler_status", [sch, "deactivate"]),
        ("scheduler_status", [sch, "cancel"]),
        ("dunning_run", []),
        ("dunning_policy_new", []),
        ("dunning_policy_edit", [1]),
        ("dunning_policy_delete", [1]),
        ("invoice_dispute", [inv]),
        ("invoice_resolve_dispute", [inv]),
    ]


def action_urls(t) -> list[str]:
    return [reverse(f"web:{name}", args=args) for name, args in actions(t)]


def web_post_routes() -> set[str]:
    """URL names of every view of the web UI's URL conf that accepts a POST, but login and
    logout."""
    names = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) != "web":
            continue
        for route in pattern.url_patterns:
            assert isinstance(route, URLPattern)
            view_class = route.callback.view_class
            if hasattr(view_class, "post") and "post" in view_class.http_method_names:
                names.add(route.name)
    return names - {"login", "logout"}


def test_the_action_list_covers_every_post_of_the_url_conf(things):
    assert web_post_routes() == {name for name, _args in actions(things)}


def page_urls(t) -> list[str]:
    return [
        reverse("web:dashboard"),
        reverse("web:account_list"),
        reverse("web:account_detail", args=[t.account.pk]),
        reverse("web:order_list"),
        reverse("web:order_detail", args=[t.order.pk]),
        reverse("web:schedule_list"),
        reverse("web:schedule_detail", args=[t.schedule.pk]),
        reverse("web:invoice_list"),
        reverse("web:invoice_detail", args=[t.draft.pk]),
        reverse("web:invoice_pdf", args=[t.draft.pk]),
        reverse("web:run_list"),
        reverse("web:run_detail", args=[t.run.pk]),
        reverse("web:run_progress", args=[t.run.pk]),
        reverse("web:scheduler_list"),
        reverse("web:scheduler_edit", args=[t.scheduler.pk]),
        reverse("web:error_list"),
        reverse("web:dunning"),
        reverse("web:dunning_policy_list"),
    ]


def snapshot() -> tuple:
    return (
        list(Invoice.objects.order_by("id").values_list("id", "status", "number", "total")),
        list(Order.objects.values_list("id", "status")),
        list(BillingSchedule.objects.values_list("id", "status", "next_billing_date")),
        InvoiceBatchRun.objects.count(),
        list(InvoiceScheduler.objects.values_list("id", "status", "name")),
    )


def test_every_page_needs_a_login(client, things):
    for url in [*page_urls(things), *action_urls(things)]:
        response = client.get(url) if "generate" not in url else client.post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:login") + "?next="), url


def test_login_page_and_login_lands_on_the_dashboard(client, ops_user):
    page = client.get(reverse("web:login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b"csrfmiddlewaretoken" in page.content
    bad = client.post(reverse("web:login"), {"username": "olga", "password": "wrong"})
    assert bad.status_code == 200
    assert b"did not match" in bad.content
    good = client.post(reverse("web:login"), {"username": "olga", "password": "pw-olga"})
    assert good.status_code == 302 and good["Location"] == reverse("web:dashboard")
    assert client.get(reverse("web:dashboard")).status_code == 200


def test_logout_is_a_post(ops):
    response = ops.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert ops.get(reverse("web:dashboard")).status_code == 302


@pytest.fixture
def nostaff_user(db) -> User:
    """Signed in, not staff, in no role group."""
    return User.objects.create_user("noel", password="pw-noel")


def test_roles(admin_user, billing_admin, ops_user, ro_user, nogroup_user, nostaff_user):
    users = [admin_user, billing_admin, ops_user, ro_user, nogroup_user, nostaff_user]
    assert [(Role(u).name, Role(u).label, Role(u).can_act) for u in users] == [
        (BILLING_ADMIN, "Billing admin", True),  # a superuser
        (BILLING_ADMIN, "Billing admin", True),
        (BILLING_OPERATIONS, "Billing operations", True),
        (READ_ONLY, "Read-only", False),
        (None, "", False),  # staff in no role group: no role, no access
        (None, "", False),  # not staff, no role group: no access either
    ]
    for user in users[:3]:
        require_act(user)
    for user in users[3:]:
        with pytest.raises(PermissionDenied):
            require_act(user)


def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def read_only_client(ro_user) -> Client:
    """A read-only user's client (the read_only group)."""
    return _logged_in(ro_user)


@pytest.fixture(params=["ro", "nogroup", "nostaff"])
def no_write_client(request, ro_user, nogroup_user, nostaff_user) -> Client:
    """A client of each user that may not act: the read_only group, staff in no role group,
    and a user neither staff nor in a role group."""
    users = {"ro": ro_user, "nogroup": nogroup_user, "nostaff": nostaff_user}
    return _logged_in(users[request.param])


def test_read_only_user_sees_every_page(read_only_client, things):
    for url in page_urls(things):
        assert read_only_client.get(url).status_code == 200, url


@pytest.mark.parametrize("kind", ["nogroup", "nostaff"])
def test_a_user_without_role_sees_no_page_and_is_told_why(
    kind, nogroup_user, nostaff_user, things, caplog
):
    user = {"nogroup": nogroup_user, "nostaff": nostaff_user}[kind]
    client = _logged_in(user)
    for url in page_urls(things):
        response = client.get(url)
        assert response.status_code == 403, url
    html = response.content.decode()
    assert (
        f"The user {user.username} has no billing role, so it may neither read nor change "
        "anything here." in html
    )
    assert "billing_admin, billing_operations, read_only" in html
    assert 'action="/logout/"' in html  # so that another user can sign in
    # Every refusal is logged as one line, never a traceback.
    refusals = [r for r in caplog.records if r.name == "django.request"]
    assert len(refusals) == len(page_urls(things))
    assert all(r.exc_info is None and r.getMessage().startswith("Forbidden: ") for r in refusals)
    # Signing out (and in again) stays open.
    assert client.post(reverse("web:logout")).status_code == 302


def test_a_refused_action_is_logged_as_one_line(read_only_client, things, caplog):
    url = reverse("web:invoice_post", args=[things.draft.pk])
    response = read_only_client.post(url)
    assert response.status_code == 403
    assert "Your role is read-only" in response.content.decode()
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is None
    assert record.getMessage() == f"Forbidden: {url}"


def test_read_only_user_sees_no_action_button(read_only_client, ops, things):
    pages = {
        reverse("web:account_detail", args=[things.account.pk]): "Generate invoices</button>",
        reverse("web:order_detail", args=[things.order.pk]): "Generate invoices</button>",
        reverse("web:invoice_detail", args=[things.draft.pk]): "Post invoice</button>",
        reverse("web:run_list"): "Start a run</a>",
        reverse("web:scheduler_list"): "Run now</button>",
        reverse("web:scheduler_edit", args=[things.scheduler.pk]): "Save scheduler</button>",
    }
    for url, button in pages.items():
        assert button in ops.get(url).content.decode(), url
        html = read_only_client.get(url).content.decode()
        assert button not in html, url
        assert '<form method="post" action="/' not in html.replace(
            f'<form method="post" action="{reverse("web:logout")}"', ""
        ), url


def test_forged_post_by_a_read_only_user_is_403_and_changes_nothing(no_write_client, things):
    client = no_write_client
    before = snapshot()
    data = {
        "target_date": "2026-12-31",
        "action": "posted",
        "name": "Hacked",
        "status": "active",
        "start_date": "2026-01-01",
        "cadence": "daily",
        "time": "02:00",
        "timezone": "UTC",
        "invoice_status": "posted",
        "amount": "1.00",
        "payment_date": "2026-02-20",
        "invoice_date": "2026-02-01",
        "unit_price": "-5",
        "quantity": "1",
        "save": "1",
    }
    for url in action_urls(things):
        response = client.post(url, data)
        assert response.status_code == 403, url
    assert snapshot() == before


def test_forms_of_actions_are_403_for_read_only_users(no_write_client, things):
    for url in (
        reverse("web:invoice_void", args=[things.draft.pk]),
        reverse("web:invoice_payment", args=[things.draft.pk]),
        reverse("web:invoice_credit", args=[things.draft.pk]),
        reverse("web:invoice_credit_lines", args=[things.draft.pk]),
        reverse("web:invoice_edit", args=[things.draft.pk]),
        reverse("web:run_start"),
        reverse("web:scheduler_new"),
    ):
        assert no_write_client.get(url).status_code == 403, url


def test_actions_refuse_get(ops, things):
    for url in (
        reverse("web:invoice_post", args=[things.draft.pk]),
        reverse("web:account_generate", args=[things.account.pk]),
        reverse("web:run_recover", args=[things.run.pk]),
    ):
        assert ops.get(url).status_code == 405, url


def test_actions_need_the_csrf_token(ops_user, things):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops_user)
    response = client.post(reverse("web:invoice_post", args=[things.draft.pk]))
    assert response.status_code == 403
    assert Invoice.objects.get(pk=things.draft.pk).status == "draft"
