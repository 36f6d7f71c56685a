"""Tax engines for the tests that worker subprocesses load by their dotted path (as
LEDGERLINE_TAX_ENGINE): a tax service that does not know some sellers."""

from accounts.models import LegalEntity
from invoicing.exceptions import TaxEngineError
from invoicing.tax import BuiltinTaxEngine, TaxEngine

UNREGISTERED = "Unregistered"


class UnregisteredEntityTaxEngine(TaxEngine):
    """The built-in engine, except that it refuses legal entities whose name starts with
    "Unregistered" (a tax service that does not know the seller): one broken grouping key."""

    def calculate(self, *, lines, context, estimate):
        if (
            context.legal_entity_id is not None
            and LegalEntity.objects.filter(
                pk=context.legal_entity_id, name__startswith=UNREGISTERED
            ).exists()
        ):
            raise TaxEngineError(
                f"The tax service has no registration for legal entity #{context.legal_entity_id}."
                " Register the legal entity with the tax service, then recover the schedule and "
                "run again.",
                details={"legal_entity_id": context.legal_entity_id},
            )
        return BuiltinTaxEngine().calculate(lines=lines, context=context, estimate=estimate)


TAX_ENGINE = f"{__name__}.UnregisteredEntityTaxEngine"
