"""Settings of the example project, shared by the alpha and beta sites."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = [".localhost", "127.0.0.1"]
SITE_TITLE = "the base settings"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
DATABASES = {}  # the demo needs none
USE_TZ = True
TIME_ZONE = "UTC"

# Collected on the host by `manage.py collectstatic` and served by a wasgi
# alias, as the Django guide does with Apache's Alias.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"

# Uploads go to the app's read-write dir, mounted at /media in the guest and
# served back by a /media/ alias.
MEDIA_URL = "/media/"
MEDIA_ROOT = "/media"
FILE_UPLOAD_PERMISSIONS = None  # WASI has no chmod

# Errors reach wasgi's log through stderr.
LOGGING = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
}
