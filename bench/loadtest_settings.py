"""The app's own settings, with the load benchmark's urlconf (the bare view added).

Only bench_load.py points gunicorn here (DJANGO_SETTINGS_MODULE); the app never does, so the
bare view cannot be reached in production.
"""

from lipsync_web.settings import *  # noqa: F403

ROOT_URLCONF = "loadtest_urls"
