"""Text may hold no control character: one rule, one message, for every door that takes text.

A control character (U+0000 to U+001F but tab, newline and carriage return; U+007F) or a
non-character (a lone surrogate, U+FFFE, U+FFFF) has no place in a name, a description or a
note: a PDF, a CSV or an e-invoice's XML cannot hold it. So no door stores one:

- the REST API refuses it in its parsers (core/api.py), naming the path of each string;
- every form refuses it at the field (`ControlCharactersRefused`): each `CharField` of the
  form (`TextField`s, JSON and e-mail fields included) gets the `NoControlCharacters`
  validator, whose message names the field, the character and where it is, then says how to
  fix it. The staff UI's forms derive from `TextCheckedForm` / `TextCheckedModelForm`
  (web/forms.py); every admin page, inline and action form of the project does too, through
  the admin base `ServiceAdmin` (core/admin_actions.py: `get_form` and
  `get_formsets_with_inlines` hand out checked forms) and the action forms' base class.

- every POST-only action of the staff UI (web.views.base.ActionView: a write-off's note, a
  reversal's reason, a dispute's reason) checks each posted value with `posted_text_refusal`
  before it acts, and answers the message instead.

A refused value never reaches a service: the form is invalid, so nothing is written. Tab and
line breaks stay allowed everywhere (multi-line descriptions and e-mail bodies keep them).
The admins of third-party apps (users, groups, API tokens, Celery beat's tasks) get the same
check at start-up (core.admin_actions.third_party_admins_text_checked).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.utils import pretty_name
from django.utils.deconstruct import deconstructible

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
CONTROL_CHARACTER_MESSAGE = (
    "Text may not hold control characters (U+0000 to U+001F but tab and line breaks, U+007F) "
    "or non-characters (lone surrogates, U+FFFE, U+FFFF); remove them."
)


def control_character_paths(data: Any) -> list[str]:
    """The paths (`items[0].name`) of the strings of parsed JSON that hold a control character,
    walked without recursion."""
    found = []
    stack = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if CONTROL_CHARACTERS.search(value):
                found.append(path or "non_field_errors")
        elif isinstance(value, dict):
            for key, item in value.items():
                item_path = f"{path}.{key}" if path else str(key)
                if CONTROL_CHARACTERS.search(str(key)):
                    found.append(item_path)
                stack.append((item_path, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(found)


# --- forms ---------------------------------------------------------------------------------------


@deconstructible
class NoControlCharacters:
    """The validator of a form's text field: "Name holds U+0007 at character 4. Text may not
    hold control characters (…); remove them." A structured value (a JSON field's, an array
    field's) names the path of the first string that holds one."""

    code = "control_character"

    def __init__(self, label: str = "This field") -> None:
        self.label = label

    def __call__(self, value: Any) -> None:
        if isinstance(value, str):
            found = CONTROL_CHARACTERS.search(value)
            if found is not None:
                where = f"U+{ord(found.group()):04X} at character {found.start() + 1}"
                self._refuse(where)
        elif isinstance(value, (dict, list, tuple)):
            paths = control_character_paths(list(value) if isinstance(value, tuple) else value)
            if paths:
                self._refuse(f"a control character at {paths[0]}")

    def _refuse(self, where: str) -> None:
        raise ValidationError(
            "%(field)s holds %(where)s. " + CONTROL_CHARACTER_MESSAGE.replace("%", "%%"),
            code=self.code,
            params={"field": self.label, "where": where},
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoControlCharacters) and other.label == self.label


def posted_text_refusal(data: Any) -> str | None:
    """The message for the first posted value (a QueryDict or a mapping of lists) that holds
    a control character, named by its field ("Reason holds U+0007 at character 4. …"); None
    when every value is clean."""
    for name, values in data.lists():
        for value in values:
            try:
                NoControlCharacters(pretty_name(name))(value)
            except ValidationError as exc:
                return " ".join(exc.messages)
    return None


def text_fields_checked(fields: dict[str, forms.Field]) -> None:
    """Give every text field among `fields` the validator (once; it replaces Django's
    null-character check, which it covers, so that a NUL gets one message)."""
    for name, field in fields.items():
        if not isinstance(field, forms.CharField):
            continue
        if any(isinstance(v, NoControlCharacters) for v in field.validators):
            continue
        field.validators = [
            *(v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)),
            NoControlCharacters(str(field.label or pretty_name(name))),
        ]


class ControlCharactersRefused:
    """Mixin for forms: every text field refuses control characters (module doc). Fields a
    form adds after its own `__init__` (a line per row) are checked as it validates."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        text_fields_checked(self.fields)

    def full_clean(self) -> None:
        text_fields_checked(self.fields)
        super().full_clean()  # type: ignore[misc]


class TextCheckedForm(ControlCharactersRefused, forms.Form):
    pass


class TextCheckedModelForm(ControlCharactersRefused, forms.ModelForm):
    pass


def text_checked(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    """`form_class`, refusing control characters (a subclass unless it already does)."""
    if issubclass(form_class, ControlCharactersRefused):
        return form_class
    attrs = {"__module__": form_class.__module__, "__doc__": form_class.__doc__}
    return type(form_class.__name__, (ControlCharactersRefused, form_class), attrs)
