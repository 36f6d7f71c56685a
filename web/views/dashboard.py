"""Login, logout and the Billing Operations dashboard."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy
from django.utils import timezone

from invoicing import selectors
from web.charts import chart_svg_bars
from web.views.base import PageView


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("web:login")


class DashboardView(PageView):
    template_name = "web/dashboard.html"
    nav = "dashboard"
    title = "Dashboard"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()  # in the site's time zone (settings.TIME_ZONE)
        board = selectors.dashboard_get(today=today)
        now = timezone.now()
        upcoming = []
        for scheduler in board.schedulers:
            times = selectors.scheduler_next_runs(scheduler=scheduler, count=1, after=now)
            upcoming.append((scheduler, times[0] if times else None))
        upcoming.sort(key=lambda pair: (pair[1] is None, pair[1] or now))
        context.update(
            site_zone=timezone.get_current_timezone_name(),
            board=board,
            upcoming=upcoming,
            charts=[(bars, chart_svg_bars(bars)) for bars in board.chart],
        )
        return context
