"""Orders: creation and activation into billing schedule groups and schedules.

`order_activate` validates the whole order first and refuses it with every problem named by
item and field (`items[2].bill_day_of_month`); only a valid order creates anything, inside
one transaction. Among the problems: a date outside the dates Ledgerline bills within
(billing.periods.billing_date_problem), amounts the columns cannot hold
(billing.pricing.amounts_problem) and a card number in the order's texts (core.cards).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import BillingTerms, billing_terms_resolve
from billing.choices import (
    BillingFrequency,
    BillingType,
    BundlePricing,
    ChargeType,
    InvoiceGroupType,
    ItemAction,
    PeriodBoundary,
    PricingTerm,
    ScheduleCategory,
    ScheduleStatus,
    ZeroAmountHandling,
)
from billing.exceptions import OrderNotDraft
from billing.locks import order_lock, schedule_groups_lock
from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    BillingTreatment,
    Order,
    OrderItem,
    Product,
)
from billing.periods import billing_date_problem, iter_periods
from billing.pricing import amounts_problem, schedule_period_price, term_total
from billing.schedules import (
    Cadence,
    schedule_anchor,
    schedule_billable_end,
    schedule_effective_end,
)
from core.cards import card_data_errors
from core.exceptions import ValidationError, django_validation_details
from core.money import plain, round_money, validate_currency

ONE_DAY = dt.timedelta(days=1)
ZERO = Decimal("0")

ORDER_FIELDS = (
    "billing_profile",
    "currency",
    "legal_entity",
    "payment_term",
    "bill_to",
    "saved_payment_method",
    "invoice_group_type",
    "custom_group_key",
    "matching_value",
    "tax_treatment",
    "description",
    "purchase_order",
)
# The order's texts a customer's card number could be pasted into (core/cards.py).
ORDER_TEXT_FIELDS = ("description", "purchase_order", "custom_group_key", "matching_value")
ITEM_DATE_FIELDS = ("start_date", "end_date", "effective_date")
ITEM_FIELDS = (
    "product",
    "action",
    "amends_item",
    "effective_date",
    "quantity",
    "unit_price",
    "pricing_term",
    "start_date",
    "end_date",
    "billing_frequency",
    "billing_type",
    "period_boundary",
    "bill_day_of_month",
    "parent_item",
    "bundle_pricing",
    "included_quantity",
    "overage_unit_price",
    "billing_treatment",
)


# --------------------------------------------------------------------------------------------
# Creation


def order_create(*, account: Account, items: list[dict[str, Any]], **fields: Any) -> Order:
    """Create a draft order with its items.

    `items` are dicts of OrderItem fields; `parent_item` may be given as the index (int) of an
    earlier item in the list. Field-level problems are reported as `items[i].field`.
    """
    unknown = set(fields) - set(ORDER_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown order field."))
    with transaction.atomic():
        order = Order(account=account, **fields)
        order_record_clean(order, prefix="")
        order.save()
        order.number = f"ORD-{order.pk:06d}"
        order.save(update_fields=["number"])
        created: list[OrderItem] = []
        for index, data in enumerate(items):
            data = dict(data)
            unknown = set(data) - set(ITEM_FIELDS)
            if unknown:
                raise ValidationError(
                    {f"items[{index}].{f}": "Unknown order item field." for f in sorted(unknown)}
                )
            parent = data.get("parent_item")
            if isinstance(parent, int):
                if not 0 <= parent < len(created):
                    raise ValidationError(
                        {f"items[{index}].parent_item": "Refer to an earlier item of this order."}
                    )
                data["parent_item"] = created[parent]
            item = OrderItem(order=order, line_number=index + 1, **data)
            order_record_clean(item, prefix=f"items[{index}].")
            item.save()
            created.append(item)
    return order


def order_record_clean(obj: Order | OrderItem, *, prefix: str) -> None:
    """full_clean() of an order or an item (its order excluded), then the bounds: card
    numbers in the order's texts, item dates outside the billing calendar; errors named by
    `prefix` + field (`items[2].start_date`). Creation and draft edits both call it."""
    try:
        obj.full_clean(exclude=["order"] if isinstance(obj, OrderItem) else None)
    except DjangoValidationError as exc:
        details = django_validation_details(exc)
        raise ValidationError({f"{prefix}{k}": v for k, v in details.items()})
    errors = _bounds_errors(obj)
    if errors:
        raise ValidationError({f"{prefix}{k}": v for k, v in errors.items()})


def _bounds_errors(obj: Order | OrderItem) -> dict[str, list[str]]:
    """An order's card numbers, an item's dates outside the billing calendar."""
    if isinstance(obj, Order):
        return card_data_errors(obj, ORDER_TEXT_FIELDS)
    errors = {}
    for name in ITEM_DATE_FIELDS:
        problem = billing_date_problem(getattr(obj, name))
        if problem:
            errors[name] = [problem]
    return errors


# --------------------------------------------------------------------------------------------
# Activation


# Reports a problem of the order: err(path, message).
_Err = Callable[[str, str], None]


@dataclass(frozen=True)
class _Amended:
    """The asset a change_quantity, cancel or renew item amends, as validation found it."""

    group: BillingScheduleGroup  # the asset's existing group
    original: BillingSchedule  # the group's original schedule
    effective: dt.date  # the item's effective date


@dataclass
class _Plan:
    """Everything activation needs about one item, computed before anything is written."""

    index: int
    item: OrderItem
    amended: _Amended | None = None  # set for a valid amendment item

    def amended_asset(self) -> _Amended:
        """The amended asset of a (validated) amendment item."""
        if self.amended is None:  # _validate() refuses such an order: a bug if reached
            raise ValidationError(
                {
                    f"items[{self.index}].amends_item": (
                        "The amended item was not resolved; activate the order again."
                    )
                }
            )
        return self.amended


def order_activate(*, order_id: int, activated_by: str = "") -> Order:
    """Activate a draft order: one schedule group per asset, one schedule per item.

    New items (`add`) get a group of their own (bundle children point at their bundle's
    group); `change_quantity` adds an amendment schedule to the original's group from the
    effective date; `cancel` stops billing from the effective date and credits periods
    already billed past it; `renew` continues the asset after its end date.
    """
    with transaction.atomic(durable=True):
        order = order_lock(
            order_id, related=("account", "billing_profile", "legal_entity", "payment_term")
        )
        if order.status != Order.Status.DRAFT:
            raise OrderNotDraft(
                f"Order {order} is already {order.get_status_display().lower()}; only a draft "
                "order can be activated. Create an amendment order to change it."
            )
        items = list(
            order.items.select_related(
                "product__unit", "product__billing_treatment", "billing_treatment", "amends_item"
            ).order_by("line_number", "id")
        )
        account = Account.objects.prefetch_related("billing_profiles", "payment_methods").get(
            pk=order.account_id
        )
        terms = billing_terms_resolve(
            account=account,
            profile=order.billing_profile,
            currency=order.currency or None,
            legal_entity=order.legal_entity,
            payment_term=order.payment_term,
            bill_to=order.bill_to,
            saved_payment_method=order.saved_payment_method,
        )
        plans = _validate(order, items, terms)

        schedules_by_item: dict[int, BillingSchedule] = {}
        for plan in plans:
            item = plan.item
            if item.action == ItemAction.ADD:
                schedules_by_item[item.pk] = _activate_new(order, item, terms, schedules_by_item)
            elif item.action == ItemAction.CHANGE_QUANTITY:
                schedules_by_item[item.pk] = _activate_amendment(
                    order, item, plan.amended_asset(), terms
                )
            elif item.action == ItemAction.CANCEL:
                _activate_cancellation(order, item, plan.amended_asset(), terms)
            elif item.action == ItemAction.RENEW:
                schedules_by_item[item.pk] = _activate_renewal(
                    order, item, plan.amended_asset(), terms
                )

        order.status = Order.Status.ACTIVATED
        order.activated_at = timezone.now()
        order.save(update_fields=["status", "activated_at", "updated_at"])
    return order


# --- validation -----------------------------------------------------------------------------


def _validate(order: Order, items: list[OrderItem], terms: BillingTerms) -> list[_Plan]:
    errors: dict[str, list[str]] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    try:
        validate_currency(terms.currency)
    except ValidationError:
        err("currency", f"'{terms.currency}' is not an ISO 4217 currency code.")
    if terms.payment_term is None:
        err(
            "payment_term",
            "No payment term: set one on the order, the account's billing profile, or mark a "
            "payment term as the default.",
        )
    if not items:
        err("items", "The order has no items; add at least one before activating.")
    if order.invoice_group_type == InvoiceGroupType.CUSTOM and not order.custom_group_key.strip():
        err("custom_group_key", "A custom invoice group needs a custom group key.")
    for path, messages in _bounds_errors(order).items():
        err(path, messages[0])

    # Lock the groups amended by this order, in id order (lock order: group → schedule).
    amended_ids = sorted({i.amends_item_id for i in items if i.amends_item_id})
    groups_by_item: dict[int, BillingScheduleGroup] = {}
    if amended_ids:
        source_schedules = (
            BillingSchedule.objects.filter(order_item_id__in=amended_ids)
            .select_related("group")
            .order_by("group_id")
        )
        group_ids = sorted({s.group_id for s in source_schedules})
        locked = schedule_groups_lock(group_ids)
        for s in source_schedules:
            groups_by_item[s.order_item_id] = locked[s.group_id]

    plans: list[_Plan] = []
    for index, item in enumerate(items):
        p = f"items[{index}]."
        product: Product = item.product
        plan = _Plan(index=index, item=item)
        plans.append(plan)
        if not product.is_active:
            err(p + "product", f"Product {product.sku} is inactive; choose an active product.")
        if item.end_date and item.end_date < item.start_date:
            err(p + "end_date", "The end date is before the start date.")
        if item.unit_price is None or item.unit_price < 0:
            err(p + "unit_price", "The unit price must be zero or more.")
        dates = _bounds_errors(item)
        for path, messages in dates.items():
            err(p + path, messages[0])
        if dates:
            continue  # nothing below may compute with such a date

        if item.action in (ItemAction.ADD, ItemAction.RENEW):
            if item.quantity is None or item.quantity <= 0:
                err(p + "quantity", "The quantity of a new or renewed item must be more than 0.")
            _validate_cadence(item, product, terms, p, err)
        if item.action == ItemAction.ADD:
            _validate_bundle(item, items, p, err)
            _validate_amounts(item, item, terms, p, err, start=item.start_date, end=item.end_date)
            continue

        # Amendments: change_quantity, cancel, renew.
        if item.amends_item_id is None:
            err(p + "amends_item", f"A '{item.action}' item must name the item it amends.")
            continue
        group = groups_by_item.get(item.amends_item_id)
        if group is None:
            err(
                p + "amends_item",
                "The amended item has no billing schedule: activate its order first.",
            )
            continue
        if group.account_id != order.account_id:
            err(p + "amends_item", "The amended item belongs to another account.")
            continue
        if group.currency != terms.currency:
            err(
                p + "amends_item",
                f"The amended item is billed in {group.currency}; this order is in "
                f"{terms.currency}.",
            )
        original = next(
            s
            for s in BillingSchedule.objects.filter(group=group, category="original").order_by("id")
        )
        if item.product_id != group.product_id:
            err(p + "product", "An amendment must keep the amended item's product.")
        if group.cancellation_date:
            err(
                p + "amends_item",
                f"The amended item was cancelled from {group.cancellation_date}; it cannot be "
                "changed any more.",
            )
            continue
        effective = item.effective_date
        if effective is None:
            err(p + "effective_date", "An amendment needs an effective date.")
            continue
        plan.amended = _Amended(group=group, original=original, effective=effective)
        if item.action == ItemAction.RENEW:  # billed on the original's cadence
            _validate_amounts(item, original, terms, p, err, start=effective, end=item.end_date)
        elif item.action == ItemAction.CHANGE_QUANTITY:
            _validate_amounts(item, original, terms, p, err, start=effective, end=group.end_date)
        last_day = _group_last_day(group)
        if item.action == ItemAction.RENEW:
            if last_day is None:
                err(p + "amends_item", "An evergreen item has no end date to renew after.")
            elif effective != item.start_date:
                err(p + "start_date", "A renewal starts on its effective date.")
            elif effective <= last_day:
                err(
                    p + "effective_date",
                    f"A renewal starts after the current end date {last_day}; use "
                    f"{last_day + ONE_DAY}.",
                )
            continue
        if effective < group.start_date or (last_day is not None and effective > last_day):
            err(
                p + "effective_date",
                f"The effective date must fall within the item's term ({group.start_date} to "
                f"{last_day or 'evergreen'}).",
            )
            continue
        in_force = _quantity_in_force(group, effective)
        if item.action == ItemAction.CHANGE_QUANTITY:
            if not item.quantity:
                err(p + "quantity", "A quantity change must be non-zero (+5 or -3).")
            elif in_force + item.quantity < 0:
                err(
                    p + "quantity",
                    f"The change leaves a negative quantity ({plain(in_force)} in force on "
                    f"{effective}); the largest decrease is -{plain(in_force)}.",
                )
            elif in_force + item.quantity == 0:
                err(p + "quantity", "The change leaves nothing; use a cancel item instead.")
        elif item.action == ItemAction.CANCEL and item.quantity != -in_force:
            err(
                p + "quantity",
                f"A cancel item carries minus the remaining quantity: -{plain(in_force)} "
                f"on {effective}.",
            )

    if errors:
        raise ValidationError(errors, message=_summary(errors))
    return plans


def _summary(errors: dict[str, list[str]]) -> str:
    path, messages = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return f"The order cannot be activated: {path}: {messages[0]}" + (
        more if len(errors) > 1 else ""
    )


def _validate_cadence(
    item: OrderItem, product: Product, terms: BillingTerms, p: str, err: _Err
) -> None:
    one_time_freq = item.billing_frequency == BillingFrequency.ONE_TIME
    one_time_price = item.pricing_term == PricingTerm.ONE_TIME
    if product.charge_type == ChargeType.ONE_TIME and not one_time_freq:
        err(p + "billing_frequency", "A one-time product is billed with frequency one_time.")
    if product.charge_type == ChargeType.RECURRING and one_time_freq:
        err(p + "billing_frequency", "A recurring product needs a recurring billing frequency.")
    if one_time_freq != one_time_price and product.charge_type != ChargeType.USAGE:
        err(
            p + "pricing_term",
            "A one-time price goes with a one-time frequency, and a price per month, quarter or "
            "year with a recurring frequency.",
        )
    if product.charge_type == ChargeType.USAGE:
        if item.overage_unit_price is None or item.overage_unit_price < 0:
            err(p + "overage_unit_price", "A usage item needs an overage unit price (0 or more).")
        if item.included_quantity is not None and item.included_quantity < 0:
            err(p + "included_quantity", "The included quantity cannot be negative.")
        if one_time_freq:
            err(p + "billing_frequency", "Usage is billed on a recurring frequency.")
    if (
        item.period_boundary == PeriodBoundary.DAY_OF_PERIOD
        and not item.bill_day_of_month
        and not terms.bill_day_of_month
    ):
        err(
            p + "bill_day_of_month",
            "Period boundary day_of_period needs a bill day: set it on the item or on the "
            "account's billing profile.",
        )


def _validate_amounts(
    item: OrderItem,
    cadence: OrderItem | BillingSchedule,
    terms: BillingTerms,
    p: str,
    err: _Err,
    *,
    start: dt.date,
    end: dt.date | None,
) -> None:
    """The item's amounts fit the columns they are stored in (billing.pricing.amounts_problem);
    `cadence` is what its schedule is billed on (the item, or an amended original)."""
    if item.product.charge_type == ChargeType.USAGE or not item.quantity or not item.unit_price:
        return  # usage bills its summaries' amounts; a zero or missing value is checked above
    try:
        currency = validate_currency(terms.currency)
    except ValidationError:
        return  # reported above
    problem = amounts_problem(
        quantity=item.quantity,
        unit_price=item.unit_price,
        pricing_term=cadence.pricing_term,
        frequency=cadence.billing_frequency,
        currency=currency,
        start=start,
        end=end,
    )
    if problem is not None:
        err(p + problem[0], problem[1])


def _validate_bundle(item: OrderItem, items: list[OrderItem], p: str, err: _Err) -> None:
    if item.parent_item_id is None:
        if item.bundle_pricing:
            err(p + "bundle_pricing", "Only a bundle child has a bundle pricing.")
        return
    parent = next((i for i in items if i.pk == item.parent_item_id), None)
    if parent is None:
        err(p + "parent_item", "The bundle parent must be an item of the same order.")
        return
    if not parent.product.is_bundle:
        err(p + "parent_item", f"The parent item's product {parent.product.sku} is not a bundle.")
    if parent.line_number >= item.line_number:
        err(p + "parent_item", "List the bundle before its children.")
    if not item.bundle_pricing:
        err(p + "bundle_pricing", "A bundle child is priced included or not_included.")
    elif item.bundle_pricing == BundlePricing.INCLUDED and item.unit_price:
        err(
            p + "unit_price",
            "A child included in its bundle's price carries no price of its own: set 0, or "
            "bundle_pricing not_included.",
        )
    if item.start_date < parent.start_date or (
        parent.end_date and (item.end_date is None or item.end_date > parent.end_date)
    ):
        err(p + "start_date", "A bundle child's term must lie within its bundle's term.")


# --- schedule construction ------------------------------------------------------------------


def _group_last_day(group: BillingScheduleGroup) -> dt.date | None:
    return group.end_date


def _quantity_in_force(group: BillingScheduleGroup, on: dt.date) -> Decimal:
    total = ZERO
    for s in BillingSchedule.objects.filter(
        group=group,
        category__in=[
            ScheduleCategory.ORIGINAL,
            ScheduleCategory.AMENDMENT,
            ScheduleCategory.RENEWAL,
        ],
    ):
        end = schedule_effective_end(s)
        if s.start_date <= on and (end is None or on <= end):
            total += s.quantity
    return total


def _treatment(item: OrderItem) -> BillingTreatment | None:
    return item.billing_treatment or item.product.billing_treatment


def _schedule_from_item(
    *,
    order: Order,
    item: OrderItem,
    group: BillingScheduleGroup,
    terms: BillingTerms,
    category: str,
    quantity: Decimal,
    start: dt.date,
    end: dt.date | None,
    anchor: dt.date,
    template: BillingSchedule | None = None,
    original: BillingSchedule | None = None,
    parent_schedule: BillingSchedule | None = None,
    unit_price: Decimal | None = None,
    billing_type: str | None = None,
) -> BillingSchedule:
    """Build (and save) a schedule. `template` supplies the cadence of an amended schedule so
    that amendments, cancellations and renewals share their original's period grid."""
    src = template or item
    treatment = _treatment(item)
    product = item.product
    charge_type = product.charge_type
    if unit_price is None:
        unit_price = item.unit_price
        if charge_type == ChargeType.USAGE and item.overage_unit_price is not None:
            unit_price = item.overage_unit_price
    schedule = BillingSchedule(
        group=group,
        account_id=order.account_id,
        order=order,
        order_item=item,
        product=product,
        charge_type=charge_type,
        category=category,
        original_schedule=original,
        parent_schedule=parent_schedule,
        bundle_pricing=item.bundle_pricing,
        status=ScheduleStatus.READY,
        start_date=start,
        end_date=end,
        quantity=product.unit.round(quantity),
        unit=product.unit,
        unit_price=unit_price,
        pricing_term=src.pricing_term,
        billing_frequency=src.billing_frequency,
        billing_type=billing_type or src.billing_type,
        period_boundary=src.period_boundary,
        bill_day_of_month=(
            template.bill_day_of_month
            if template
            else (item.bill_day_of_month or terms.bill_day_of_month)
        ),
        included_quantity=item.included_quantity,
        overage_unit_price=item.overage_unit_price,
        currency=terms.currency,
        legal_entity=terms.legal_entity,
        payment_term=terms.payment_term,
        bill_to=terms.bill_to,
        saved_payment_method=terms.saved_payment_method,
        billing_address=terms.billing_address,
        tax_treatment=order.tax_treatment,
        invoice_group_type=order.invoice_group_type,
        custom_group_key=order.custom_group_key,
        matching_value=order.matching_value,
        zero_amount_handling=(
            treatment.zero_amount_handling if treatment else ZeroAmountHandling.CREATE_LINE
        ),
    )
    _compute_amounts(schedule, anchor=anchor)
    schedule.save()
    return schedule


