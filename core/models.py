from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from core.exceptions import ValidationError as DomainValidationError
from core.money import validate_currency


class TimeStampedModel(models.Model):
    """Every Ledgerline row records when it was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True


# Field sizes shared by every money and quantity column, so that arithmetic never truncates.
MONEY_DIGITS = {"max_digits": 19, "decimal_places": 4}
PRICE_DIGITS = {"max_digits": 19, "decimal_places": 6}
QUANTITY_DIGITS = {"max_digits": 19, "decimal_places": 6}


def MoneyAmountField(**kwargs) -> models.DecimalField:  # noqa: N802 - field factory
    """An amount in the minor-unit precision of the row's currency (at most 4 places)."""
    kwargs.setdefault("default", 0)
    return models.DecimalField(**MONEY_DIGITS, **kwargs)


def PriceField(**kwargs) -> models.DecimalField:  # noqa: N802
    """A unit price: more places than an amount, never rounded before multiplication."""
    return models.DecimalField(**PRICE_DIGITS, **kwargs)


def QuantityField(**kwargs) -> models.DecimalField:  # noqa: N802
    return models.DecimalField(**QUANTITY_DIGITS, **kwargs)


class CurrencyField(models.CharField):
    """An ISO 4217 alphabetic code, validated against py-moneyed's catalogue."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        value = (getattr(model_instance, self.attname) or "").upper()
        setattr(model_instance, self.attname, value)
        return value

    def validate(self, value, model_instance):
        super().validate(value, model_instance)
        if not value and self.blank:
            return
        try:
            validate_currency(value)
        except DomainValidationError as exc:
            raise DjangoValidationError(exc.details["currency"][0], code="invalid_currency")


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an `Idempotency-Key` header (core/idempotency.py).

    The row is inserted before the request runs, under the unique (user, key) constraint, so
    two simultaneous requests with one key never both run: the loser sees the row. Rows older
    than core.idempotency.KEY_TTL are purged on write.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty while the first request is still running."
    )
    response_body = models.BinaryField(default=b"", blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(db_index=True)
    locked_at = models.DateTimeField(help_text="When the request that owns the key started.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"
