"""Static files straight from the apps, with no collectstatic: development and tests.
Production serves what `collectstatic` gathered into STATIC_ROOT (base.py)."""

from config.env import VAR_DIR

WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise wants STATIC_ROOT to exist.
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
