"""`{% load dunning %}{% dunning_panel invoice role %}`: an invoice's dunning on its staff UI
page (templates/web/dunning/_invoice_panel.html): the dispute flag with its Dispute / Resolve
buttons (for a role that may act), why the invoice is not dunned or its next reminder, and the
reminders sent. The invoice page includes it with one line, so the invoice views need not know
dunning (which sits above invoicing)."""

from django import template
from django.utils import timezone

from dunning.selectors import dunning_for_invoice

register = template.Library()


@register.inclusion_tag("web/dunning/_invoice_panel.html", takes_context=True)
def dunning_panel(context, invoice, role):
    today = timezone.localdate()
    return {
        "invoice": invoice,
        "role": role,
        "today": today,
        "state": dunning_for_invoice(invoice=invoice, today=today),
        "csrf_token": context.get("csrf_token"),
    }
