"""The dunning policies family of the API: `dunning-policies/` (CRUD) with their nested
`steps`. One class per path; every write through dunning.services.policies. Sending `steps` on
PUT or PATCH replaces the steps (a day kept keeps its step). Field names follow
../shared/API.md."""

from rest_framework import serializers

from core.api_views import ResourceDetailApi, ResourceListCreateApi
from dunning import selectors
from dunning.models import DunningPolicy, DunningStep
from dunning.services.policies import (
    dunning_policy_create,
    dunning_policy_delete,
    dunning_policy_update,
)

# --- representation ---------------------------------------------------------------------------


class DunningStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = DunningStep
        fields = ["id", "days_after_due", "email_template"]
        read_only_fields = ["id"]
        extra_kwargs = {"email_template": {"required": False}}


class DunningPolicySerializer(serializers.ModelSerializer):
    steps = DunningStepSerializer(
        many=True,
        required=False,
        help_text="Ordered by day. On PUT / PATCH: replaces the policy's steps.",
    )

    class Meta:
        model = DunningPolicy
        fields = ["id", "legal_entity", "name", "is_active", "steps", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # One policy per legal entity: the service names the policy it already has.
        extra_kwargs = {"legal_entity": {"validators": []}}


def _steps(data: dict) -> list[dict] | None:
    steps = data.pop("steps", None)
    return None if steps is None else [dict(step) for step in steps]


# --- operations -------------------------------------------------------------------------------


class DunningPolicyListCreateApi(ResourceListCreateApi):
    """Dunning policies with their steps; filter by legal_entity and is_active."""

    serializer_class = DunningPolicySerializer
    filterset_fields = ["legal_entity", "is_active"]
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self):
        return selectors.dunning_policy_list()

    def create_service(self, **data):
        return dunning_policy_create(steps=_steps(data) or [], **data)


class DunningPolicyDetailApi(ResourceDetailApi):
    serializer_class = DunningPolicySerializer

    def get_queryset(self):
        return selectors.dunning_policy_list()

    def update_service(self, instance, **data):
        return dunning_policy_update(policy_id=instance.pk, steps=_steps(data), **data)

    def delete_service(self, instance) -> None:
        dunning_policy_delete(policy_id=instance.pk)