def _compute_amounts(schedule: BillingSchedule, *, anchor: dt.date) -> None:
    """Period amount, total, pending and the first billing dates of a fresh schedule."""
    currency = schedule.currency
    schedule.billed_amount = ZERO
    schedule.next_charge_from_date = schedule.start_date
    if schedule.charge_type == ChargeType.USAGE:
        # Usage bills its ready usage summaries; there is no amount to plan ahead.
        schedule.period_amount = ZERO
        schedule.total_amount = None
        schedule.pending_amount = None
        schedule.next_billing_date = schedule.start_date
        return
    full_price: Fraction = schedule_period_price(schedule)
    schedule.period_amount = round_money(full_price, currency)
    cadence: Cadence = {
        "frequency": schedule.billing_frequency,
        "boundary": schedule.period_boundary,
        "billing_type": schedule.billing_type,
        "bill_day": schedule.bill_day_of_month,
        "anchor": anchor,
    }
    end = schedule_billable_end(schedule)
    first = next(iter_periods(start=schedule.start_date, end=end, **cadence), None)
    if first is None:
        schedule.next_billing_date = None
        schedule.status = ScheduleStatus.COMPLETELY_BILLED
    else:
        schedule.next_billing_date = first.billing_date
    if end is None:
        schedule.total_amount = None
        schedule.pending_amount = None
    else:
        schedule.total_amount = term_total(
            start=schedule.start_date, end=end, full_price=full_price, currency=currency, **cadence
        )
        schedule.pending_amount = schedule.total_amount


