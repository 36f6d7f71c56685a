"""Dunning in the staff UI (web/views/dunning.py): the Dunning page (what is due and to whom,
"Send …" behind a confirmation, the run's result), policies (list, new, edit with steps,
errors at their fields, delete), the invoice page's dunning panel (history, next reminder,
Dispute and Resolve); read-only users see everything and change nothing."""

import datetime as dt
import html
import re

import pytest
from django.core import mail
from freezegun import freeze_time

from dunning.models import DunningPolicy, DunningReminder, InvoiceDispute
from invoicing.models import EmailTemplate
from tests.support.confirm import confirmation_of, post_confirmed
from tests.support.dunning import invoice_for
from tests.support.pages import field_error

pytestmark = pytest.mark.django_db
d = dt.date


def text(response) -> str:
    """The page's text, tags dropped and spaces folded (to read sentences across markup)."""
    page = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(page))


@pytest.fixture
def overdue(dw):
    """Acme's invoice INV-0001 (due Jan 31) and Globex's INV-0002 (due Jan 31), Globex opted
    out of bulk email."""
    dw.globex.bulk_email_opt_out = True
    dw.globex.save()
    with freeze_time("2026-01-01 06:00"):
        dw.acme_invoice = invoice_for(dw.account, d(2026, 1, 1))
        dw.globex_invoice = invoice_for(dw.globex, d(2026, 1, 1))
    return dw


# --- the Dunning page and the run ---------------------------------------------------------------


def test_the_page_lists_what_is_due_and_to_whom(overdue, looker):
    with freeze_time("2026-02-07 08:00"):
        page = looker.get("/dunning/")
    assert page.status_code == 200
    body = text(page)
    assert "Due on 2026-02-07 (today)" in body
    assert (
        "INV-0001 Acme Corp 2026-01-31 53.13 USD 7 days after due (2026-02-07) ap@example.com"
        in (body)
    )
    assert "INV-0002 Globex Ltd 2026-01-31 53.13 USD 7 days after due (2026-02-07) Opted out" in (
        body
    )
    assert "No reminder written for 2026-02-07 yet." in body
    assert 'action="/dunning/run"' not in page.content.decode()  # read-only: no button


def test_send_is_confirmed_with_counts_and_recipients_then_shows_the_result(overdue, staff):
    with freeze_time("2026-02-07 08:00"):
        page = staff.get("/dunning/", {"date": "2026-02-07"}).content.decode()
        assert "Send 1 reminder for 2026-02-07…" in page
        asked = staff.post("/dunning/run", {"date": "2026-02-07"})
        assert DunningReminder.objects.count() == 0 and mail.outbox == []
        done = post_confirmed(staff, "/dunning/run", {"date": "2026-02-07"}, follow=True)
        again = staff.post("/dunning/run", {"date": "2026-02-07"})

    question = text(asked)
    assert "Send 1 reminder for 2026-02-07?" in question
    assert (
        "1 reminder email is sent now through the invoice email outbox, for run date 2026-02-07:"
        in question
    )
    assert "INV-0001 (Acme Corp, 53.13 USD) to ap@example.com : 7 days after due (2026-02-07)" in (
        question
    )
    assert "1 reminder recorded as skipped: INV-0002 (Globex Ltd) (opted out of bulk email)." in (
        question
    )
    assert confirmation_of(asked).startswith("2026-02-07 1 1 ")

    assert done.redirect_chain == [("/dunning/?date=2026-02-07", 302)]
    result = text(done)
    assert "Reminders for 2026-02-07: 1 sent, 1 skipped (opted out), 0 failed." in result
    assert "1 sent · 1 skipped (opted out) · 0 failed" in result
    assert list(
        DunningReminder.objects.order_by("invoice_id").values_list(
            "invoice__number", "status", "requested_by"
        )
    ) == [("INV-0001", "sent", "olga"), ("INV-0002", "skipped", "olga")]
    assert len(mail.outbox) == 1

    # Nothing is due any more: the page refuses, and nothing is sent twice.
    assert "No reminder is due on 2026-02-07: nothing to send." in text(again)
    assert len(mail.outbox) == 1


def test_figures_that_changed_since_the_confirmation_send_nothing(overdue, staff):
    with freeze_time("2026-02-07 08:00"):
        figures = confirmation_of(staff.post("/dunning/run", {"date": "2026-02-07"}))
        overdue.globex.bulk_email_opt_out = False
        overdue.globex.save()
        changed = staff.post("/dunning/run", {"date": "2026-02-07", "confirm": figures})
    assert "The figures changed since the confirmation was shown" in changed.content.decode()
    assert "Send 2 reminders for 2026-02-07?" in text(changed)
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


