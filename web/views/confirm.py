"""The confirmation step of the staff UI's irreversible and bulk actions (post, generate
posted, post a run's drafts, send a run's emails, delete a draft, run a scheduler now, recover
a run).

Server-side, so it works without JavaScript and in tests: a POST to the action without a
`confirm` field answers the confirmation page and changes nothing. The page states what the
action will do, with the counts and amounts the action's own selectors give, and its button
posts the same form again with `confirm` set to those figures. When the figures no longer
hold (a draft was edited, a run posted more drafts meanwhile), the page is shown again with
the new figures, still changing nothing; only a confirmation of the current figures acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString

from web.roles import Role
from web.views.base import ActionView

CONFIRM_FIELD = "confirm"


@dataclass
class Confirmation:
    question: str  # the page's heading: "Post invoice for 1,784.08 USD?"
    facts: list[str | SafeString]  # what the action does, one statement each
    button: str  # the confirming button's text
    back: str  # where "Cancel" goes (nothing done)
    figures: str  # the counts and amounts confirmed; an action acts only on these
    refusal: str = ""  # why it cannot be done as things stand: no button then
    danger: bool = False  # a destructive action (delete): the button is red
    carry: list[tuple[str, str]] = field(default_factory=list)  # set by the view


class ConfirmedActionView(ActionView):
    """An action behind a confirmation page. Subclasses give `confirmation()` (computed from
    the same selectors the action's service uses) and `act()`; `needs_confirmation()` may
    let some requests through without one (a generation of drafts)."""

    template_name = "web/confirm.html"
    nav = ""

    def needs_confirmation(self, request, *args, **kwargs) -> bool:
        return True

    def confirmation(self, request, *args, **kwargs) -> Confirmation:  # pragma: no cover
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        if self.needs_confirmation(request, *args, **kwargs):
            confirmation = self.confirmation(request, *args, **kwargs)
            given = request.POST.get(CONFIRM_FIELD)
            if confirmation.refusal or given != confirmation.figures:
                return self.confirmation_page(
                    request, confirmation, changed=given is not None and not confirmation.refusal
                )
        return HttpResponseRedirect(self.act(request, *args, **kwargs))

    def confirmation_page(self, request, confirmation: Confirmation, *, changed: bool):
        """The page (200): the statements, and a form re-posting the request's own fields
        with `confirm` = the figures shown."""
        return confirmation_response(
            request, confirmation, nav=self.nav, changed=changed, template=self.template_name
        )


def confirmation_response(
    request,
    confirmation: Confirmation,
    *,
    nav: str,
    changed: bool,
    template: str = "web/confirm.html",
):
    """A confirmation page (200) for any view: the statements, and a form re-posting the
    request's own fields with `confirm` = the figures shown."""
    confirmation.carry = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", CONFIRM_FIELD)
        for value in values
    ]
    context = {
        "role": Role(request.user),
        "nav": nav,
        "title": confirmation.question,
        "confirmation": confirmation,
        "changed": changed,
        "action_url": request.get_full_path(),
        "confirm_field": CONFIRM_FIELD,
    }
    return TemplateResponse(request, template, context)
