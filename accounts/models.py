"""Who is billed and who bills: accounts, contacts, billing profiles, legal entities,
payment terms and saved payment methods."""

import calendar
import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.addresses import address_lines_of, country_code_valid
from core.cards import CVV_MESSAGE, SAVED_CARD_MESSAGE, card_data_errors
from core.einvoice_codes import (
    CREDIT_TRANSFER_MEANS,
    EInvoiceFormat,
    EndpointScheme,
    PaymentMeans,
    bic_normalize,
    endpoint_check,
    iban_normalize,
)
from core.models import CurrencyField, TimeStampedModel
from core.vat import vat_id_normalize


class Address(TimeStampedModel):
    line1 = models.CharField(max_length=200, blank=True)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True, help_text="State, province or county.")
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")

    class Meta:
        verbose_name_plural = "addresses"

    FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")

    def __str__(self) -> str:
        return ", ".join(p for p in self.lines() if p) or "(empty address)"

    def lines(self, *, home_country: str = "") -> list[str]:
        """The printed lines in the country's order (core.addresses); the country's name is
        left out when it is `home_country`."""
        return list(address_lines_of(self, home_country=home_country))

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def clean(self) -> None:
        errors = card_data_errors(self)
        if self.country and not country_code_valid(self.country):
            errors["country"] = ["Use the two-letter ISO 3166 code, e.g. US or DE."]
        if errors:
            raise ValidationError(errors)


class LegalEntity(TimeStampedModel):
    """The seller. Invoices, numbering and tax rates are per legal entity."""

    name = models.CharField(max_length=200, unique=True)
    address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tax_id = models.CharField(
        "tax registration id",
        max_length=50,
        blank=True,
        help_text="A tax registration other than VAT, e.g. a US EIN or a German Steuernummer "
        "(BT-32).",
    )
    vat_id = models.CharField(
        "VAT id",
        max_length=30,
        blank=True,
        help_text="The seller's VAT identifier with its country prefix, e.g. DE123456789 "
        "(EN 16931 BT-31); checked against the country's format and check digits.",
    )
    legal_registration_id = models.CharField(
        max_length=50,
        blank=True,
        help_text="Company registration number, e.g. HRB 12345 or a SIREN (BT-30).",
    )
    legal_registration_scheme = models.CharField(
        max_length=4,
        blank=True,
        help_text="ISO 6523 scheme of the registration number, e.g. 0002 (SIREN); optional.",
    )
    endpoint_id = models.CharField(
        "electronic address",
        max_length=100,
        blank=True,
        help_text="Where e-invoices reach the seller, e.g. a Peppol id (BT-34).",
    )
    endpoint_scheme = models.CharField(
        "electronic address scheme",
        max_length=4,
        blank=True,
        choices=EndpointScheme.choices,
        help_text="The scheme of the electronic address (CEF EAS code, e.g. 9930 for a "
        "German VAT id, 0088 for a GLN, EM for an email address).",
    )
    payment_means = models.CharField(
        max_length=3,
        choices=PaymentMeans.choices,
        blank=True,
        help_text="How customers pay (UNCL 4461, BT-81), e.g. 58 SEPA credit transfer with "
        "the IBAN below; empty: not stated on e-invoices.",
    )
    iban = models.CharField(
        "IBAN", max_length=42, blank=True, help_text="The account customers pay into (BT-84)."
    )
    bic = models.CharField("BIC", max_length=11, blank=True, help_text="Its bank's BIC (BT-86).")
    email = models.EmailField(blank=True, help_text="Reply-to address on invoice emails.")
    attach_pdf = models.BooleanField(
        null=True, blank=True, help_text="Attach the PDF to invoice emails (empty: system default)."
    )
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "legal entities"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_legal_entity"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def country(self) -> str:
        return (self.address.country if self.address_id and self.address else "") or ""

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        checks = (
            ("vat_id", lambda: vat_id_normalize(self.vat_id, country=self.country, field="vat_id")),
            ("iban", lambda: iban_normalize(self.iban)),
            ("bic", lambda: bic_normalize(self.bic)),
        )
        for field, check in checks:
            try:
                setattr(self, field, check())
            except ValidationError as exc:
                errors.update(exc.message_dict)
        try:
            endpoint_check(self.endpoint_id, self.endpoint_scheme)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if self.payment_means in CREDIT_TRANSFER_MEANS and not self.iban and "iban" not in errors:
            errors["iban"] = [
                "A credit transfer needs the account customers pay into (BR-61): give the "
                "IBAN, or choose another payment means."
            ]
        if errors:
            raise ValidationError(errors)


