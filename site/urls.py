"""Every request's first hop: one line per area, each pointing at its app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from atelier_site import views
from atelier_site.api import api
from atelier_site.health import healthz

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    re_path(r"^api/", views.page_not_found),  # unknown API paths answer JSON, never HTML
    path("accounts/", include("atelier_site.accounts.urls")),
    path("", include("prompts.urls")),  # /create (the builder)
    path("", include("generation.urls")),  # /jobs, /create/generate, /i/<id>/edit|outpaint, /me/images
    path("", include("gallery.urls")),  # /gallery, /i/<id>, /u/<name>, /c/<id>
    path("", include("atelier_site.book.urls")),  # /book, /book/<chapter>, /book/<category>/<slug>
    path("admin/", admin.site.urls),
]

if settings.SERVE_MEDIA:
    media_prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.*)$", views.media, name="media"))

handler400 = "atelier_site.views.bad_request"
handler403 = "atelier_site.views.permission_denied"
handler404 = "atelier_site.views.page_not_found"
handler500 = "atelier_site.views.server_error"
