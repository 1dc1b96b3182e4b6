"""Settings, read from the environment (see the table in README.md).

The defaults run on one machine with no services: SQLite, local media files, Celery on an
embedded filesystem broker, the local engine. Production secrets have no defaults.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from lipsync_web.env import (
    env_bool,
    env_choice,
    env_float_list,
    env_int,
    env_int_list,
    env_list,
    env_required,
    env_str,
    env_url,
)
from projects.engines.base import EngineName  # plain Python: safe to import from settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LIPSYNC_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY") or "insecure-development-key-only-used-with-DEBUG-on"
else:
    SECRET_KEY = env_required(
        "SECRET_KEY", "a long random string; it is required when DEBUG is off."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", schemes=("http", "https"))
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", [PUBLIC_BASE_URL] if PUBLIC_BASE_URL else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials.apps.SimpleAppConfig",
    "csp",
    "axes",
    "projects",
]

MIDDLEWARE = [
    # The header-setting middleware comes first, so that every answer carries its headers,
    # including the 400 that CommonMiddleware gives a request for a host we do not serve.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused during a lock into our "try again in N minutes" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lipsync_web.urls"
WSGI_APPLICATION = "lipsync_web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "projects.context_processors.engine_limits",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "projects.templatetags.lipsync",
            ],
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
        },
    }
]


def _database() -> dict:
    url = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as error:  # dj_database_url raises several types for a bad URL
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL we understand: {error}"
        ) from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # The web process and the worker share one file: WAL lets readers go on while one
        # writes, IMMEDIATE transactions avoid "database is locked" on upgrade to write.
        # Connections are kept (CONN_MAX_AGE, as for PostgreSQL): opening one costs 1.5 ms here
        # (Django registers its SQL functions on each), more than a polled status answer.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # A file, not memory, so that Celery workers started by the tests see the test data.
        config["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Login throttling (django-axes) ----------------------------------------------------------
# Failed logins are counted per account and per address, on the app's login and the review
# panel's alike; past the limit that account, or that address, waits for the lock to end.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked account or address first
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LIPSYNC_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LIPSYNC_LOGIN_LOCK_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
# Attempts during a lock neither count nor extend it: "try again in N minutes" stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "projects.views.accounts.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # successful logins need no row each
# Behind proxies the client's address is the one they add to X-Forwarded-For; without any, a
# forged X-Forwarded-For must not pick the address that is counted.
LIPSYNC_PROXY_COUNT = env_int("LIPSYNC_PROXY_COUNT", 0, minimum=0)
AXES_IPWARE_PROXY_COUNT = LIPSYNC_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if LIPSYNC_PROXY_COUNT else ["REMOTE_ADDR"]
)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
FORMAT_MODULE_PATH = ["lipsync_web.formats"]  # one date format for the app and the panel
TIME_ZONE = env_str("TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
# Uploads are streamed to a temporary file from the first byte (see projects/uploads.py).
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_url("AWS_S3_ENDPOINT_URL", schemes=("http", "https")),
            "region_name": env_str("AWS_S3_REGION_NAME"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": "/never-served-directly/"},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": "lipsync_web.staticfiles.ProductionStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Engine --------------------------------------------------------------------------------
LIPSYNC_ENGINE = env_choice("LIPSYNC_ENGINE", tuple(EngineName), EngineName.LOCAL)
KLING_BASE_URL = env_url(
    "KLING_BASE_URL", "https://api-singapore.klingai.com", schemes=("http", "https")
)
KLING_ACCESS_KEY = env_str("KLING_ACCESS_KEY") or ""
KLING_SECRET_KEY = env_str("KLING_SECRET_KEY") or ""
LIPSYNC_PROXY_BASE_URL = env_url(
    "LIPSYNC_PROXY_BASE_URL", "https://api.acedata.cloud", schemes=("http", "https")
)
LIPSYNC_PROXY_TOKEN = env_str("LIPSYNC_PROXY_TOKEN") or ""
# Whether the API proxy offers Kling's text to speech (/kling/v1/audio/tts); without it typed
# speech is made by the offline voice and lip-synced from its file.
LIPSYNC_PROXY_TTS = env_bool("LIPSYNC_PROXY_TTS", default=False)
if LIPSYNC_ENGINE == EngineName.KLING and not (KLING_ACCESS_KEY and KLING_SECRET_KEY):
    raise ImproperlyConfigured(
        "KLING_ACCESS_KEY and KLING_SECRET_KEY must both be set when LIPSYNC_ENGINE=kling."
    )
if LIPSYNC_ENGINE == EngineName.PROXY and not LIPSYNC_PROXY_TOKEN:
    raise ImproperlyConfigured("LIPSYNC_PROXY_TOKEN must be set when LIPSYNC_ENGINE=proxy.")
LIPSYNC_ENGINE_WORKDIR = VAR_DIR / "engine"
LIPSYNC_MAX_CONCURRENT = env_int("LIPSYNC_MAX_CONCURRENT", 3, minimum=1)
# Hosts the result fetcher may reach although they are private (e.g. the simulator on loopback).
LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS = frozenset(env_list("LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS", []))
LIPSYNC_MEDIA_LINK_MAX_AGE = env_int("LIPSYNC_MEDIA_LINK_MAX_AGE", 3600, minimum=60)
# Pipeline timing (see projects/services/pipeline.py).
LIPSYNC_POLL_INTERVALS_S = env_int_list("LIPSYNC_POLL_INTERVALS_S", [5, 10, 20, 40, 60])
LIPSYNC_TASK_GIVE_UP_S = env_int("LIPSYNC_TASK_GIVE_UP_S", 3600, minimum=10)
# Waits between attempts to send a task the engine did not take: the first, then doubling
# (with jitter) up to the second. Shortened in tests; keep the cap under the broker's
# visibility timeout.
LIPSYNC_RETRY_BACKOFF_S = env_float_list("LIPSYNC_RETRY_BACKOFF_S", [5.0, 300.0])
if len(LIPSYNC_RETRY_BACKOFF_S) != 2 or LIPSYNC_RETRY_BACKOFF_S[0] > LIPSYNC_RETRY_BACKOFF_S[1]:
    raise ImproperlyConfigured(
        "LIPSYNC_RETRY_BACKOFF_S must be two numbers, the first wait and the longest, "
        f"e.g. 5,300, not {LIPSYNC_RETRY_BACKOFF_S!r}."
    )
LIPSYNC_SUBMIT_TIME_LIMIT_S = env_int("LIPSYNC_SUBMIT_TIME_LIMIT_S", 900, minimum=5)
LIPSYNC_RECONCILE_EVERY_S = env_int("LIPSYNC_RECONCILE_EVERY_S", 30, minimum=1)
# A dub's step (starting one of its jobs; twice this for putting it together) claimed longer
# ago than this lost its worker, and is taken up again. Longer than such a step takes; a step
# taken up twice still sends each job once (the first task attached wins).
LIPSYNC_DUB_STALE_S = env_int("LIPSYNC_DUB_STALE_S", 900, minimum=5)
LIPSYNC_RESULT_MAX_BYTES = env_int("LIPSYNC_RESULT_MAX_BYTES", 500 * 1024 * 1024, minimum=1)

# --- Celery --------------------------------------------------------------------------------
_celery_dir = VAR_DIR / "celery"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if not CELERY_BROKER_URL.startswith(
    ("filesystem://", "redis://", "rediss://", "amqp://", "memory://")
):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must start with filesystem://, redis://, rediss:// or amqp://, "
        f"not {CELERY_BROKER_URL!r}."
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict = (
    {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {"visibility_timeout": 2 * 3600}  # above the longest countdown we schedule
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "lipsync_web.broker:Transport"  # messages put in place whole
    for _folder in ("queue", "control"):
        (_celery_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(_celery_dir / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    "reconcile-tasks": {
        "task": "projects.background.reconcile",
        "schedule": float(LIPSYNC_RECONCILE_EVERY_S),
        "options": {"expires": float(LIPSYNC_RECONCILE_EVERY_S)},
    },
    "reconcile-dubs": {
        "task": "projects.background.reconcile_dubs",
        "schedule": float(LIPSYNC_RECONCILE_EVERY_S),
        "options": {"expires": float(LIPSYNC_RECONCILE_EVERY_S)},
    },
}

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_tls = env_bool(
    "LIPSYNC_TLS", default=bool(PUBLIC_BASE_URL and PUBLIC_BASE_URL.startswith("https"))
)
SESSION_COOKIE_SECURE = _tls
CSRF_COOKIE_SECURE = _tls
SECURE_SSL_REDIRECT = _tls and env_bool("SECURE_SSL_REDIRECT", default=True)
# Redirect to our own public host rather than the one the request names: the redirect then
# never reads the Host header, which is checked (400) inside the header-setting middleware.
SECURE_SSL_HOST = urlparse(PUBLIC_BASE_URL).netloc if _tls and PUBLIC_BASE_URL else None
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _tls else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _tls else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _tls
SECURE_HSTS_PRELOAD = _tls
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # wavesurfer.js styles its shadow DOM with a <style> element.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "lipsync-web@localhost"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "lipsync_web.logmasking.MaskSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
