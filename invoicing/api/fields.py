"""Fields shared by the invoicing API's representations."""

from core.api_fields import CurrencyAmountField


class MoneyField(CurrencyAmountField):
    """An amount as a decimal string in its currency's minor unit ("12.50", JPY "1235").

    The currency is the object's own or, for lines, taxes and applications, their document's
    (credit memo, debit memo or invoice).
    """

    currency_paths = (
        "currency",
        "credit_memo.currency",
        "debit_memo.currency",
        "line.credit_memo.currency",
        "invoice.currency",
        "line.invoice.currency",
    )