def test_a_date_after_today_is_shown_but_not_sent(overdue, staff):
    with freeze_time("2026-02-06 08:00"):
        page = staff.get("/dunning/", {"date": "2026-02-07"})
        sent = staff.post("/dunning/run", {"date": "2026-02-07"}, follow=True)
    assert "This date is after today" in text(page)
    assert 'action="/dunning/run"' not in page.content.decode()
    assert "2026-02-07 is after today (2026-02-06)" in text(sent)
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


def test_read_only_cannot_run(overdue, looker):
    with freeze_time("2026-02-07 08:00"):
        assert looker.post("/dunning/run", {"date": "2026-02-07"}).status_code == 403
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


def test_a_bad_date_is_shown_at_its_field(dw, looker):
    page = looker.get("/dunning/", {"date": "7 Feb"})
    assert "is not a date" in field_error(page.content.decode(), "date")


# --- policies ---------------------------------------------------------------------------------


def test_policies_are_listed_with_their_steps(dw, looker):
    body = text(looker.get("/dunning/policies/"))
    assert (
        "Standard reminders Ledgerline Demo Inc. Active 3 days before due — built-in reminder "
        "7 days after due — built-in reminder 21 days after due — built-in reminder" in body
    )


def _policy_post(entity, steps, **fields) -> dict:
    data = {
        "name": "Standard",
        "legal_entity": entity.pk,
        "is_active": "on",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        **fields,
    }
    for i, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{i}-{key}"] = value
    return data


def test_a_new_policy_with_its_steps(world, staff):
    template = EmailTemplate.objects.create(name="Final notice", subject="-", body="-")
    form = staff.get("/dunning/policies/new").content.decode()
    assert 'value="-3"' in form and 'value="21"' in form  # suggested steps
    response = staff.post(
        "/dunning/policies/new",
        _policy_post(
            world.seller,
            [
                {"days_after_due": "21", "email_template": str(template.pk)},
                {"days_after_due": "-3"},
                {"days_after_due": ""},  # a blank row adds nothing
                {"days_after_due": "7", "remove": "on"},
            ],
        ),
        follow=True,
    )
    policy = DunningPolicy.objects.get()
    assert response.redirect_chain == [(f"/dunning/policies/{policy.pk}/", 302)]
    assert "Dunning policy 'Standard' saved: steps -3, +21 days from the due date." in text(
        response
    )
    assert [(s.days_after_due, s.email_template_id) for s in policy.steps.all()] == [
        (-3, None),
        (21, template.pk),
    ]


def test_policy_errors_are_shown_at_their_fields_and_nothing_is_written(dw, staff):
    page = staff.post(
        "/dunning/policies/new",
        _policy_post(
            dw.seller,
            [{"days_after_due": "7"}, {"days_after_due": "7"}, {"days_after_due": "999"}],
        ),
    ).content.decode()
    assert field_error(page, "legal_entity") == (
        "Legal entity &#x27;Ledgerline Demo Inc.&#x27; has a dunning policy already "
        "(&#x27;Standard reminders&#x27;): edit that one."
    )
    assert field_error(page, "steps-1-days_after_due") == (
        "Step 1 is 7 days after due already: one step a day."
    )
    assert "999 is out of range" in field_error(page, "steps-2-days_after_due")
    assert DunningPolicy.objects.count() == 1


def test_editing_a_policy_replaces_its_steps(dw, staff):
    url = f"/dunning/policies/{dw.policy.pk}/"
    page = staff.get(url).content.decode()
    assert 'value="-3"' in page and 'value="7"' in page and 'value="21"' in page
    data = _policy_post(
        dw.seller,
        [
            {"days_after_due": "-3"},
            {"days_after_due": "7", "remove": "on"},
            {"days_after_due": "21"},
            {"days_after_due": "45"},
        ],
        name="Firm",
    )
    assert staff.post(url, data).status_code == 302
    dw.policy.refresh_from_db()
    assert dw.policy.name == "Firm"
    assert [s.days_after_due for s in dw.policy.steps.all()] == [-3, 21, 45]


def test_read_only_sees_a_policy_and_cannot_change_it(dw, looker):
    url = f"/dunning/policies/{dw.policy.pk}/"
    page = looker.get(url).content.decode()
    assert "Save policy" not in page and "disabled" in page
    assert looker.get("/dunning/policies/new").status_code == 403
    assert looker.post(url, _policy_post(dw.seller, [], name="x")).status_code == 403
    assert looker.post(f"{url}delete").status_code == 403
    dw.policy.refresh_from_db()
    assert dw.policy.name == "Standard reminders" and dw.policy.steps.count() == 3


