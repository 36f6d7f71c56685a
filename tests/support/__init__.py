"""Support code for the tests: plain modules (never test modules) that test modules, conftest
fixtures and the worker subprocesses of the slow tests import.

- `invoicing`: builders and readers of billed worlds (orders, generation, row snapshots);
- `confirm`: posting an action through its confirmation page (the staff UI);
- `tax_engines`: a tax engine that refuses some sellers (worker subprocesses load it by its
  dotted path through LEDGERLINE_TAX_ENGINE);
- `celery_workers`: real `celery -A config worker` subprocesses on a Redis broker database.
"""