class PaymentTerm(TimeStampedModel):
    """When an invoice is due. net: invoice date + days. end_of_month: last day of the
    invoice date's month + days."""

    class Kind(models.TextChoices):
        NET = "net", "Net N days"
        END_OF_MONTH = "end_of_month", "End of month plus N days"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NET)
    days = models.PositiveIntegerField(default=30, validators=[MaxValueValidator(3650)])
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_payment_term"
            ),
            models.CheckConstraint(condition=Q(days__lte=3650), name="payment_term_days_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def due_date(self, invoice_date: dt.date) -> dt.date:
        if self.kind == self.Kind.END_OF_MONTH:
            last = calendar.monthrange(invoice_date.year, invoice_date.month)[1]
            return invoice_date.replace(day=last) + dt.timedelta(days=self.days)
        return invoice_date + dt.timedelta(days=self.days)


class Account(TimeStampedModel):
    name = models.CharField(max_length=200)
    external_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text="The id in an external system.",
    )
    currency = CurrencyField(default="USD")
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    email = models.EmailField(blank=True)
    tax_id = models.CharField("tax identification", max_length=50, blank=True)
    vat_id = models.CharField(
        "VAT id",
        max_length=30,
        blank=True,
        help_text="The customer's VAT identifier with its country prefix (BT-48). A valid EU "
        "VAT id of another member state than the seller's makes the supply reverse-charged.",
    )
    legal_registration_id = models.CharField(
        max_length=50, blank=True, help_text="Company registration number (BT-47)."
    )
    endpoint_id = models.CharField(
        "electronic address",
        max_length=100,
        blank=True,
        help_text="Where e-invoices reach the customer, e.g. a Peppol id (BT-49).",
    )
    endpoint_scheme = models.CharField(
        "electronic address scheme",
        max_length=4,
        blank=True,
        choices=EndpointScheme.choices,
        help_text="The scheme of the electronic address (CEF EAS code).",
    )
    buyer_reference = models.CharField(
        max_length=100,
        blank=True,
        help_text="The customer's reference for its invoices (BT-10), e.g. a Leitweg-ID; "
        "XRechnung requires it.",
    )
    einvoice_format = models.CharField(
        "e-invoice format",
        max_length=12,
        blank=True,
        choices=EInvoiceFormat.choices,
        help_text="The e-invoice this customer receives (empty: none).",
    )
    einvoice_required = models.BooleanField(
        "e-invoice required",
        default=False,
        help_text="Check every invoice against the EN 16931 rules before it is posted; an "
        "invoice that fails stays draft.",
    )
    einvoice_attach = models.BooleanField(
        "attach the e-invoice",
        default=False,
        help_text="Attach the e-invoice (in the preferred format) to invoice emails.",
    )
    tax_exempt = models.BooleanField(default=False)
    tax_exemption_reason_code = models.CharField(
        max_length=30,
        blank=True,
        help_text="Why a tax-exempt customer pays no VAT: a VATEX code, e.g. VATEX-EU-132 "
        "(BT-121).",
    )
    tax_exemption_reason = models.CharField(
        max_length=200, blank=True, help_text="The same in words, printed on the document (BT-120)."
    )
    bulk_email_opt_out = models.BooleanField(
        default=False, help_text="Skip this account in a batch run's bulk email send."
    )
    timezone = models.CharField(max_length=64, default="UTC")

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = card_data_errors(self)
        try:
            self.vat_id = vat_id_normalize(self.vat_id, field="vat_id")
        except ValidationError as exc:
            errors.update(exc.message_dict)
        try:
            endpoint_check(self.endpoint_id, self.endpoint_scheme)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if self.einvoice_attach and not self.einvoice_format:
            errors["einvoice_attach"] = [
                "Choose the e-invoice format first: there is nothing to attach without one."
            ]
        if errors:
            raise ValidationError(errors)

    @property
    def default_profile(self) -> "BillingProfile | None":
        # Prefetch-friendly: iterate the cache when profiles were prefetched.
        cache = getattr(self, "_prefetched_objects_cache", {}).get("billing_profiles")
        if cache is not None:
            return next((p for p in cache if p.is_default), None)
        return self.billing_profiles.filter(is_default=True).first()