def _activate_new(
    order: Order, item: OrderItem, terms: BillingTerms, schedules_by_item: dict
) -> BillingSchedule:
    parent_schedule = schedules_by_item.get(item.parent_item_id) if item.parent_item_id else None
    group = BillingScheduleGroup.objects.create(
        account_id=order.account_id,
        source_item=item,
        order=order,
        product=item.product,
        bundle_group=parent_schedule.group if parent_schedule else None,
        bundle_pricing=item.bundle_pricing,
        currency=terms.currency,
        legal_entity=terms.legal_entity,
        start_date=item.start_date,
        end_date=item.end_date,
    )
    return _schedule_from_item(
        order=order,
        item=item,
        group=group,
        terms=terms,
        category=ScheduleCategory.ORIGINAL,
        quantity=item.quantity,
        start=item.start_date,
        end=item.end_date,
        anchor=item.start_date,
        parent_schedule=parent_schedule,
    )


def _amended_terms(original: BillingSchedule, terms: BillingTerms) -> BillingTerms:
    """Amendments bill with the asset's own terms, so their lines merge with the original's."""
    return BillingTerms(
        currency=original.currency,
        legal_entity=original.legal_entity,
        payment_term=original.payment_term,
        bill_to=original.bill_to,
        saved_payment_method=original.saved_payment_method,
        bill_day_of_month=original.bill_day_of_month,
        billing_address=original.billing_address,
        profile=terms.profile,
    )


