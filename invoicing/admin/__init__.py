"""The invoicing admin, one module per family of models, one registration per model:

- invoices.py: invoices, their lines, line taxes, addresses, billed periods, rendered
  documents and emails;
- memos_payments.py: credit memos, debit memos (with their lines) and payments;
- runs.py: invoice schedulers, batch runs and their keys;
- setup.py: sequence policies, tax rates, email templates, the error log;
- generation.py: accounts, orders and billing schedules, registered here with the
  "Generate invoices" action and the billed periods invoicing adds to them.

Every write of every page and action calls a service (core/admin_actions.py explains how);
posted documents are read-only and offer no Delete.
"""

from invoicing.admin import generation, invoices, memos_payments, runs, setup

__all__ = ["generation", "invoices", "memos_payments", "runs", "setup"]
