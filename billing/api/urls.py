from django.urls import path

from billing.api import views

urlpatterns = [
    path(
        "units-of-measure/",
        views.UnitOfMeasureListCreateApi.as_view(),
        name="unit-of-measure-list",
    ),
    path(
        "units-of-measure/<int:pk>",
        views.UnitOfMeasureDetailApi.as_view(),
        name="unit-of-measure-detail",
    ),
    path("products/", views.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<int:pk>", views.ProductDetailApi.as_view(), name="product-detail"),
    path("orders/", views.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<int:pk>", views.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:pk>/activate", views.OrderActivateApi.as_view(), name="order-activate"),
    path(
        "usage-summaries/",
        views.UsageSummaryListCreateApi.as_view(),
        name="usage-summary-list",
    ),
]
