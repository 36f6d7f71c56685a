"""Test suite: PostgreSQL (DATABASE_URL, default the local server), eager Celery, locmem email."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, env

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/ledgerline"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("TEST", {})["NAME"] = env(
    "TEST_DATABASE_NAME", default="test_ledgerline"
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
MEDIA_ROOT = env("MEDIA_ROOT", default="/tmp/ledgerline-test-media")
LOGGING = {"version": 1, "disable_existing_loggers": False}
# The rate limits stay on, high enough for the suite (tests of the throttles set their own).
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "address": "100000/min",
        "user": "100000/min",
        "login": "100000/min",
        "login_ip": "100000/min",
    },
}
