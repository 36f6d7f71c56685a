"""Running a benchmark command and reading its report, for the benchmarks' tests."""

import re
from io import StringIO

from django.core.management import call_command


def command_output(command: str, *args: str) -> str:
    """What `manage.py <command> <args>` prints (its progress, on stderr, is dropped)."""
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def figure(text: str, label: str) -> str:
    """The first value on the report line that starts with `label`."""
    match = re.search(rf"^{re.escape(label)}\s+(\S+)", text, re.M)
    assert match, f"no line {label!r} in:\n{text}"
    return match.group(1)
