"""Every /api/v1/ route, gathered from the apps' api/urls.py modules."""

urlpatterns: list = []
