"""The progress of long management commands: a bar on a terminal, one summary line when piped.

Every long command (generate_invoices, post_invoices, import_invoices, run_invoice_batch,
render_invoice_pdfs, send_invoice_emails, bench_generation, bench_batch_run) does its work
inside `command_progress` and reports through the object it yields:

    with command_progress(self, "Generating invoices", verbosity=opts["verbosity"]) as progress:
        result = invoices_generate(..., progress=progress.update)   # (done, total) callback
        for invoice in result.invoices:
            progress.detail(f"{invoice.number} …")                 # one line per record
        for error in result.errors:
            progress.error(f"schedule {error.schedule_id}: …")     # always, on stderr
    progress.summary(f"{n} invoice(s) …")                          # the one line that stays

- On a terminal (the command's standard output is a TTY, verbosity 1 or more) `rich` draws a
  bar with the count, the percentage and the time left; detail lines (verbosity 2) and errors
  are printed above it; the bar is removed when the work ends, and the summary line follows.
- Piped or redirected: no bar and no escape codes. Standard output gets the summary line (and
  the detail lines with `-v 2`); errors go to standard error.
- While the work runs, Celery's INFO lines ("Task … succeeded in 0.1 s", printed when tasks
  run eagerly inside the command) and kombu's connection notices are silenced: they are
  worker chatter, not the command's output. Warnings and errors still show.

Services never import this module: they take a plain callback (core/progress.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# The loggers of eager Celery and its transport, and the least level let through while a
# command runs.
QUIETED_LOGGERS = {"celery": logging.WARNING, "kombu": logging.ERROR}


class CommandProgress:
    """What a command reports while it works (see the module doc)."""

    def __init__(
        self, command: BaseCommand, description: str, *, total: int | None, verbosity: int
    ) -> None:
        self.command = command
        self.description = description
        self.verbosity = verbosity
        self.total = total
        self.done = 0
        self.phases = 0
        self.interactive = verbosity >= 1 and command.stdout.isatty()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    # --- the bar ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self.interactive:
            return
        console = Console(file=_stream(self.command.stdout), force_terminal=True, highlight=False)
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("·"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def update(self, done: int, total: int | None = None) -> None:
        """The services' callback: `done` of `total` units are finished."""
        self.done = done
        if total is not None:
            self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=self.total)

    def advance(self, step: int = 1) -> None:
        self.update(self.done + step)

    def phase(self, message: str) -> None:
        """A long job made of steps (the benchmarks): a step starts; the bar counts the steps
        finished and shows the current one. Piped, the steps are listed on stderr with -v 2."""
        self.phases += 1
        if self._bar is not None and self._task is not None:
            self.update(self.phases - 1)
            self._bar.update(self._task, description=message)
        elif self.verbosity >= 2:
            self.command.stderr.write(message)

    # --- lines --------------------------------------------------------------------------------

    def detail(self, text: str) -> None:
        """A line about one record (an invoice made, a PDF rendered): with -v 2 only."""
        if self.verbosity < 2:
            return
        if self._bar is not None:
            self._bar.console.print(Text(text), soft_wrap=True)
        else:
            self.command.stdout.write(text)

    def error(self, text: str) -> None:
        """A failure, always shown, on standard error (above the bar on a terminal)."""
        if self._bar is not None and self.command.stderr.isatty():
            self._bar.console.print(Text(text, style="red"), soft_wrap=True)
        else:
            self.command.stderr.write(text)

    def summary(self, text: str, *, ok: bool = True) -> None:
        """The one line that stays: coloured on a terminal, plain when piped."""
        if self.verbosity < 1:
            return
        if self.interactive:
            style = self.command.style.SUCCESS if ok else self.command.style.WARNING
            self.command.stdout.write(text, style_func=style)
        else:
            self.command.stdout.write(text, style_func=lambda line: line)


def _stream(wrapper) -> TextIO:
    """The stream under a command's OutputWrapper (rich writes to it directly)."""
    return getattr(wrapper, "_out", wrapper)


@contextmanager
def celery_quiet() -> Iterator[None]:
    """Silence eager Celery's INFO lines and kombu's notices while a command runs."""
    saved = {}
    for name, level in QUIETED_LOGGERS.items():
        logger = logging.getLogger(name)
        saved[name] = logger.level
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def command_progress(
    command: BaseCommand, description: str, *, total: int | None = None, verbosity: int = 1
) -> Iterator[CommandProgress]:
    """Run a command's work with a progress bar on a terminal (see the module doc)."""
    progress = CommandProgress(command, description, total=total, verbosity=verbosity)
    with celery_quiet():
        progress.start()
        try:
            yield progress
        finally:
            progress.stop()
