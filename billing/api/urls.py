"""Every billing route of /api/v1/, by resource family (one module per family)."""

from django.urls import path

from billing.api import orders, setup

urlpatterns = [
    # setup
    path(
        "units-of-measure/",
        setup.UnitOfMeasureListCreateApi.as_view(),
        name="unit-of-measure-list",
    ),
    path(
        "units-of-measure/<int:pk>",
        setup.UnitOfMeasureDetailApi.as_view(),
        name="unit-of-measure-detail",
    ),
    path("products/", setup.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<int:pk>", setup.ProductDetailApi.as_view(), name="product-detail"),
    # orders
    path("orders/", orders.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<int:pk>", orders.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:pk>/activate", orders.OrderActivateApi.as_view(), name="order-activate"),
    path(
        "usage-summaries/",
        orders.UsageSummaryListCreateApi.as_view(),
        name="usage-summary-list",
    ),
]
