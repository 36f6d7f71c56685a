"""Every /api/v1/ route: one urls module per app, and each route in its other slash form.

The slash rule (../shared/API.md, docs/api.md): a collection ends with a slash
(`invoices/`), an item and an action do not (`invoices/12`, `invoices/12/post`,
`invoices/generate`). The apps' urls modules write every route that way, under its name and
in the schema. The other form (`invoices`, `invoices/12/`, `invoices/12/post/`) answers the
same request the same way (not a redirect, which a client may follow with another method): the
same view under the same name (so the permission a route name declares applies to both
forms), listed first so that `reverse()` (which takes the last route of a name) gives the form
written in the contract; it is left out of the schema.
"""

from django.urls import URLPattern, path
from django.urls.resolvers import RoutePattern

from accounts.api import urls as accounts_urls
from billing.api import urls as billing_urls
from dunning.api import urls as dunning_urls
from einvoicing.api import urls as einvoicing_urls
from invoicing.api import urls as invoicing_urls


def other_slash_form(pattern: URLPattern) -> URLPattern:
    """The route with the other slash form, answered by the same view under the same name. The
    view is wrapped in a plain function (no `cls`) so that the schema generator leaves the
    route out."""
    route = str(pattern.pattern)
    other = route[:-1] if route.endswith("/") else f"{route}/"
    view = pattern.callback

    def same_view(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    same_view.csrf_exempt = True  # as the DRF view it calls (which checks CSRF itself)
    same_view.__doc__ = f"{route}, written {other}"
    return path(other, same_view, pattern.default_args, name=pattern.name)


routes: list[URLPattern] = [
    *accounts_urls.urlpatterns,
    *billing_urls.urlpatterns,
    *invoicing_urls.urlpatterns,
    *dunning_urls.urlpatterns,
    *einvoicing_urls.urlpatterns,
]

# The other forms first: of two routes with one name, reverse() gives the last.
urlpatterns = [
    *(other_slash_form(r) for r in routes if isinstance(r.pattern, RoutePattern)),
    *routes,
]
