"""Rate limits: the API's (REST framework throttles) and the sign-in forms'.

- API requests per client address (scope `address`), whoever sends them and whether their
  credentials are good or not: `ApiAddressThrottleMiddleware`, before anything authenticates
  (so guessing tokens is limited too; the REST framework checks its throttles only after
  authentication and permissions, which refuse a bad token or a missing role first).
- API requests per signed-in user (scope `user`): `UserRateThrottle`, the REST framework's
  default throttle class (config/settings/base.py).
- Over either limit: 429 `throttled` in the one error shape, with a Retry-After header.
- Sign-in: `LoginThrottleMiddleware` counts the POSTs to the staff UI's and the Django admin's
  login forms per client address and user name (scope `login`) and per client address
  (scope `login_ip`); over either limit it answers 429 before the password is checked.

The rates are settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment; see
config/settings/base.py), read when a request comes, so a changed setting applies at once.
The counts live in Django's cache: with several server processes it must be a shared one
(CACHE_URL, e.g. Redis), or each process counts alone.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from rest_framework import throttling
from rest_framework.settings import api_settings

from core.api import api_error, is_api_path

LOGIN_VIEWS = frozenset({"web:login", "admin:login"})


class _RateFromSettings:
    """The rate of the scope as the settings say now (the REST framework reads them once, at
    import)."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserRateThrottle(_RateFromSettings, throttling.UserRateThrottle):
    """Requests per signed-in user (anonymous requests: per client address)."""


class AddressRateThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """API requests per client address, authenticated or not."""

    scope = "address"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiAddressThrottleMiddleware:
    """429 for an /api/ request over the `address` rate (module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path_info):
            throttle = AddressRateThrottle()
            if not throttle.allow_request(request, None):
                wait = int(throttle.wait() or 1) + 1
                response = api_error(
                    429,
                    "throttled",
                    f"Too many requests from this address. Expected available in {wait} seconds.",
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)


class LoginRateThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Sign-in attempts per client address and user name."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        username = str(request.POST.get("username", ""))[:150].lower()
        return self.cache_format % {
            "scope": self.scope,
            "ident": f"{self.get_ident(request)}:{username}",
        }


class LoginAddressRateThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Sign-in attempts per client address, whatever the user name."""

    scope = "login_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottleMiddleware:
    """429 for a POST to a login form over the `login` or `login_ip` rate (module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and _is_login(request):
            for throttle in (LoginRateThrottle(), LoginAddressRateThrottle()):
                if not throttle.allow_request(request, None):
                    return _too_many_attempts(request, int(throttle.wait() or 1) + 1)
        return self.get_response(request)


def _is_login(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in LOGIN_VIEWS


def _too_many_attempts(request: HttpRequest, wait: int) -> HttpResponse:
    message = (
        f"Too many sign-in attempts from this address. Wait {wait} seconds before trying again."
    )
    response = HttpResponse(
        render_to_string("429.html", {"message": message}, request=request), status=429
    )
    response["Retry-After"] = str(wait)
    return response
