"""Base API classes for resources: list/create and retrieve/update/delete, each write calling
a service, and the helpers every API view shares. Subclasses name the queryset (or a
selector in `get_queryset`), serializer, filters and (when the model has rules of its own) the
services; the default services are core.crud's plain ones.
"""

from __future__ import annotations

from rest_framework import generics, status
from rest_framework.response import Response

from core.crud import instance_create, instance_delete, instance_update


def request_actor(request) -> str:
    """The name services record as the person who acted."""
    return getattr(request.user, "username", "") or ""


def method_permissions(**methods: str) -> dict[str, list[str]]:
    """`required_permissions` of an operation class: method_permissions(post="app.perm")."""
    return {method.upper(): [perm] for method, perm in methods.items()}


class _OutputMixin:
    def output(self, obj) -> dict:
        """The saved record as the serializer shows it, re-read with the list's prefetches."""
        return self.get_serializer(self.get_queryset().get(pk=obj.pk)).data


class ResourceListCreateApi(_OutputMixin, generics.ListCreateAPIView):
    """GET: the list (paginated, filtered, ordered). POST: create through `create_service`."""

    def create_service(self, **data):
        return instance_create(self.get_queryset().model, **data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.create_service(**serializer.validated_data)
        return Response(self.output(obj), status=status.HTTP_201_CREATED)


class ResourceListApi(generics.ListAPIView):
    """GET: the list (paginated, filtered, ordered)."""


class ResourceDetailApi(_OutputMixin, generics.RetrieveUpdateDestroyAPIView):
    """GET one; PUT / PATCH through `update_service`; DELETE through `delete_service`."""

    def update_service(self, instance, **data):
        return instance_update(instance, **data)

    def delete_service(self, instance) -> None:
        instance_delete(instance)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        obj = self.update_service(instance, **serializer.validated_data)
        return Response(self.output(obj))

    def destroy(self, request, *args, **kwargs):
        self.delete_service(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
