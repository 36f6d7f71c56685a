from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api_urls import other_slash_form
from core.api import api_not_found
from core.permissions import RolePermission

# The schema and its docs page are for users with a role (token or staff session), like the API
# they describe: anonymous 401, no role 403.
_schema_access = {"permission_classes": [RolePermission]}
api_docs = [
    path("api/schema/", SpectacularAPIView.as_view(**_schema_access), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", **_schema_access),
        name="api-docs",
    ),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    *(other_slash_form(route) for route in api_docs),  # first: reverse() takes the last
    *api_docs,
    # Nothing else is under /api/: a JSON 404 (with DEBUG on too), never an HTML page.
    re_path(r"^api(?:/|$)", api_not_found),
    path("", include("portal.urls")),  # customers' hosted document pages: /d/<token>/
    path("", include("web.urls")),
]

# Errors raised outside the API views: JSON under /api/, Django's pages elsewhere (core/api.py).
handler400 = "core.api.bad_request"
handler403 = "core.api.permission_denied"
handler404 = "core.api.page_not_found"
handler500 = "core.api.server_error"
