"""Dunning writes, one module per sub-domain: policies.py (policies and their steps),
disputes.py (open and resolve an invoice's dispute), reminders.py (the run that sends the
reminders due on a date)."""
