"""Site-wide pages: home and the error pages (JSON under /api/)."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.static import serve


def home(request):
    return render(request, "home.html")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found.", "details": {}}}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "server_error", "message": "Something went wrong on our side.",
                                       "details": {}}}, status=500)
    return render(request, "500.html", status=500)


def permission_denied(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "forbidden", "message": "Forbidden.", "details": {}}}, status=403)
    return render(request, "403.html", status=403)


def bad_request(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "bad_request", "message": "Bad request.", "details": {}}}, status=400)
    return render(request, "400.html", status=400)


def media(request, path: str):
    """Local media (when not on S3). MEDIA_ROOT is read per request, not at URL load."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
