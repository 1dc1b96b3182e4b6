"""The app's URLs plus a bare view: the ceiling of our stack (gunicorn, the same middleware)
for the load benchmark, which compares the app's pages with it. Used by loadtest_settings only.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from lipsync_web.urls import urlpatterns as app_urlpatterns

BARE_URL = "/bench/bare/"


def bare(request: HttpRequest) -> HttpResponse:
    """A fixed short answer: no query, no template, the same middleware as every page."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path(BARE_URL.strip("/") + "/", bare), *app_urlpatterns]
