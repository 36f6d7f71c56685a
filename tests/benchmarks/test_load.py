"""The load test's report: percentiles, statuses per operation, and what makes it fail
(the run itself needs gunicorn and a Celery worker: `manage.py load_test`)."""

from benchmarks.load import Call, LoadReport, _pct


def test_percentiles_are_read_from_the_sorted_latencies():
    values = [float(n) for n in range(1, 101)]

    assert (_pct(values, 50), _pct(values, 95), _pct(values, 99)) == (50.5, 95.05, 99.01)
    assert _pct([7.0], 99) == 7.0 and _pct([], 50) == 0.0


def test_the_report_counts_statuses_and_fails_on_a_server_error_or_a_bad_check():
    report = LoadReport(duration=2.0, clients=2)
    report.calls += [Call("list", 200, 0.010), Call("list", 200, 0.030), Call("pay", 201, 0.02)]
    report.replays.append(("pay", True))
    report.checks["bad: duplicate invoice numbers"] = 0

    lines = report.lines()

    assert lines[0] == "3 requests in 2.0 s from 2 clients: 1.5 requests/s"
    assert lines[2].split()[:2] == ["list", "2"] and lines[2].endswith("200×2")
    assert "idempotent retries: 1, answered as the first: 1" in lines
    assert report.ok

    report.calls.append(Call("post", 500, 0.1))
    assert not report.ok
    report.calls.pop()
    report.replays.append(("post", False))
    assert not report.ok
    report.replays.pop()
    report.checks["bad: number gaps"] = 1
    assert not report.ok
