"""Money in the admin: amounts at their currency's precision with the currency ("5,232.00 USD",
"1,200 JPY"), unit prices at the currency's places or more when they have them ("8.333333
USD"), quantities with their significant places ("10", "1.5") — never a column's stored
scale ("5232.0000", "10.000000"). The formatting is core/money.py's (`money_display`,
`price_display`, `quantity_display`); nothing here rounds.

`MoneyAdminMixin` is part of every admin base class of the project (`ServiceAdmin`,
`ServiceInline`, `ReadOnlyInline` in core/admin_actions.py; plain inlines mix it in). It finds
the model's money columns (`MoneyAmountField`), unit prices and quantities, and gives the
admin a display method `<column>_shown` for each, labelled and sorted as the column. Wherever
such a column is shown read-only — a list column, a read-only field of a change page, every
field of a page or inline the user may only view (a posted invoice) — the method is shown
instead. Where the column is an input (a draft's editable field) it stays an input.

The row's currency is read through `money_currency`: an attribute path from the row
("currency", the default; "invoice.currency" for an invoice line) or a function of the row.
"""

from collections.abc import Callable, Iterable
from types import MethodType
from typing import Any

from django.contrib.admin.options import InlineModelAdmin
from django.db import models

from core.models import MONEY_DIGITS, PRICE_DIGITS, QUANTITY_DIGITS
from core.money import money_display, plain, price_display, quantity_display

SHOWN = "_shown"
MONEY, PRICE, QUANTITY = "money", "price", "quantity"


def column_kind(field: models.Field) -> str | None:
    """'money', 'price' or 'quantity' for the project's amount, price and quantity columns."""
    if not isinstance(field, models.DecimalField):
        return None
    digits = {"max_digits": field.max_digits, "decimal_places": field.decimal_places}
    if digits == MONEY_DIGITS:
        return MONEY
    if digits == PRICE_DIGITS and "price" in field.name:
        return PRICE
    if digits == QUANTITY_DIGITS and "quantity" in field.name:
        return QUANTITY
    return None


def currency_of(obj: Any, currency: str | Callable[[Any], str]) -> str:
    """The row's currency code through an attribute path or a function ('' when unknown)."""
    if callable(currency):
        return currency(obj) or ""
    value = obj
    for name in currency.split("."):
        value = getattr(value, name, None)
        if value is None:
            return ""
    return str(value)


def money_cell(value: Any, kind: str, currency: str) -> str:
    """One value as the admin shows it (see the module doc)."""
    if value is None:
        return "—"
    if kind == QUANTITY:
        return quantity_display(value)
    if not currency:
        return plain(value)
    if kind == MONEY:
        return money_display(value, currency)
    return f"{price_display(value, currency)} {currency}"


def _shown_method(field: models.Field, kind: str) -> Callable[[Any, Any], str]:
    def shown(modeladmin: "MoneyAdminMixin", obj: Any) -> str:
        currency = "" if kind == QUANTITY else currency_of(obj, modeladmin.money_currency)
        return money_cell(getattr(obj, field.name), kind, currency)

    shown.__name__ = f"{field.name}{SHOWN}"
    shown.short_description = field.verbose_name  # type: ignore[attr-defined]
    shown.admin_order_field = field.name  # type: ignore[attr-defined]
    return shown


def _swapped(names: Iterable, swap: set[str]) -> list:
    """`names` (a fields option: names and tuples of names) with each name in `swap`
    replaced by its display method's name."""
    out: list = []
    for name in names:
        if isinstance(name, (list, tuple)):
            out.append(tuple(_swapped(name, swap)))
        else:
            out.append(f"{name}{SHOWN}" if name in swap else name)
    return out


HOOKS = ("get_list_display", "get_readonly_fields", "get_exclude", "get_fields", "get_fieldsets")


def _hooked(original: Callable, hook: str) -> Callable:
    """The admin's own `hook` (as its class defines it), its result swapped by the mixin."""

    def hooked(modeladmin: "MoneyAdminMixin", *args: Any, **kwargs: Any) -> Any:
        return getattr(modeladmin, f"_money_{hook}")(original, *args, **kwargs)

    hooked.__name__ = hook
    return hooked


class MoneyAdminMixin:
    """For ModelAdmins and inlines: money, prices and quantities shown for people (see the
    module doc)."""

    money_currency: str | Callable[[Any], str] = "currency"

    class Media:
        # Amounts right-aligned, unwrapped; the navigation sidebar collapsed by default.
        css = {"all": ("admin/ledgerline.css",)}
        js = ("admin/ledgerline.js",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = self.model._meta.concrete_fields  # type: ignore[attr-defined]
        self.money_columns = {f.name: kind for f in fields if (kind := column_kind(f))}
        for field in fields:
            if field.name in self.money_columns:
                method = _shown_method(field, self.money_columns[field.name])
                setattr(self, method.__name__, method.__get__(self))
        # Wrap the hooks as the admin class defines them (subclasses override them, e.g. to make
        # a posted invoice's fields read-only): what they return is then swapped once, here.
        self._raw_readonly_fields = self.get_readonly_fields
        for hook in HOOKS:
            if hasattr(self, hook):  # inlines have no list display
                setattr(self, hook, MethodType(_hooked(getattr(self, hook), hook), self))

    # --- which columns this page shows read-only --------------------------------------------

    def _view_only(self, request, obj) -> bool:
        if isinstance(self, InlineModelAdmin):
            return not (
                self.has_change_permission(request, obj) or self.has_add_permission(request, obj)
            )
        return obj is not None and not self.has_change_permission(request, obj)  # type: ignore[attr-defined]

    def money_shown(self, request, obj=None) -> set[str]:
        """The money columns shown read-only on this page (replaced by their methods)."""
        if self._view_only(request, obj):
            return set(self.money_columns)
        return set(self.money_columns) & set(self._raw_readonly_fields(request, obj))

    # --- the admin's hooks, wrapped -----------------------------------------------------------

    def _money_get_list_display(self, hook, request):
        return _swapped(hook(request), set(self.money_columns))

    def _money_get_readonly_fields(self, hook, request, obj=None):
        return tuple(_swapped(hook(request, obj), self.money_shown(request, obj)))

    def _money_get_exclude(self, hook, request, obj=None):
        # The columns shown by their methods are not form fields (nor are their methods).
        excluded = hook(request, obj)
        if excluded is None:
            meta = getattr(self.form, "_meta", None)  # type: ignore[attr-defined]
            excluded = getattr(meta, "exclude", None) or ()
        shown = self.money_shown(request, obj)
        return (*excluded, *shown, *(f"{name}{SHOWN}" for name in shown))

    def _money_get_fields(self, hook, request, obj=None):
        return _swapped(hook(request, obj), self.money_shown(request, obj))

    def _money_get_fieldsets(self, hook, request, obj=None):
        swap = self.money_shown(request, obj)
        return [
            (title, {**options, "fields": _swapped(options["fields"], swap)})
            for title, options in hook(request, obj)
        ]
