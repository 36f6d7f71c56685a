"""How a long service tells its caller how far it has got, without knowing who is watching.

A service that works through many records (invoice generation, bulk email) takes an optional
`progress` callback and calls it with (done, total) as it goes: a management command turns it
into a progress bar (core/management/progress.py), another caller ignores it. Services hold no
terminal code.
"""

from collections.abc import Callable

# progress(done, total): `done` of `total` units (schedules, invoices) are finished.
ProgressCallback = Callable[[int, int], None]


def progress_ignore(done: int, total: int) -> None:
    """The callback of a caller who does not watch."""
