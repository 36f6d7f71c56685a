"""The factur-x package logs two INFO lines for every Factur-X PDF it makes ("factur-x.xml
file added to PDF document", "factur-x PDF generated in … sec"); with the root logger at
INFO (config/settings) a bulk export would print them for every document. The bulk doors
(export_einvoices, bench_einvoices) run inside `facturx_quiet()`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

FACTURX_LOGGER = "factur-x"


@contextmanager
def facturx_quiet() -> Iterator[None]:
    """Only warnings and errors of the factur-x package while the block runs."""
    logger = logging.getLogger(FACTURX_LOGGER)
    saved = logger.level
    if logger.getEffectiveLevel() < logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(saved)
