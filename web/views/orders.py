"""Orders: list; detail with items (bundles nested), schedules, activation, generation and a
preview of the invoices of the next periods."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.models import Order, OrderItem
from billing.services.orders import order_activate
from core.exceptions import DomainError
from invoicing import selectors as invoicing_selectors
from invoicing.services.preview import invoices_preview
from web.forms import GenerateForm, OrderFilterForm, PreviewForm
from web.views.accounts import GenerateView
from web.views.base import ActionView, PageView, actor, call_service, filtered_page, get_or_404


class OrderListView(PageView):
    template_name = "web/orders/list.html"
    nav = "orders"
    title = "Orders"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = OrderFilterForm(self.request.GET)
        page = filtered_page(
            self.request,
            form,
            lambda data: billing_selectors.order_list(q=data["q"], status=data["status"]),
        )
        context.update(form=form, page=page)
        return context


def item_tree(items: list[OrderItem]) -> list[tuple[OrderItem, int]]:
    """Items in line order with bundle children right under their parent: (item, depth)."""
    children: dict[int | None, list[OrderItem]] = {}
    ids = {i.pk for i in items}
    for item in items:
        parent = item.parent_item_id if item.parent_item_id in ids else None
        children.setdefault(parent, []).append(item)
    out: list[tuple[OrderItem, int]] = []

    def walk(parent, depth):
        for item in children.get(parent, []):
            out.append((item, depth))
            walk(item.pk, depth + 1)

    walk(None, 0)
    return out


class OrderDetailView(PageView):
    template_name = "web/orders/detail.html"
    nav = "orders"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        order = get_or_404(billing_selectors.order_get, order_id=kwargs["pk"])
        items = billing_selectors.order_item_list_for_order(order=order)
        schedules = billing_selectors.billing_schedule_list_for_order(order=order)
        preview_form = PreviewForm(self.request.GET or None)
        preview, preview_error = None, None
        if order.status == Order.Status.ACTIVATED:
            periods, preview_date = 2, timezone.localdate()
            if preview_form.is_bound and preview_form.is_valid():
                periods = preview_form.cleaned_data["periods"]
                preview_date = preview_form.cleaned_data["preview_date"] or preview_date
            try:
                preview = [
                    (p.invoice, [(line, p.depth[id(line)]) for line in p.lines])
                    for p in invoices_preview(
                        order_id=order.pk, periods=periods, preview_date=preview_date
                    )
                ]
            except DomainError as exc:
                preview_error = exc.message
        context.update(
            title=str(order),
            order=order,
            items=item_tree(items),
            schedules=schedules,
            invoices=invoicing_selectors.invoice_list_for_order(order=order)[:50],
            generate_form=GenerateForm(),
            preview_form=preview_form if preview_form.is_bound else PreviewForm(),
            preview=preview,
            preview_error=preview_error,
        )
        return context


class OrderActivateView(ActionView):
    def act(self, request, pk):
        order = get_object_or_404(Order, pk=pk)
        call_service(
            request,
            lambda: order_activate(order_id=order.pk, activated_by=actor(request)),
            success=f"Order {order} activated: its billing schedules are ready for invoicing.",
        )
        return reverse("web:order_detail", args=[order.pk])


class OrderGenerateView(GenerateView):
    scope = "order_id"
