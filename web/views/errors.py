"""Error logs: filtered list; each row links to its record and says how to fix it."""

from __future__ import annotations

from invoicing import selectors
from web.forms import ErrorFilterForm
from web.views.base import PageView, paginate


class ErrorListView(PageView):
    template_name = "web/errors/list.html"
    nav = "errors"
    title = "Error logs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = ErrorFilterForm(self.request.GET or {"state": "open"})
        data = form.cleaned_data if form.is_valid() else {"state": "open"}
        qs = selectors.error_log_list(
            category=data.get("category", ""),
            state=data.get("state") or "open",
            code=data.get("code", ""),
            run=data.get("run"),
            q=data.get("q", ""),
        )
        context.update(form=form, page=paginate(self.request, qs))
        return context