def test_a_policy_is_deleted_after_a_confirmation(dw, staff):
    url = f"/dunning/policies/{dw.policy.pk}/delete"
    asked = staff.post(url)
    assert "Delete dunning policy 'Standard reminders'?" in text(asked)
    assert DunningPolicy.objects.count() == 1
    done = post_confirmed(staff, url, follow=True)
    assert "Dunning policy 'Standard reminders' deleted." in text(done)
    assert DunningPolicy.objects.count() == 0


# --- the invoice page -------------------------------------------------------------------------


def test_the_invoice_page_shows_history_next_step_and_dispute_buttons(overdue, staff):
    url = f"/invoices/{overdue.acme_invoice.pk}/"
    with freeze_time("2026-01-28 08:00"):
        post_confirmed(staff, "/dunning/run", {"date": "2026-01-28"})
    with freeze_time("2026-02-01 08:00"):
        page = text(staff.get(url))
    assert "Next reminder: 7 days after due , on 2026-02-07. Policy: Standard reminders" in page
    assert "3 days before due 2026-01-28 ap@example.com" in page
    assert "Mark as disputed" in page

    with freeze_time("2026-02-03 10:00"):
        disputed = staff.post(
            f"/invoices/{overdue.acme_invoice.pk}/dispute",
            {"reason": "Seats billed twice"},
            follow=True,
        )
    assert disputed.redirect_chain == [(f"{url}#dunning", 302)]
    page = text(disputed)
    assert "Invoice INV-0001 is disputed: its reminders are paused." in page
    assert "Disputed since" in page and "by olga: Seats billed twice." in page
    assert "Resolve dispute" in page

    with freeze_time("2026-02-07 08:00"):
        assert text(staff.post("/dunning/run", {"date": "2026-02-07"})).count("INV-0001") == 0
        resolved = staff.post(
            f"/invoices/{overdue.acme_invoice.pk}/resolve-dispute",
            {"resolution": "Billed once"},
            follow=True,
        )
    page = text(resolved)
    assert "The dispute of invoice INV-0001 is resolved: its reminders resume." in page
    assert "Next reminder: 7 days after due , due now (the next run sends it)." in page
    assert "resolved" in page and ": Billed once." in page


def test_dispute_refusals_are_shown_and_change_nothing(overdue, staff):
    url = f"/invoices/{overdue.acme_invoice.pk}/dispute"
    empty = staff.post(url, {"reason": " "}, follow=True)
    assert "reason: Say what the customer disputes" in text(empty)
    resolve = staff.post(f"/invoices/{overdue.acme_invoice.pk}/resolve-dispute", follow=True)
    assert "Invoice INV-0001 has no open dispute to resolve." in text(resolve)
    assert InvoiceDispute.objects.count() == 0


def test_read_only_sees_the_panel_without_buttons_and_cannot_dispute(overdue, looker):
    page = looker.get(f"/invoices/{overdue.acme_invoice.pk}/").content.decode()
    assert "data-dunning-panel" in page
    assert "Mark as disputed" not in page and "Resolve dispute" not in page
    url = f"/invoices/{overdue.acme_invoice.pk}/dispute"
    assert looker.post(url, {"reason": "x"}).status_code == 403
    assert InvoiceDispute.objects.count() == 0


def test_a_step_whose_template_was_deactivated_keeps_it_and_saving_says_so(dw, staff):
    template = EmailTemplate.objects.create(name="Old notice", subject="-", body="-")
    step = dw.policy.steps.get(days_after_due=7)
    step.email_template = template
    step.save()
    EmailTemplate.objects.filter(pk=template.pk).update(is_active=False)
    url = f"/dunning/policies/{dw.policy.pk}/"
    assert f'<option value="{template.pk}" selected>Old notice</option>' in (
        staff.get(url).content.decode()
    )
    page = staff.post(
        url,
        _policy_post(
            dw.seller,
            [
                {"days_after_due": "-3"},
                {"days_after_due": "7", "email_template": str(template.pk)},
                {"days_after_due": "21"},
            ],
            name="Standard reminders",
        ),
    ).content.decode()
    assert field_error(page, "steps-1-email_template") == (
        "Email template &#x27;Old notice&#x27; is inactive: activate it or choose another."
    )
    step.refresh_from_db()
    assert step.email_template_id == template.pk
