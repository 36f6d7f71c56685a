"""The project's URLs plus plain Django views (not REST framework views) that fail, under /api/
and elsewhere: for the tests of Django's error handlers (tests/core/test_api_errors.py)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("boom: a secret detail that must not leak")


def missing(request):
    raise Http404("nothing here")


def forbidden(request):
    raise PermissionDenied("not for you")


urlpatterns = [
    path("api/v1/test-plain/boom", boom),
    path("api/v1/test-plain/missing", missing),
    path("api/v1/test-plain/forbidden", forbidden),
    path("test-plain/boom", boom),
    path("test-plain/missing", missing),
    *project_urlpatterns,
]
