"""Portwise settings: one module, every value from the environment.

With no DATABASE_URL or REDIS_URL, the embedded PostgreSQL and Redis under .data/ are
used (started when none runs), so `manage.py` commands, workers and tests all meet the
same servers.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from port import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = env(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str) -> int:
    value = env(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [part.strip() for part in env(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", "true")
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "portwise-insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env("SITE_URL", f"http://127.0.0.1:{env('PORT', '8000')}")

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
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "csp",
    "port.apps.PortConfig",
    "declarations.apps.DeclarationsConfig",
    "inspection.apps.InspectionConfig",
    "shipping.apps.ShippingConfig",
    "certificates.apps.CertificatesConfig",
    "analytics.apps.AnalyticsConfig",
    "alarms.apps.AlarmsConfig",
    "zones.apps.ZonesConfig",
    "billing.apps.BillingConfig",
    "ecommerce.apps.EcommerceConfig",
    "notifications.apps.NotificationsConfig",
    "reference.apps.ReferenceConfig",
]

MIDDLEWARE = [
    "port.middleware.ReleaseRequestMiddleware",  # outermost: empties the request once sent
    "port.observability.RequestIdMiddleware",
    "port.observability.MetricsMiddleware",
    "port.middleware.ApiErrorsMiddleware",  # outside the rest: /api/ errors are JSON, always
    "port.outage.DatabaseOutageMiddleware",  # a database outage is a 503, never a 500
    "django.middleware.security.SecurityMiddleware",
    "port.middleware.ContentSecurityPolicyMiddleware",  # django-csp's; a fixed one for JSON
    "port.middleware.StaticFilesMiddleware",  # WhiteNoise, async under ASGI too
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into a 429
]

ROOT_URLCONF = "port.urls"
ASGI_APPLICATION = "port.asgi.application"
WSGI_APPLICATION = None

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
                "django.template.context_processors.i18n",
                "port.context_processors.navigation",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(embedded.database_url(), conn_max_age=60)}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Connections. A worker, beat or command keeps one persistent connection per process. The
# web server cannot: under ASGI each request runs in a thread of its own, so persistent
# connections pile up with concurrency until PostgreSQL refuses ("too many clients": 117
# of 1,000 filings at concurrency 50, issue 12). It takes them from a psycopg pool per
# process instead, which port/asgi.py turns on (DATABASE_POOL; a DATABASE_POOL_MAX_SIZE
# above 0 turns it on anywhere). The web processes of one host (WEB_CONCURRENCY) share
# DATABASE_CONNECTION_BUDGET, leaving the rest of PostgreSQL's max_connections (100 by
# default) to workers, beat, relays and operators; at most 20 a process. A request that
# waits DATABASE_POOL_TIMEOUT seconds for a connection gets a 503 (port/outage.py).
# docs/reliability.md has the figures.
DATABASE_POOL_MAX_SIZE = envint("DATABASE_POOL_MAX_SIZE", "0")
if DATABASE_POOL_MAX_SIZE > 0 or envbool("DATABASE_POOL", "off"):
    if DATABASE_POOL_MAX_SIZE <= 0:
        web_processes = max(1, envint("WEB_CONCURRENCY", "1"))
        budget = envint("DATABASE_CONNECTION_BUDGET", "60")
        DATABASE_POOL_MAX_SIZE = max(2, min(20, budget // web_processes))
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # With a pool, Django's health checks become the pool's: each connection is checked as
    # it is handed out, so after a PostgreSQL restart the first request gets a fresh one.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": envint("DATABASE_POOL_TIMEOUT", "5"),
        # While PostgreSQL is down the pool retries with a doubling delay; giving up after
        # this many seconds lets the next request start afresh, so the first requests after
        # a restart find it within seconds, not after the outage's length again.
        "reconnect_timeout": envint("DATABASE_POOL_TIMEOUT", "5"),
        "max_idle": 300,
    }
# The key of e-commerce buyers' ID-number hashes (ecommerce/personal.py); empty derives one
# from SECRET_KEY.
ECOMMERCE_BUYER_KEY = env("ECOMMERCE_BUYER_KEY")
# A streaming replica for the dashboards' reads (port/routers.py); writes stay on the primary.
READ_REPLICA = None
if env("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = {
        **dj_database_url.parse(env("DATABASE_REPLICA_URL")),
        "TEST": {"MIRROR": "default"},
    }
    READ_REPLICA = "replica"
DATABASE_ROUTERS = ["port.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "port.User"

REDIS_URL = embedded.redis_url()
# The three roles Redis plays can live on three servers (or a Sentinel-managed one each):
# the Celery broker, the cache (throttling, sessions' helpers) and the channel layer.
BROKER_URL = env("BROKER_URL") or REDIS_URL
CACHE_URL = env("CACHE_URL") or REDIS_URL
CHANNELS_URL = env("CHANNELS_URL") or REDIS_URL

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
}

# Redis PUBLISH per group; each server process subscribes once per group and hands the
# message to its sockets (port/live.py numbers the frames, so a page can tell a gap).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            # No socket timeout: with one, redis-py sends through asyncio.wait_for, which on
            # Python 3.11 can swallow the cancellation of a closing WebSocket's consumer.
            "hosts": [{"address": CHANNELS_URL}],
            "prefix": env("CHANNELS_PREFIX", "portwise"),
        },
    },
}

CELERY_BROKER_URL = embedded.celery_url(BROKER_URL)
CELERY_RESULT_BACKEND = None  # tasks write their results to the database
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "portwise")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A message a worker took and has not acknowledged comes back after this timeout only as a
# last resort: each worker has its own unacked hash and a heartbeat, and the outbox relay
# puts a dead worker's messages back within seconds (port/workers.py). Longer than the
# longest task (imports: 900 s), so a running task is never handed to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = "UTC"
# No task may run for ever: soft limit (the task can clean up), then hard. Workers per queue
# can set tighter ones (`--time-limit`, docker-compose.yml).
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "240")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "300")
# Mail for notifications: the console in development; any Django backend in production
# (EMAIL_URL-style settings below, or django-anymail's backends for a provider's API).
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Portwise <noreply@portwise.local>")
# Online duty payment through a bank adapter with `charge(payer=, amount_cents=, reference=)`.
BANK_BACKEND = env("BANK_BACKEND", "billing.bank.SimulatedBank")
# SMS through an adapter with `send(to=, text=)`; the console one logs (number masked).
SMS_BACKEND = env("SMS_BACKEND", "notifications.sms.ConsoleSms")
# How long replays of an Idempotency-Key and finished terminal webhooks are kept.
IDEMPOTENCY_RETENTION_DAYS = envint("IDEMPOTENCY_RETENTION_DAYS", "7")
# Sent outbox rows (port/outbox.py) are kept this long, to trace what was queued when.
OUTBOX_RETENTION_HOURS = envint("OUTBOX_RETENTION_HOURS", "48")
WEBHOOK_RETENTION_DAYS = envint("WEBHOOK_RETENTION_DAYS", "30")
# Beat runs with a leader lock in Redis, so two beats (two hosts) never both send.
CELERY_BEAT_SCHEDULER = "port.beat:LeaderScheduler"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "port.auth.LoginThrottleBackend",  # first: refuses sign-ins while locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttle (port/auth.py, docs/security.md): an account is locked for an address
# after AXES_FAILURE_LIMIT failures from it, an address for every account after
# LOGIN_ADDRESS_FAILURE_LIMIT, for AXES_COOLOFF_TIME after the last failure.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
LOGIN_ADDRESS_FAILURE_LIMIT = envint("LOGIN_ADDRESS_FAILURE_LIMIT", "25")
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "port.auth.LoginAttemptHandler"
AXES_LOCKOUT_CALLABLE = "port.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are kept; successful sign-ins are not
AXES_VERBOSE = False
# An API token's lifetime in seconds; each sign-in issues a new one.
API_TOKEN_LIFETIME = envint("API_TOKEN_LIFETIME", str(12 * 3600))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "port" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded files on S3-compatible object storage (MinIO, Ceph, AWS S3) when a bucket is
# named, so every web and worker host sees them; credentials from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY. Files are private: Portwise serves them itself, to who may see them.
if env("STORAGE_BUCKET"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("STORAGE_BUCKET"),
            "endpoint_url": env("STORAGE_ENDPOINT_URL") or None,
            "region_name": env("STORAGE_REGION") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(embedded.DATA_DIR / "media")))
MEDIA_URL = "/media/"
# A form's fields (not its files) and any body read whole: as much as a JSON body may be.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    # The token scheme first: it names the challenge (WWW-Authenticate: Token), so a missing,
    # bad or expired token answers 401, not 403; a signed-in browser still uses its session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "port.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON bounded in size and nesting (docs/api-limits.md); forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "port.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "port.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portwise API",
    "DESCRIPTION": "The digital port single window: declarations, inspection, vessel filings, "
    "certificates of origin. Every create accepts an Idempotency-Key header.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; each gets its own enum name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "DeclarationStatusEnum": "declarations.models.Declaration.Status",
        "CertificateStatusEnum": "certificates.models.Certificate.Status",
        "DeclarationDirectionEnum": "declarations.models.Declaration.Direction",
        "GateDirectionEnum": "inspection.models.GateEvent.Direction",
        "InspectionStatusEnum": "inspection.models.Inspection.Status",
        "VesselFilingStatusEnum": "shipping.models.VesselFiling.Status",
        "VesselFilingDirectionEnum": "shipping.models.VesselFiling.Direction",
        "AgencyReviewStatusEnum": "shipping.models.AgencyReview.Status",
        "PortCallStatusEnum": "port.models.PortCall.Status",
        "EdifactImportStatusEnum": "shipping.models.EdifactImport.Status",
        "DangerousGoodsFlagStatusEnum": "shipping.models.DangerousGoodsFlag.Status",
        "BoardingStatusEnum": "shipping.models.BoardingAppointment.Status",
        "DeclarationKindEnum": "declarations.models.Declaration.Kind",
        "EcommerceTradeModeEnum": "ecommerce.models.TradeMode",
        "EcommerceInspectionOutcomeEnum": ["released", "held", "sent_back"],
        "DeclarationTradeModeEnum": "declarations.models.Declaration.TradeMode",
        "AlarmOutcomeEnum": "alarms.models.Alarm.Outcome",
    },
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false" if DEBUG else "true")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp; docs/security.md): scripts only
# from this site or an inline <script nonce="{{ request.csp_nonce }}">, no eval, no inline
# event handlers; styles may be inline (ECharts and style attributes); no plugins, frames
# or foreign form targets. Uploaded files are served with their own sandboxing policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],  # 'self' covers ws:// and wss:// to this host
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Host names and CIDR networks a terminal's webhook may reach although they are not
# public (an on-premise terminal system): port/outbound.py, docs/security.md.
WEBHOOK_ALLOWED_HOSTS = envlist("WEBHOOK_ALLOWED_HOSTS", "")

LOG_FORMAT = env("LOG_FORMAT", "text")  # `json` in production: one JSON object a line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "port.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "pgserver": {"level": "WARNING"},
        # fpdf2 subsets the certificate's CJK font with fontTools, which logs every table.
        "fontTools": {"level": "WARNING"},
        # django-axes reports every sign-in at INFO (user names and addresses masked).
        "axes": {"level": "WARNING"},
    },
}

# Error tracking, when SENTRY_DSN is set (pip install sentry-sdk into the image).
if env("SENTRY_DSN"):
    try:
        import sentry_sdk
    except ImportError:
        raise ImproperlyConfigured("SENTRY_DSN is set but sentry-sdk is not installed") from None
    sentry_sdk.init(
        dsn=env("SENTRY_DSN"),
        environment=env("SENTRY_ENVIRONMENT", "production"),
        send_default_pii=False,  # ID numbers and names never leave the platform
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )
