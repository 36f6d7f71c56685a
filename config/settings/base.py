"""Settings shared by every environment. Values that differ come from the environment."""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-ledgerline-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc assets, served locally (no CDN)
    "django_celery_beat",
    "anymail",
    "djmoney",
    "core",
    "accounts",
    "billing",
    "invoicing",
    "dunning",
    "einvoicing",
    "web",
    # Tooling (no models): the demo data and the benchmarks, with their commands.
    "demo",
    "benchmarks",
]

MIDDLEWARE = [
    "core.api.ApiErrorShapeMiddleware",  # first: it sees every /api/ answer
    "django.middleware.security.SecurityMiddleware",
    "core.api.ApiRequestLimitsMiddleware",  # body size and JSON depth, before anything reads it
    "core.throttling.ApiAddressThrottleMiddleware",  # API requests per address (any credentials)
    "core.throttling.LoginThrottleMiddleware",  # sign-in attempts (REST_FRAMEWORK rates)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "web.roles.RoleRequiredMiddleware",  # deny by default: no role, no staff UI page
    "core.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# With no DATABASE_URL the project runs on an embedded SQLite file.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_URL = "media/"

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:dashboard"

# --- Security ---------------------------------------------------------------------------
# Request bodies (API requests, imports through invoices/ingest, forms): larger is 413 on the
# API (core/api.py) and 400 elsewhere.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# Django's defaults stand: HttpOnly, SameSite=Lax session cookie; X-Frame-Options DENY;
# nosniff; Referrer-Policy same-origin. Production adds HTTPS only (production.py).

# The throttles' counts (core/throttling.py) live in the cache: a shared one (e.g.
# CACHE_URL=redis://127.0.0.1:6379/1) when several server processes answer.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Celery -----------------------------------------------------------------------------
# With no broker configured, tasks run eagerly in the calling process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default="")
# Reliability (docs/reliability.md). A task's message is acknowledged when the task ends,
# not when it starts (acks late), and given back to the broker when the pool process running
# it dies (reject on worker lost): a SIGKILLed or OOM-killed process's task runs again at
# once. Every task is idempotent (docs/batch-runs.md), so running one twice is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 30
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 25
# Redis gives an unacknowledged message to another worker after the visibility timeout: it
# must outlast the longest task (hard limit 3,600 s: draft-to-posted, email), or a task
# still running would start a second time. A worker killed whole leaves its message that
# long; batch-run work does not wait for it: the supervisor below queues a lost chunk again
# once its lease expires (30 s).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60 + 5 * 60}
# Redis restarted or unreachable: keep the running tasks going (their work commits in
# PostgreSQL; their acknowledgement is lost and the redelivered message finds it done) and
# reconnect, at start too.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
_SUPERVISE_SECONDS = env.float("LEDGERLINE_SUPERVISE_SECONDS", default=30.0)
# Fixed beat entries (the DatabaseScheduler stores them as PeriodicTask rows at start; the
# invoice schedulers add theirs). Dunning: the reminders due today, every morning. Batch
# runs: the supervisor (invoicing.services.runs.batch_runs_supervise) every 30 s; a firing
# not taken before the next one is due is dropped, so no pile of them builds up while the
# workers are down.
CELERY_BEAT_SCHEDULE = {
    "dunning-send-reminders": {
        "task": "dunning.send_reminders",
        "schedule": crontab(hour=6, minute=0),
    },
    "invoicing-supervise-runs": {
        "task": "invoicing.supervise_runs",
        "schedule": _SUPERVISE_SECONDS,
        "options": {"expires": _SUPERVISE_SECONDS * 0.8},
    },
}

# --- Email ------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="billing@ledgerline.local")
ANYMAIL = env.json("ANYMAIL", default={})
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.RolePermission"],
    # The REST framework's parsers, refusing control characters in strings (core/api.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.api.JSONParser",
        "core.api.FormParser",
        "core.api.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # Rate limits (core/throttling.py): over them, 429 `throttled` with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "address": env("LEDGERLINE_API_ADDRESS_RATE", default="6000/min"),  # per client address
        "user": env("LEDGERLINE_API_USER_RATE", default="3000/min"),  # per signed-in user
        "login": env("LEDGERLINE_LOGIN_RATE", default="10/min"),  # per address and user name
        "login_ip": env("LEDGERLINE_LOGIN_ADDRESS_RATE", default="100/min"),  # per address
    },
    # The client's address is REMOTE_ADDR unless this many proxies in front of the server
    # append to X-Forwarded-For (set it behind a load balancer); a client's own
    # X-Forwarded-For is never believed.
    "NUM_PROXIES": env.int("LEDGERLINE_NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ledgerline API",
    "DESCRIPTION": "Billing schedules, invoice generation, posting, numbering and batch runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ loads its pinned assets from drf-spectacular-sidecar's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.idempotency.schema_add_idempotency_header",
    ],
    # One name per choice set: many models have a `status` or `kind` of their own.
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "invoicing.models.InvoiceStatus",
        "InvoiceEmailStatusEnum": "invoicing.models.Invoice.EmailStatus",
        "DraftOrPostedEnum": ["draft", "posted"],
        "InvoiceLineTypeEnum": "invoicing.models.InvoiceLine.Type",
        "MemoStatusEnum": "invoicing.models.CreditMemo.Status",
        "DebitMemoStatusEnum": "invoicing.models.DebitMemo.Status",
        "OrderStatusEnum": "billing.models.Order.Status",
        "UsageSummaryStatusEnum": "billing.models.UsageSummary.Status",
        "BillingScheduleStatusEnum": "billing.choices.ScheduleStatus",
        "PeriodItemInvoiceStatusEnum": "invoicing.models.BillingPeriodItem.InvoiceStatus",
        "TaxStatusEnum": "invoicing.models.InvoiceLineTax.Status",
        "BatchRunStatusEnum": "invoicing.models.InvoiceBatchRun.Status",
        "BatchRunKindEnum": "invoicing.models.InvoiceBatchRun.Kind",
        "BatchRunKeyStatusEnum": "invoicing.models.InvoiceBatchRunKey.Status",
        "SchedulerStatusEnum": "invoicing.models.InvoiceScheduler.Status",
        "DocumentStatusEnum": "invoicing.models.InvoiceDocument.Status",
        "EmailDispatchStatusEnum": "invoicing.models.InvoiceEmail.Status",
        "PaymentTermKindEnum": "accounts.models.PaymentTerm.Kind",
        "PaymentMethodKindEnum": "accounts.models.SavedPaymentMethod.Kind",
        "TaxRateKindEnum": "invoicing.models.TaxRate.Kind",
        "AddressKindEnum": "invoicing.models.InvoiceAddress.Kind",
        "ScheduleCategoryEnum": "billing.choices.ScheduleCategory",
        "ErrorCategoryEnum": "invoicing.models.ErrorLog.Category",
        "ItemActionEnum": "billing.choices.ItemAction",
        "ChargeTypeEnum": "billing.choices.ChargeType",
    },
}

# --- Ledgerline -------------------------------------------------------------------------
LEDGERLINE = {
    # The tax engine class used for estimated and actual tax.
    "TAX_ENGINE": env("LEDGERLINE_TAX_ENGINE", default="invoicing.tax.BuiltinTaxEngine"),
    # An invoice never carries more lines than this; a grouping key with more is split.
    "MAX_INVOICE_LINES": env.int("LEDGERLINE_MAX_INVOICE_LINES", default=2000),
    # Convert a posted invoice's negative charge lines into a credit memo applied back to it
    # (issue 13; invoicing/services/credits.py). Off: staff convert on request.
    "CONVERT_NEGATIVE_LINES": env.bool("LEDGERLINE_CONVERT_NEGATIVE_LINES", default=False),
    # System defaults, used when neither the order, its profile nor the account says.
    "DEFAULT_CURRENCY": env("LEDGERLINE_DEFAULT_CURRENCY", default="USD"),
    "SITE_URL": env("LEDGERLINE_SITE_URL", default="http://127.0.0.1:8000"),
    # Customer links to hosted document pages (portal/, invoicing/services/hosted_links.py):
    # the public address they start with (emails, the API, the staff UI give absolute links;
    # default: the site's own) and how many days a link opens the page after it was made.
    "PUBLIC_BASE_URL": env(
        "LEDGERLINE_PUBLIC_BASE_URL",
        default=env("LEDGERLINE_SITE_URL", default="http://127.0.0.1:8000"),
    ),
    "HOSTED_LINK_MAX_AGE_DAYS": env.int("LEDGERLINE_HOSTED_LINK_MAX_AGE_DAYS", default=90),
    # Render each invoice's PDF (a Celery task) when it is posted.
    "RENDER_PDF_ON_POST": env.bool("LEDGERLINE_RENDER_PDF_ON_POST", default=True),
    # A compiled Peppol BIS Billing 3.0 stylesheet (OpenPeppol's), run on every UBL
    # e-invoice with the CEN rules (einvoicing/rules.py); empty: our own Peppol checks only.
    "PEPPOL_XSLT": env("LEDGERLINE_PEPPOL_XSLT", default=""),
    # Batch-run chunk leases (docs/batch-runs.md, "Self-healing"): a claim holds this long
    # without a heartbeat (renewed every third of it); a queued chunk may wait this long
    # before it counts as lost; a key is claimed at most this many times, then reported.
    "BATCH_LEASE_SECONDS": env.float("LEDGERLINE_BATCH_LEASE_SECONDS", default=30.0),
    "BATCH_DISPATCH_GRACE_SECONDS": env.float(
        "LEDGERLINE_BATCH_DISPATCH_GRACE_SECONDS", default=45.0
    ),
    "BATCH_KEY_ATTEMPTS": env.int("LEDGERLINE_BATCH_KEY_ATTEMPTS", default=5),
    # An API request's JSON may nest this deep, no deeper (core/api.py; 400 beyond).
    "API_MAX_JSON_DEPTH": env.int("LEDGERLINE_API_MAX_JSON_DEPTH", default=32),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "factur-x": {"level": "WARNING"},  # two INFO lines per PDF otherwise
    },
}
