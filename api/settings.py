"""Django settings. Embedded mode by default (SQLite under var/); PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from api.embedded import var_dir
from api.keyfile import KEYS_FILE_NAME, read_keys

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = var_dir()  # SAFETY_VAR_DIR, default var/

# The keys `manage.py serve` generated on its first start (mode 0600); the environment overrides each of them.
KEYS_FILE = VAR_DIR / KEYS_FILE_NAME
STORED_KEYS = read_keys(KEYS_FILE)


def configured_key(name: str, development_default: str) -> str:
    """The environment variable ``name``, else the key stored in ``KEYS_FILE``, else the public development key."""
    return os.environ.get(name, "") or STORED_KEYS.get(name, "") or development_default


# DJANGO_DEBUG=0 is production: see the checks at the end. `manage.py serve` runs with DEBUG off unless asked.
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = configured_key("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "projections",
    "api",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.metrics.MetricsMiddleware",  # counts every answer, the guards' refusals and the 500s included
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files (admin, Swagger UI) under any WSGI server
    "api.middleware.RequestGuardMiddleware",
    "api.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "api.urls"
WSGI_APPLICATION = "api.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "api.web.nav.navigation",
            ],
        },
    },
]


def database_from_url(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be postgresql://…, got {parsed.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parsed.path.lstrip("/"),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "127.0.0.1",
        "PORT": str(parsed.port or 5432),
        "CONN_MAX_AGE": 60,
    }


def sqlite_database(var_dir: Path) -> Path:
    """The embedded installation's one file; an installation written before one-database keeps its file's name."""
    legacy = var_dir / "readmodels.sqlite3"
    return legacy if legacy.exists() and not (var_dir / "safety.sqlite3").exists() else var_dir / "safety.sqlite3"


DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_database(VAR_DIR),
            # Tests use a file too: concurrent writers then wait for SQLite's lock as they do in the product
            # (an in-memory database shared between threads refuses them at once, ``database table is locked``).
            # One per test process: two runs in one checkout must not share (or delete) each other's.
            "TEST": {"NAME": str(VAR_DIR / f"test-safety-{os.getpid()}.sqlite3")},
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }

# One database per installation: the event log is in it too (projections.eventstore). Before that, embedded
# installations kept the log in a second file: `manage.py migrate` copies it in (projections migration 0014).
LEGACY_EVENT_STORE_SQLITE = Path(os.environ.get("EVENT_STORE_SQLITE", VAR_DIR / "events.sqlite3"))

KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
KAFKA_TOPIC_PREFIX = os.environ.get("KAFKA_TOPIC_PREFIX", "school-safety")
KAFKA_API_VERSION = os.environ.get("KAFKA_API_VERSION", "")
DEADLINE_WATCHER = os.environ.get("DEADLINE_WATCHER", "on")
# /metrics (api/metrics.py): answered only with `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics is a 404.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# How long a command's stored outcome answers a retry with the same Idempotency-Key (api.idempotency); older
# outcomes are deleted by `manage.py purge_idempotency_keys` (or when their key is used again).
IDEMPOTENCY_KEY_TTL = timedelta(hours=float(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "24")))

# Integrity of the log (DESIGN §3): Ed25519 seed (32 bytes, hex) signing the chain checkpoints.
# The development key below is public; production settings refuse to start with it.
DEV_INTEGRITY_SIGNING_KEY = "00" * 31 + "01"
INTEGRITY_SIGNING_KEY = configured_key("INTEGRITY_SIGNING_KEY", DEV_INTEGRITY_SIGNING_KEY)
CHECKPOINT_EVERY = int(os.environ.get("CHECKPOINT_EVERY", "1000"))  # events between signed checkpoints

# Police-only content (DESIGN §6) enters the log only as AES-GCM ciphertext under this police-held key
# (32 bytes, hex), generated and stored like the keys above by the embedded server. The development key below is
# public; production settings refuse to start with it.
DEV_POLICE_CONTENT_KEY = "00" * 31 + "02"
POLICE_CONTENT_KEY = configured_key("POLICE_CONTENT_KEY", DEV_POLICE_CONTENT_KEY)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the apps' static files (admin, drf-spectacular-sidecar's Swagger UI) straight from where the
# packages installed them, in every mode and under any WSGI server: no `collectstatic`, so no STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"

# Response headers for every mode (SecurityMiddleware, XFrameOptionsMiddleware); the pages use inline CSS
# only and load nothing from another origin, so their Content-Security-Policy allows nothing else.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # request bodies above 1 MiB are refused (but an attachment's upload)
# Attachments (photos, PDFs): POST attachments/ takes a multipart body up to this size for its file (413 beyond);
# their bytes are kept in the "attachments" storage — the installation's database unless configured otherwise.
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024)))
# 整改完成须附照片: rectify needs at least one photo of the result (JPEG/PNG/WebP) unless set to 0 (立行立改 never does)
RECTIFY_REQUIRES_PHOTO = os.environ.get("RECTIFY_REQUIRES_PHOTO", "1") == "1"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {"BACKEND": "projections.attachments.DatabaseStorage"},
}

# Bounded reports (api.renderpool): a report with more table rows than its format allows is refused before it is
# rendered (400 report_too_large); PDF/XLSX files are rendered in child processes, at most
# REPORT_RENDER_CONCURRENCY at once for the whole server (lock files in REPORT_RENDER_SLOTS; others 429), each
# killed after REPORT_RENDER_TIMEOUT seconds (504) or when its client has gone. 2,000 rows is a school ledger of
# 666 hazards: about 12 s alone; 2,200 rows took 55 s with two renders on two cores shared three times over
# (BENCHMARKS.md, issue 13).
REPORT_MAX_ROWS = {
    "json": int(os.environ.get("REPORT_MAX_ROWS_JSON", "100000")),
    "pdf": int(os.environ.get("REPORT_MAX_ROWS_PDF", "2000")),
    "xlsx": int(os.environ.get("REPORT_MAX_ROWS_XLSX", "20000")),
}
REPORT_RENDER_TIMEOUT = float(os.environ.get("REPORT_RENDER_TIMEOUT", "60"))
REPORT_RENDER_CONCURRENCY = int(os.environ.get("REPORT_RENDER_CONCURRENCY", "2"))
REPORT_RENDER_SLOTS = VAR_DIR / "render-slots"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.ActorTokenAuthentication",
        "api.auth.ActorSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "api.auth.WritersOnly"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.common.LimitOffset",
    "PAGE_SIZE": 100,
    # Every date-time out of the API in Asia/Shanghai (+08:00), whatever zone it was stored or given in.
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.BeijingJSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Login attempts (token endpoint and login page) per client address and username.
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("LOGIN_RATE", "10/min")},
    # Proxies in front of the server whose X-Forwarded-For may be trusted; 0: the client address is REMOTE_ADDR.
    "NUM_PROXIES": int(os.environ.get("DJANGO_NUM_PROXIES", "0")),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "校园安全隐患排查整治 API",
    "DESCRIPTION": "Event-sourced school-safety hazard inspection and rectification ledger.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.error_responses",
        "api.schema.summaries",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "api.logging.JsonFormatter"},
    },
    "filters": {
        "request_id": {"()": "api.logging.RequestIdFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {
            "handlers": ["console"],
            "level": "ERROR",
            "propagate": False,
            "filters": ["request_id"],
        },
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "kafka": {"level": os.environ.get("KAFKA_LOG_LEVEL", "WARNING")},
    },
}

# 倒查追责 thresholds (DESIGN §2): R2 escalate within days, R3 major hazard response hours,
# R5 recurrence window days, R6 days for the receiving unit to respond.
ACCOUNTABILITY_THRESHOLDS = {
    "escalate_within_days": int(os.environ.get("ESCALATE_WITHIN_DAYS", "3")),
    "major_response_hours": int(os.environ.get("MAJOR_RESPONSE_HOURS", "24")),
    "recur_within_days": int(os.environ.get("RECUR_WITHIN_DAYS", "90")),
    "respond_within_days": int(os.environ.get("RESPOND_WITHIN_DAYS", "5")),
}


# --- production (DJANGO_DEBUG=0) ----------------------------------------------------------------------

# Whether browsers reach this server over HTTPS (directly or through a TLS-terminating proxy). Production assumes
# so; the embedded server on a school's LAN is plain HTTP (it sets DJANGO_HTTPS=0), where Secure cookies would
# never be sent back and nobody could log in.
SERVED_OVER_HTTPS = os.environ.get("DJANGO_HTTPS", "0" if DEBUG else "1") == "1"

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
if SERVED_OVER_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SSL_REDIRECT", "0") == "1"
    if REST_FRAMEWORK["NUM_PROXIES"]:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def production_problems() -> list[str]:
    """What keeps these settings from being safe in production: public defaults and no host names."""
    problems = []
    if SECRET_KEY == DEV_SECRET_KEY:
        problems.append("DJANGO_SECRET_KEY is unset or the public development default")
    if INTEGRITY_SIGNING_KEY in ("", DEV_INTEGRITY_SIGNING_KEY):
        problems.append("INTEGRITY_SIGNING_KEY is unset or the public development key (DEV_INTEGRITY_SIGNING_KEY)")
    if POLICE_CONTENT_KEY in ("", DEV_POLICE_CONTENT_KEY) or not re.fullmatch(r"[0-9a-fA-F]{64}", POLICE_CONTENT_KEY):
        problems.append(
            "POLICE_CONTENT_KEY is unset, not 64 hex characters, or the public development key (DEV_POLICE_CONTENT_KEY)"
        )
    if not os.environ.get("DJANGO_ALLOWED_HOSTS", "").strip(", "):
        problems.append("DJANGO_ALLOWED_HOSTS is unset (the host names this server answers to, comma-separated)")
    return problems


if not DEBUG and production_problems():
    raise ImproperlyConfigured(
        "Refusing to start in production (DJANGO_DEBUG=0): "
        + "; ".join(production_problems())
        + ". Set these environment variables (or use `manage.py serve`, which generates the keys into "
        + f"{KEYS_FILE}), or DJANGO_DEBUG=1 for development."
    )
