"""The one domain error every layer raises; the API maps it to its error format.

It lives in `prompts/`, the lowest layer, so every app can raise it without an upward
import. `code` is stable and machine-readable; `message` is for people.
"""

from __future__ import annotations

from typing import Any


class AtelierError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        self.headers = headers or {}

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(AtelierError):
    status = 422
    code = "validation_error"


class NotFound(AtelierError):
    status = 404
    code = "not_found"


class PermissionDenied(AtelierError):
    status = 403
    code = "forbidden"
