"""The one exception hierarchy of the API, and its problem+json form (RFC 9457).

Every failure a caller can cause or see is one of these classes, raised with a
``detail`` that names the problem (a field, a model, a verb and namespace) and
never a token or a stack trace. The HTTP layer turns each into
``application/problem+json`` with the class's status code, in one place; event
replies reuse the same ``Problem`` body. The Kubernetes module maps apiserver
answers onto these classes, so nothing above it sees ``ApiException``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from kserve_functions.core.models import Problem, ValidationIssue

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApiError(Exception):
    """A failure with an HTTP status; subclasses fix the status and title."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    # Whether the same request may succeed later unchanged (the cluster was
    # unavailable): an event sender should then redeliver rather than give up.
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[ValidationIssue] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def problem(self) -> Problem:
        """The RFC 9457 body for this error."""
        return Problem(
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors or None,
        )


class BadRequest(ApiError):
    """The request cannot be read at all (invalid JSON, malformed query)."""

    status = 400
    title = "Bad Request"


class Unauthorized(ApiError):
    """No credentials, or credentials the cluster does not accept."""

    status = 401
    title = "Unauthorized"


class Forbidden(ApiError):
    """Authenticated, but not allowed to do this (RBAC or an allowlist)."""

    status = 403
    title = "Forbidden"


class NotFound(ApiError):
    """No such model, or no such route."""

    status = 404
    title = "Not Found"


class MethodNotAllowed(ApiError):
    """The path exists but not with this method; ``Allow`` lists the methods."""

    status = 405
    title = "Method Not Allowed"

    def __init__(self, detail: str, *, allowed: Sequence[str]) -> None:
        super().__init__(detail, headers={"Allow": ", ".join(allowed)})


class Conflict(ApiError):
    """The apiserver refused the change as conflicting (409)."""

    status = 409
    title = "Conflict"


class Gone(ApiError):
    """A list's ``continue`` token has expired; start the list again."""

    status = 410
    title = "Gone"


class PayloadTooLarge(ApiError):
    """The body is larger than the configured limit."""

    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(ApiError):
    """The body is not ``application/json``."""

    status = 415
    title = "Unsupported Media Type"


class Invalid(ApiError):
    """The body or a parameter is well-formed but not valid; ``errors`` names each field."""

    status = 422
    title = "Unprocessable Content"


class Unavailable(ApiError):
    """The Kubernetes API cannot be reached or timed out; worth retrying later."""

    status = 503
    title = "Service Unavailable"

    retryable = True

    def __init__(
        self,
        detail: str,
        *,
        retry_after_seconds: int = 5,
        errors: Sequence[ValidationIssue] = (),
    ) -> None:
        super().__init__(detail, errors=errors, headers={"Retry-After": str(retry_after_seconds)})


class Internal(ApiError):
    """A failure of this service itself; the detail never carries internals."""

    status = 500
    title = "Internal Server Error"
