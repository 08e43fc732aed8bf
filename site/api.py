"""The REST API: django-ninja under /api/v1/, one error format for everything.

Every error, whatever raised it, leaves as
`{"error": {"code": "...", "message": "...", "details": {...}}}` with a fitting status.
Apps contribute routers; this module only wires them and maps errors.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import (
    AuthenticationError,
    AuthorizationError,
    HttpError,
    Throttled,
    ValidationError,
)
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import AnonRateThrottle, AuthRateThrottle

from atelier_site.accounts.api import router as accounts_router
from atelier_site.accounts.services import token_authenticate
from gallery.api import public_auth as gallery_public_auth
from gallery.api import router as gallery_router
from generation.api import router as generation_router
from prompts.api import router as prompts_router
from prompts.composer import ComposeError
from prompts.errors import AtelierError
from prompts.linter.findings import LintError
from prompts.tokens import TokenizerError
from prompts.wildcards import WildcardError

logger = logging.getLogger(__name__)


class SessionAuth(APIKeyCookie):
    """The browser session (CSRF-checked for unsafe methods, as Django forms are)."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None):
        if request.user.is_authenticated:
            return request.user
        return None


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user


session_auth = SessionAuth(csrf=True)
bearer_auth = BearerAuth()
AUTH = [bearer_auth, session_auth]

api = NinjaAPI(
    title="Atelier API",
    version="1",
    description="Compose prompts, generate images, browse and remix the gallery.",
    urls_namespace="api",
    auth=AUTH,
    throttle=[AnonRateThrottle(settings.API_THROTTLE_ANON), AuthRateThrottle(settings.API_THROTTLE_USER)],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(request, status: int, code: str, message: str, details=None, headers=None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message, "details": details or {}}}, status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


@api.exception_handler(AtelierError)
def _atelier_error(request, exc: AtelierError):
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


@api.exception_handler(ComposeError)
@api.exception_handler(WildcardError)
@api.exception_handler(LintError)
@api.exception_handler(TokenizerError)
def _prompt_error(request, exc):
    # The prompt engine's errors are ValueErrors with a code: bad input, 422.
    return error_response(request, 422, exc.code, str(exc), getattr(exc, "details", None) or {})


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    fields = []
    for err in exc.errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "payload", "query", "path", "form")]
        fields.append({"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type", "")})
    message = "; ".join(f"{f['field'] or 'request'}: {f['message']}" for f in fields) or "Invalid request."
    return error_response(request, 422, "validation_error", message, {"fields": fields})


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return error_response(request, 401, "unauthorized", "Authentication required: log in, or send "
                          "'Authorization: Bearer <token>' with a valid API token.")


@api.exception_handler(AuthorizationError)
def _forbidden(request, exc):
    return error_response(request, 403, "forbidden", str(exc.message) if hasattr(exc, "message") else "Forbidden.")


@api.exception_handler(Throttled)
def _throttled(request, exc: Throttled):
    wait = int(exc.wait) if exc.wait else 1
    return error_response(request, 429, "throttled", f"Too many requests; retry in {wait} s.",
                          {"retry_after": wait}, {"Retry-After": str(max(wait, 1))})


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(Exception)
def _server_error(request, exc):
    logger.exception("API error on %s", request.path)
    return error_response(request, 500, "server_error", "Something went wrong on our side.")


api.add_router("/", accounts_router)
api.add_router("/", prompts_router)
api.add_router("/", generation_router)
gallery_public_auth.authenticators = AUTH  # public reads still know a token's or session's user
api.add_router("/", gallery_router)
