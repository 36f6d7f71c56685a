"""Production: everything from the environment; refuses to start without the essentials.

Secrets (SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL, EMAIL_HOST_PASSWORD, ANYMAIL) come only
from the environment: no default here, and the development key is refused. Served over HTTPS
only (behind a proxy that sets X-Forwarded-Proto): HTTP is redirected, HSTS for a year,
session and CSRF cookies secure. `manage.py check --deploy` is clean with these settings
(tests/core/test_production_settings.py).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
if SECRET_KEY.startswith(("dev-insecure", "django-insecure")) or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY must be a random production key of at least 50 characters (e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`), never the "
        "development one."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
# Each may be turned off (=False) only to try the production settings over plain HTTP on
# 127.0.0.1; `check --deploy` then says so.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
