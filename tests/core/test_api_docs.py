"""/api/docs/ works offline: Swagger UI's assets come from drf-spectacular-sidecar's static
files (pinned in requirements.txt), never from a CDN."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.templatetags.static import static
from django.test import RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_only_local_assets(admin):
    response = admin.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"'<>]+", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    prefix = static("")
    static_assets = [url for url in assets if url.startswith(prefix)]
    names = {url.rsplit("/", 1)[-1] for url in static_assets}
    assert {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    } <= names
    for url in static_assets:
        path = url.removeprefix(prefix)
        assert finders.find(path), url
        served = serve(RequestFactory().get(url), path, insecure=True)
        assert served.status_code == 200, url
        served.close()
