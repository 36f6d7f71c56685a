"""The confirmation step of the staff UI's irreversible and bulk actions, for tests
(web/views/confirm.py): POST the action, check that it answered its confirmation page and
changed nothing, then POST the figures the page asks to confirm."""

import html
import re

CONFIRM = re.compile(r'<input type="hidden" name="confirm" value="([^"]*)">')


def confirmation_of(response) -> str:
    """The figures a confirmation page asks to confirm (its hidden `confirm` field)."""
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    found = CONFIRM.search(page)
    assert found, "not a confirmation page (or one that refuses: no confirm button)"
    return html.unescape(found.group(1))


def post_confirmed(client, url: str, data: dict | None = None, **kwargs):
    """POST `data` to the action, which must answer its confirmation page; then POST it again
    with the page's `confirm` value. Returns the second response (`kwargs`: e.g.
    follow=True)."""
    data = dict(data or {})
    figures = confirmation_of(client.post(url, data))
    return client.post(url, {**data, "confirm": figures}, **kwargs)
