"""Settings, all read from the environment with explicit defaults.

The defaults suit `make run` on a developer's machine (a private PostGIS and
Redis under ./var); production sets every value through the environment,
see docker-compose.yml and the README.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from mlcore.gdal_env import apply_network_policy
from webapp.env import database_from_url, envbool, envint, envlist, envstr, envtileurl

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG", "False")
SECRET_KEY = envstr("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "inventories",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

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

DATABASES = {
    "default": database_from_url(
        envstr("DATABASE_URL", "postgis://scarp:scarp@127.0.0.1:54329/scarp")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))

# Everything the server writes (COGs, checkpoints, exports) lives under MEDIA_ROOT.
# GDAL and torch only ever open files below it that the server wrote itself.
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# Limits on what users may send; each refusal names the limit.
SCARP_MAX_RASTER_SAMPLES = envint("SCARP_MAX_RASTER_SAMPLES", str(40_000 * 40_000 * 4))
# Bytes the header declares (width x height x bands x bytes per sample): a small sparse
# file can declare far more than it holds, and the COG conversion would write it all.
SCARP_MAX_RASTER_BYTES = envint("SCARP_MAX_RASTER_BYTES", str(16 * 1024**3))
SCARP_MAX_UPLOAD_BYTES = envint("SCARP_MAX_UPLOAD_BYTES", str(20 * 1024**3))
SCARP_MAX_VECTOR_BYTES = envint("SCARP_MAX_VECTOR_BYTES", str(2 * 1024**3))
SCARP_MAX_VECTOR_FEATURES = envint("SCARP_MAX_VECTOR_FEATURES", "1000000")
# An inventory with more polygons than this is exported by a job, not inside the request.
SCARP_EXPORT_SYNC_MAX_POLYGONS = envint("SCARP_EXPORT_SYNC_MAX_POLYGONS", "5000")
# Rendered imagery tiles are kept under MEDIA_ROOT/tile-cache/<scene id>/ and served from
# there to everyone; a scene's tiles go with the scene. Off: every request renders.
SCARP_TILE_CACHE = envbool("SCARP_TILE_CACHE", "true")
# GDAL reads local files only (no HTTP, /vsicurl/, /vsis3/...) unless an operator
# turns this on; applied here so the web app and every worker start that way.
SCARP_GDAL_ALLOW_NETWORK = envbool("SCARP_GDAL_ALLOW_NETWORK", "false")
apply_network_policy(SCARP_GDAL_ALLOW_NETWORK)
# An optional basemap under the imagery on the editor's and the review's maps: an XYZ
# tile URL and its attribution (shown as text). Off by default: the demo runs offline.
SCARP_BASEMAP_URL = envtileurl("SCARP_BASEMAP_URL")
SCARP_BASEMAP_ATTRIBUTION = envstr("SCARP_BASEMAP_ATTRIBUTION", "")
SCARP_BASEMAP_MAX_ZOOM = envint("SCARP_BASEMAP_MAX_ZOOM", "19")
# STAC imports may name local files only under this folder (empty: none at all).
SCARP_STAC_IMPORT_ROOT = envstr("SCARP_STAC_IMPORT_ROOT", "")
# "auto" uses CUDA when present; "cuda" without one is an error, never a silent CPU run.
SCARP_TRAIN_DEVICE = envstr("SCARP_TRAIN_DEVICE", "auto")
SCARP_PREDICT_BLOCK_SIZE = envint("SCARP_PREDICT_BLOCK_SIZE", "2048")
SCARP_TRAIN_LOADER_WORKERS = envint("SCARP_TRAIN_LOADER_WORKERS", "2")
SCARP_JOB_MAX_ATTEMPTS = envint("SCARP_JOB_MAX_ATTEMPTS", "3")
SCARP_JOB_STALE_SECONDS = envint("SCARP_JOB_STALE_SECONDS", "120")
# A timer thread beats every few seconds while any job step runs (a training
# epoch, a prediction block), so a job that stops beating has lost its worker.
SCARP_JOB_HEARTBEAT_SECONDS = envint("SCARP_JOB_HEARTBEAT_SECONDS", "10")
# A job still queued this long after it was sent, whose message the broker no
# longer holds (a restarted Redis, an enqueue that failed), is sent again.
SCARP_JOB_RESEND_SECONDS = envint("SCARP_JOB_RESEND_SECONDS", "300")
# How long a job step waits for a lost database to come back before giving up.
SCARP_JOB_DB_WAIT_SECONDS = envint("SCARP_JOB_DB_WAIT_SECONDS", "600")
# Celery beat runs the reaper this often.
SCARP_JOB_REAP_SECONDS = envint("SCARP_JOB_REAP_SECONDS", "60")

CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "redis://127.0.0.1:63799/0")
CELERY_RESULT_BACKEND = envstr("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "inventories.tasks.run_gpu_job": {"queue": "gpu"},
    "inventories.tasks.run_default_job": {"queue": "default"},
    "inventories.tasks.predict_block": {"queue": "gpu"},
    "inventories.tasks.finish_prediction": {"queue": "default"},
    "inventories.tasks.reap_jobs": {"queue": "default"},
}
# A job survives the death of the worker running it: the message is only
# acknowledged when the task returns, and a lost worker puts it back.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", str(6 * 3600))
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "False")
CELERY_BEAT_SCHEDULE = {
    "reap-jobs": {
        "task": "inventories.tasks.reap_jobs",
        "schedule": float(SCARP_JOB_REAP_SECONDS),
        # An unconsumed reap is dropped after a while, so a stopped worker finds no pile.
        "options": {"queue": "default", "expires": float(max(60, 2 * SCARP_JOB_REAP_SECONDS))},
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        # The token as a Basic password, for GIS clients that cannot set a header.
        "inventories.api.auth.TokenBasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "inventories.api.limits.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "inventories.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Scarp API",
    "DESCRIPTION": "Landslide mapping: projects, imagery, inventories, jobs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the UI must work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Debian's GDAL 3.6 (used by GeoDjango) cannot block file access in spatial
# inputs. Scarp never hands user strings to GDALRaster or raster lookups: user
# rasters are opened only by rasterio (its own GDAL 3.10) with the GTiff driver,
# and client geometries are parsed by shapely.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (31.14, 98.69),
    "DEFAULT_ZOOM": 13,
    "MAX_ZOOM": 22,
    "TILES": [],
    "RESET_VIEW": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

# Limits at the door: the largest list page (?limit=), and throttles on password guessing.
SCARP_MAX_PAGE_SIZE = envint("SCARP_MAX_PAGE_SIZE", "1000")
SCARP_TOKEN_RATE = envstr("SCARP_TOKEN_RATE", "10/min")
SCARP_LOGIN_ATTEMPTS = envint("SCARP_LOGIN_ATTEMPTS", "10")
SCARP_LOGIN_WINDOW_SECONDS = envint("SCARP_LOGIN_WINDOW_SECONDS", "300")
# Throttle counters live in the cache: set SCARP_CACHE_URL (redis://...) when several
# web processes serve, so they count together; without it each process counts alone.
SCARP_CACHE_URL = envstr("SCARP_CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": SCARP_CACHE_URL}
        if SCARP_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Behind HTTPS (SCARP_HTTPS=true, DEBUG off): cookies only over HTTPS, HSTS, plain HTTP
# redirected, and the proxy's X-Forwarded-Proto trusted to say a request came over HTTPS
# (the proxy must set it and strip it from clients). SECURE_COOKIES overrides the cookies.
SCARP_HTTPS = envbool("SCARP_HTTPS", "False") and not DEBUG
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "True" if SCARP_HTTPS else "False")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if SCARP_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", str(365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "False")
