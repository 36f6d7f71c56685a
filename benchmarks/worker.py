"""Imported by the batch benchmark's worker processes (`celery worker -I
benchmarks.worker`): switches off the after-commit "invoices posted" receivers (PDF
rendering, email), as the bare-engine measurement does, so both time generation and posting
only. Never imported by a production worker."""

from invoicing import hooks

hooks._posted_receivers.clear()
