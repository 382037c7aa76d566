"""Google's JSON error shape and the errors the emulator answers with."""

from __future__ import annotations

from typing import Any

STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

# reason -> (domain, default message)
REASONS = {
    "invalid": ("global", "Invalid Value"),
    "required": ("global", "Required"),
    "badRequest": ("global", "Bad Request"),
    "timeRangeEmpty": ("calendar", "The specified time range is empty."),
    "authError": ("global", "Invalid Credentials"),
    "notFound": ("global", "Not Found"),
    "duplicate": ("global", "The requested identifier already exists."),
    "deleted": ("global", "Resource has been deleted"),
    "fullSyncRequired": ("calendar", "Sync token is no longer valid, a full sync is required."),
    "conditionNotMet": ("global", "Precondition Failed"),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
    "quotaExceeded": ("usageLimits", "Calendar usage limits exceeded."),
    "backendError": ("global", "Backend Error"),
}


class ApiError(Exception):
    """An error answered to the client as Google does: status plus JSON error body."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        location: str | None = None,
    ) -> None:
        domain, default = REASONS.get(reason, ("global", reason))
        self.status = status
        self.reason = reason
        self.domain = domain
        self.message = message or default
        self.headers = dict(headers or {})
        self.location = location
        super().__init__(f"{status} {reason}: {self.message}")

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        }
        if self.location:
            item["locationType"] = "header" if self.location[0].isupper() else "parameter"
            item["location"] = self.location
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [item],
                "status": STATUS_TEXT.get(self.status, "UNKNOWN"),
            }
        }


def invalid(message: str, location: str | None = None) -> ApiError:
    return ApiError(400, "invalid", message, location=location)


def required(message: str) -> ApiError:
    return ApiError(400, "required", message)


def not_found() -> ApiError:
    return ApiError(404, "notFound")
