"""Dunning: payment reminders of posted invoices, per legal entity, and invoice disputes
(docs/adr/0008-dunning.md)."""
