"""The customer portal: the hosted page of one posted document (invoice, credit memo, debit
memo) that a signed, expiring link opens without a staff login (portal/views.py); the links
are made by invoicing.services.hosted_links. A door, like web/: it reads through the
invoicing selectors and services and writes nothing of its own."""