def _activate_amendment(
    order: Order, item: OrderItem, amended: _Amended, terms: BillingTerms
) -> BillingSchedule:
    original = amended.original
    group = amended.group
    end = group.end_date
    schedule = _schedule_from_item(
        order=order,
        item=item,
        group=group,
        terms=_amended_terms(original, terms),
        category=ScheduleCategory.AMENDMENT,
        quantity=item.quantity,
        start=amended.effective,
        end=end,
        anchor=original.start_date,
        template=original,
        original=original,
        parent_schedule=original.parent_schedule,
    )
    _copy_grouping(schedule, original)
    return schedule


def _copy_grouping(schedule: BillingSchedule, original: BillingSchedule) -> None:
    schedule.invoice_group_type = original.invoice_group_type
    schedule.custom_group_key = original.custom_group_key
    schedule.matching_value = original.matching_value
    schedule.tax_treatment = original.tax_treatment
    schedule.save(
        update_fields=["invoice_group_type", "custom_group_key", "matching_value", "tax_treatment"]
    )


def _activate_cancellation(
    order: Order, item: OrderItem, amended: _Amended, terms: BillingTerms
) -> None:
    """From the effective date nothing is billed; periods already billed past it are
    credited by a negative cancellation schedule per affected schedule."""
    group = amended.group
    original = amended.original
    cancel_from = amended.effective
    group.cancellation_date = cancel_from
    group.save(update_fields=["cancellation_date", "updated_at"])
    affected = BillingSchedule.objects.filter(
        group=group,
        category__in=[
            ScheduleCategory.ORIGINAL,
            ScheduleCategory.AMENDMENT,
            ScheduleCategory.RENEWAL,
        ],
    ).order_by("id")
    for schedule in affected:
        billed_through = (
            schedule.next_charge_from_date - ONE_DAY if schedule.next_charge_from_date else None
        )
        schedule.cancellation_date = cancel_from
        _recompute_after_cancellation(schedule)
        credit_from = max(cancel_from, schedule.start_date)
        if schedule.charge_type == ChargeType.USAGE:
            continue  # usage is billed from summaries; nothing was billed ahead
        if billed_through is not None and billed_through >= credit_from:
            # The credit uses the cancelled schedule's own price and is due at once.
            credit = _schedule_from_item(
                order=order,
                item=item,
                group=group,
                terms=_amended_terms(original, terms),
                category=ScheduleCategory.CANCELLATION,
                quantity=-schedule.quantity,
                start=credit_from,
                end=billed_through,
                anchor=schedule_anchor(schedule),
                template=schedule,
                original=schedule.original_schedule or schedule,
                parent_schedule=schedule.parent_schedule,
                unit_price=schedule.unit_price,
                billing_type=BillingType.ADVANCE,
            )
            _copy_grouping(credit, schedule)


