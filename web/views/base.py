"""What every page and action of the staff UI shares: login, role, pagination, and the one
way an action calls its service and reports the service's own error message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from core.exceptions import DomainError, ValidationError
from core.text import posted_text_refusal
from web.roles import Role, require_act

PAGE_SIZE = 50


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    """The requested page of a queryset (a bad or out-of-range page number gives the nearest
    page, never an error)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def filtered_page(request: HttpRequest, form, rows: Callable[[dict], Any]):
    """The requested page of a list whose filter form (bound to the query string) is `form`;
    `rows(cleaned_data)` gives the rows. Bad filters list nothing: the page shows their errors
    next to the fields rather than a list that silently ignored them."""
    if not form.is_valid():
        return paginate(request, [])
    return paginate(request, rows(form.cleaned_data))


def get_or_404(get: Callable[..., Any], **kwargs):
    """One record through a `<entity>_get` selector; a missing record is a 404 page."""
    try:
        return get(**kwargs)
    except ObjectDoesNotExist as exc:
        raise Http404(str(exc)) from exc


def call_service(request: HttpRequest, call: Callable[[], Any], *, success: str | None = None):
    """Call one service. A DomainError becomes an error message with the service's own text
    (and None is returned); on success the optional message is shown."""
    try:
        result = call()
    except DomainError as exc:
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result


def form_errors_add(form, exc: ValidationError) -> None:
    """Put a service's validation errors on the form: each path onto its field (`filters.
    currencies` onto `currencies`), whatever matches no field onto the form, named by its
    path. So every error shows at once, next to its field."""
    for path, errors in exc.details.items():
        field = _form_field_for(form, path)
        for error in errors:
            if field is None and path not in ("non_field_errors", "__all__"):
                error = f"{path.replace('_', ' ').capitalize()}: {error}"
            form.add_error(field, error)


def _form_field_for(form, path: str) -> str | None:
    """The field a service error path lands on: the form's own mapping (`field_for`, e.g.
    `lines[1].amount` → `amount_42`) if it has one, else the path or its last part."""
    mapped = form.field_for(path) if hasattr(form, "field_for") else None
    if mapped in form.fields:
        return mapped
    for name in (path, path.rsplit(".", 1)[-1]):
        if name in form.fields:
            return name
    return None


def call_service_form(
    request: HttpRequest, form, call: Callable[[], Any], *, success: str | None = None
):
    """call_service for a form page: a ValidationError of the service lands on the form's
    fields (form_errors_add), any other refusal is an error message. None when refused."""
    try:
        result = call()
    except ValidationError as exc:
        form_errors_add(form, exc)
        return None
    except DomainError as exc:
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result


def actor(request: HttpRequest) -> str:
    """The name services record as the person who acted."""
    return request.user.get_username()


class PageView(LoginRequiredMixin, TemplateView):
    """A page: login required; `role` in the context says which buttons to show. (A user
    without a role never gets here: web.roles.RoleRequiredMiddleware answers 403 first.)"""

    nav = ""  # the nav item this page belongs to
    title = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("role", Role(self.request.user))
        context.setdefault("nav", self.nav)
        context.setdefault("title", self.title)
        return context


class FormPageView(PageView):
    """A page with a form that runs an action on POST. A read-only user gets 403 on POST,
    and on GET too unless `readable` (a page worth reading without its form's action)."""

    readable = False

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and (request.method == "POST" or not self.readable):
            require_act(request.user)
        return super().dispatch(request, *args, **kwargs)


def back_url(request: HttpRequest) -> str:
    """The page the request came from, when it is one of this site's; else the dashboard."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return reverse("web:dashboard")


class ActionView(LoginRequiredMixin, View):
    """A POST-only action: login, then a role check (403 for read-only), then a check of the
    posted text (a value holding a control character is refused with a message naming its
    field, core/text.py, and nothing is done), then `act()`, which calls exactly one service
    and returns where to go next."""

    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            require_act(request.user)
            if request.method == "POST":
                refusal = posted_text_refusal(request.POST)
                if refusal is not None:
                    messages.error(request, refusal)
                    return HttpResponseRedirect(back_url(request))
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        return HttpResponseRedirect(self.act(request, *args, **kwargs))

    def act(self, request, *args, **kwargs) -> str:  # pragma: no cover - abstract
        raise NotImplementedError
