"""Apiserver answers onto the API's errors: one table, pure.

The sender (``kube.transport``) hands every failed answer here; nothing above
the kube layer sees an apiserver status or the client's exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kserve_functions.core import errors, fields
from kserve_functions.core.models import ValidationIssue

# Kubernetes answers with a Status object whose message is for people; cap what
# we pass on, so a huge or odd body never floods a response or a log.
MESSAGE_LIMIT = 500

# The apiserver's wording (k8s.io/apiserver admission webhook errors) for a
# webhook's refusal and for a webhook it could not call.
ADMISSION_DENIAL = "denied the request"
WEBHOOK_CALL_FAILURE = "failed calling webhook"
# KServe's validator refusing an update for what the model already is
# ("update rejected: deploymentMode cannot be changed from ...").
UPDATE_REFUSAL = "update rejected:"
# Without a hint from the apiserver, how long a caller should wait to retry.
DEFAULT_RETRY_AFTER_SECONDS = 5

# The apiserver's status codes, each with the error the API reports and its
# detail, from the operation (``what``) and the apiserver's message. A status
# not listed (5xx, timeouts) is Unavailable: worth retrying.
_STATUS_ERRORS: dict[int, tuple[type[errors.ApiError], str]] = {
    400: (errors.BadRequest, "the cluster refused {what}: {message}"),
    401: (errors.Unavailable, "the Kubernetes API refused this service's credentials"),
    403: (errors.Forbidden, "this service's own identity may not access {what}: {message}"),
    404: (errors.NotFound, "{what} not found"),
    409: (errors.Conflict, "{what}: {message}"),
    410: (errors.Gone, "{what}: the continue token has expired; list again without it"),
    422: (errors.Invalid, "the cluster refused {what}: {message}"),
    429: (errors.Unavailable, "the Kubernetes API is throttling requests for {what}"),
}
_OTHER_STATUS: tuple[type[errors.ApiError], str] = (
    errors.Unavailable,
    "the Kubernetes API failed on {what} ({status})",
)


def status_message(body: Mapping[str, Any]) -> str:
    """The apiserver's message of a Status ``body``, capped."""
    return str(body.get("message") or "")[:MESSAGE_LIMIT]


def map_status(status: int, body: Mapping[str, Any], *, what: str) -> errors.ApiError:
    """The API's error for an apiserver answer ``status`` with Status ``body``.

    The table above, plus two answers told apart by the apiserver's message,
    because their status codes mean something else too: a webhook's refusal
    (controller-runtime answers KServe's validation failures with 403,
    "admission webhook ... denied the request") is the request's fault, so
    Invalid (Conflict when KServe refuses an update for what the model already
    is, "update rejected: ..."); a webhook the apiserver could not call (any status, "failed
    calling webhook") is Unavailable, nothing having been written. Every
    Unavailable carries the apiserver's ``details.retryAfterSeconds`` when it
    gave one.
    """
    message = status_message(body)
    details = fields.mapping(body, "details")
    if status == 403 and ADMISSION_DENIAL in message:  # noqa: PLR2004 - Forbidden
        if UPDATE_REFUSAL in message:
            # A valid request that the model's current state refuses (KServe keeps a
            # model's deploymentMode): a conflict with what exists, not invalid input.
            return errors.Conflict(f"KServe refused {what}: {message}")
        return errors.Invalid(f"KServe refused {what}: {message}")
    error_class: type[errors.ApiError]
    if WEBHOOK_CALL_FAILURE in message:
        error_class = errors.Unavailable
        template = "an admission webhook did not answer for {what}; try again later: {message}"
    else:
        error_class, template = _STATUS_ERRORS.get(status, _OTHER_STATUS)
    detail = template.format(what=what, message=message, status=status)
    if issubclass(error_class, errors.Unavailable):
        hint = details.get("retryAfterSeconds")
        retry_after = hint if isinstance(hint, int) and hint > 0 else DEFAULT_RETRY_AFTER_SECONDS
        return errors.Unavailable(detail, retry_after_seconds=retry_after)
    causes = fields.items(details, "causes") if issubclass(error_class, errors.Invalid) else []
    issues = [
        ValidationIssue(
            field=str(cause.get("field") or ""),
            message=str(cause.get("message") or "")[:MESSAGE_LIMIT],
        )
        for cause in causes
    ]
    return error_class(detail, errors=issues)