class Contact(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def clean(self) -> None:
        errors = card_data_errors(self)
        if errors:
            raise ValidationError(errors)


TOKEN_MASK = "••••"


def processor_token_masked(token: str) -> str:
    """A processor token as people and API clients see it: `pm_1NxAbcdef4242` →
    `pm_••••4242` (the processor's prefix, and the last four characters only when at least
    eight follow the prefix). Tokens are written in full and never shown."""
    if not token:
        return ""
    prefix = token.split("_", 1)[0] + "_" if "_" in token[:8] else ""
    tail = token[-4:] if len(token) - len(prefix) >= 8 else ""
    return f"{prefix}{TOKEN_MASK}{tail}"


class SavedPaymentMethod(TimeStampedModel):
    """A customer's way to pay, as the payment processor knows it: the processor's token and
    a display label. Never card data (PCI DSS): clean() refuses a card number or a CVV in any
    of its texts (core/cards.py)."""

    class Kind(models.TextChoices):
        CARD = "card", "Card"
        BANK_ACCOUNT = "bank_account", "Bank account"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="payment_methods")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CARD)
    processor_token = models.CharField(
        max_length=200, help_text="The payment processor's token, e.g. pm_1Nx... or cus_.../src_..."
    )
    label = models.CharField(
        max_length=100, help_text="Display label, e.g. 'Visa •••• 4242 (12/28)'."
    )
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="one_default_payment_method"
            )
        ]

    def __str__(self) -> str:
        return self.masked_label

    @property
    def masked_label(self) -> str:
        return self.label

    def clean(self) -> None:
        errors = card_data_errors(self, message=SAVED_CARD_MESSAGE)
        if re.fullmatch(r"\d{3,4}", self.processor_token or ""):
            errors["processor_token"] = [CVV_MESSAGE]
        if errors:
            raise ValidationError(errors)


class BillingProfile(TimeStampedModel):
    """Billing preferences of an account ("billing account" in the reference).

    Precedence for any billing value: the order → its billing profile → the account's
    default profile → the system default (see accounts.selectors.billing_terms_resolve).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="billing_profiles")
    name = models.CharField(max_length=200, default="Default")
    is_default = models.BooleanField(default=False)
    bill_day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    bill_to = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    saved_payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attach_pdf = models.BooleanField(null=True, blank=True)
    billing_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipping_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suspension_date = models.DateField(
        null=True, blank=True, help_text="From this date no schedule of the account is invoiced."
    )
    resumption_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="one_default_billing_profile"
            ),
            models.CheckConstraint(
                condition=Q(bill_day_of_month__isnull=True)
                | Q(bill_day_of_month__gte=1, bill_day_of_month__lte=31),
                name="profile_bill_day_range",
            ),
            models.CheckConstraint(
                condition=Q(resumption_date__isnull=True)
                | Q(suspension_date__isnull=True)
                | Q(resumption_date__gt=models.F("suspension_date")),
                name="profile_resumption_after_suspension",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} / {self.name}"

    def is_suspended_on(self, day: dt.date) -> bool:
        if not self.suspension_date or day < self.suspension_date:
            return False
        return not (self.resumption_date and day >= self.resumption_date)

    def clean(self) -> None:
        errors: dict[str, str | list[str]] = dict(card_data_errors(self))
        if self.bill_to_id and self.account_id and self.bill_to.account_id != self.account_id:
            errors["bill_to"] = "The bill-to contact must belong to the same account."
        if (
            self.saved_payment_method_id
            and self.account_id
            and self.saved_payment_method.account_id != self.account_id
        ):
            errors["saved_payment_method"] = "The payment method must belong to the same account."
        if errors:
            raise ValidationError(errors)
