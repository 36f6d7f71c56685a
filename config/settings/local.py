"""Developer machine: SQLite and eager Celery unless the environment says otherwise."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # SQLite cannot enforce ErrorLog's NULLS NOT DISTINCT constraint; the error-log service
    # upserts by the same key, and PostgreSQL (tests, production) enforces it.
    SILENCED_SYSTEM_CHECKS = ["models.W047"]
