"""Error logs: filtered list; each row links to its record and says how to fix it."""

from __future__ import annotations

from invoicing import selectors
from web.forms import ErrorFilterForm
from web.views.base import PageView, filtered_page


class ErrorListView(PageView):
    template_name = "web/errors/list.html"
    nav = "errors"
    title = "Error logs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = ErrorFilterForm(self.request.GET or {"state": "open"})
        page = filtered_page(
            self.request,
            form,
            lambda data: selectors.error_log_list(
                category=data["category"],
                state=data["state"] or "open",
                code=data["code"],
                run=data["run"],
                q=data["q"],
            ),
        )
        context.update(form=form, page=page)
        return context
