"""The long commands' progress helper (core/management/progress.py): a bar on a terminal,
plain lines when piped, Celery's chatter silenced while the work runs."""

import logging
from io import StringIO

from django.core.management.base import BaseCommand

from core.management.progress import command_progress


class Terminal(StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def command(out=None, err=None) -> BaseCommand:
    return BaseCommand(stdout=out or StringIO(), stderr=err or StringIO())


def work(cmd: BaseCommand, verbosity: int = 1) -> None:
    with command_progress(cmd, "Posting invoices", total=3, verbosity=verbosity) as progress:
        for n in range(1, 4):
            progress.detail(f"posted INV-000{n}")
            progress.update(n, 3)
        progress.error("invoice 9 left draft: no sequence policy")
    progress.summary("3 posted, 1 failed.", ok=False)


def test_piped_one_summary_line_and_errors_on_stderr():
    out, err = StringIO(), StringIO()
    work(command(out, err))
    assert out.getvalue() == "3 posted, 1 failed.\n"
    assert err.getvalue() == "invoice 9 left draft: no sequence policy\n"


def test_piped_verbose_lists_the_records_without_escape_codes():
    out, err = StringIO(), StringIO()
    work(command(out, err), verbosity=2)
    assert out.getvalue() == (
        "posted INV-0001\nposted INV-0002\nposted INV-0003\n3 posted, 1 failed.\n"
    )
    assert "\x1b" not in out.getvalue() + err.getvalue()


def test_verbosity_zero_prints_errors_only():
    out, err = StringIO(), StringIO()
    work(command(out, err), verbosity=0)
    assert (out.getvalue(), err.getvalue()) == ("", "invoice 9 left draft: no sequence policy\n")


def test_on_a_terminal_a_bar_is_drawn_then_removed_and_the_summary_stays():
    out, err = Terminal(), StringIO()
    work(command(out, err), verbosity=2)
    text = out.getvalue()
    assert "Posting invoices" in text and "3/3" in text and "100%" in text  # the bar
    assert "\x1b[?25l" in text and "\x1b[?25h" in text  # cursor hidden, then shown again
    # Detail lines above the bar; the error on stderr (not a terminal here).
    assert text.index("posted INV-0001") < text.index("posted INV-0003") < text.index("3 posted")
    assert err.getvalue() == "invoice 9 left draft: no sequence policy\n"
    assert text.rstrip("\n\x1b[0m").endswith("3 posted, 1 failed.")


def test_a_phase_counts_the_steps_finished():
    cmd = command()
    with command_progress(cmd, "Benchmark", total=3, verbosity=2) as progress:
        progress.phase("N=100: building…")
        assert progress.done == 0
        progress.phase("N=100: generating…")
        assert progress.done == 0  # piped: no bar to move; the steps are listed
    assert cmd.stderr._out.getvalue() == "N=100: building…\nN=100: generating…\n"
    cmd = command(Terminal())
    with command_progress(cmd, "Benchmark", total=3) as progress:
        progress.phase("N=100: building…")
        progress.phase("N=100: generating…")
        assert progress.done == 1


def test_celery_info_lines_are_silenced_while_the_work_runs(caplog):
    caplog.set_level(logging.INFO)
    trace = logging.getLogger("celery.app.trace")
    transport = logging.getLogger("kombu.connection")
    with command_progress(command(), "Batch run"):
        trace.info("Task invoicing.batch_run_chunk[1] succeeded in 0.1s: 20")
        transport.warning("No hostname was supplied. Reverting to default 'localhost'")
        trace.warning("Task invoicing.batch_run_chunk[2] retrying")
    trace.info("after the command")
    assert [r.getMessage() for r in caplog.records] == [
        "Task invoicing.batch_run_chunk[2] retrying",
        "after the command",
    ]