def _recompute_after_cancellation(schedule: BillingSchedule) -> None:
    end = schedule_effective_end(schedule)
    anchor = schedule_anchor(schedule)
    if schedule.charge_type != ChargeType.USAGE:
        full_price = schedule_period_price(schedule)
        if end is None or end < schedule.start_date:
            schedule.total_amount = ZERO
        else:
            schedule.total_amount = term_total(
                start=schedule.start_date,
                end=end,
                frequency=schedule.billing_frequency,
                boundary=schedule.period_boundary,
                billing_type=schedule.billing_type,
                bill_day=schedule.bill_day_of_month,
                anchor=anchor,
                full_price=full_price,
                currency=schedule.currency,
            )
        # What was billed past the cancellation is credited by the cancellation schedule,
        # so nothing stays pending beyond the new total. A decrease (negative quantity) bills
        # negative amounts: its pending amount lies between zero and its negative remainder.
        remaining = schedule.total_amount - schedule.billed_amount
        schedule.pending_amount = (
            min(ZERO, remaining) if schedule.quantity < 0 else max(ZERO, remaining)
        )
    nothing_left = end is None or (
        schedule.next_charge_from_date is not None and schedule.next_charge_from_date > end
    )
    if nothing_left and schedule.status == ScheduleStatus.READY:
        schedule.status = ScheduleStatus.COMPLETELY_BILLED
        schedule.next_billing_date = None
    schedule.save(
        update_fields=[
            "cancellation_date",
            "total_amount",
            "pending_amount",
            "status",
            "next_billing_date",
            "updated_at",
        ]
    )


def _activate_renewal(
    order: Order, item: OrderItem, amended: _Amended, terms: BillingTerms
) -> BillingSchedule:
    group = amended.group
    original = amended.original
    schedule = _schedule_from_item(
        order=order,
        item=item,
        group=group,
        terms=_amended_terms(original, terms),
        category=ScheduleCategory.RENEWAL,
        quantity=item.quantity,
        start=item.start_date,
        end=item.end_date,
        anchor=original.start_date,
        template=original,
        original=original,
        parent_schedule=original.parent_schedule,
    )
    _copy_grouping(schedule, original)
    group.end_date = item.end_date
    group.save(update_fields=["end_date", "updated_at"])
    return schedule
