"""Reading a request's parts: query flags and bounds, path parameters, the deploy body.

Pure (no cluster): every operation parses its request here first, so a bad
request is a 4xx problem naming the parameter before anything is read or written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

import pydantic

from kserve_functions import errors, grammar
from kserve_functions.asgi import Request
from kserve_functions.config import Settings
from kserve_functions.models import DeployRequest, ValidationIssue

TRUE_VALUES = frozenset({"true", "1", "yes"})
FALSE_VALUES = frozenset({"false", "0", "no", ""})
# Idempotency keys become an annotation value; keep them short and printable.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


# -- validation helpers ----------------------------------------------------


def validation_issues(error: pydantic.ValidationError) -> list[ValidationIssue]:
    """Each pydantic error as ``field: message``, with the JSON (camelCase) field path."""
    issues = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"] if part != "[key]")
        message = str(item["msg"]).removeprefix("Value error, ")
        # Cross-field checks name their field at the start of the message.
        if not location and ": " in message:
            location, message = message.split(": ", 1)
        issues.append(ValidationIssue(field=location or "body", message=message))
    return issues


def parse_deploy_request(body: object) -> DeployRequest:
    """Validate a deploy body.

    Raises:
        errors.Invalid: naming every invalid field.
    """
    if not isinstance(body, dict):
        raise errors.Invalid(
            "the body must be a JSON object",
            errors=[ValidationIssue(field="body", message="expected a JSON object")],
        )
    try:
        return DeployRequest.model_validate(body)
    except pydantic.ValidationError as e:
        issues = validation_issues(e)
        fields = ", ".join(dict.fromkeys(issue.field for issue in issues))
        raise errors.Invalid(f"invalid deploy request: {fields}", errors=issues) from e


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true``/``false``, ``1``/``0``).

    Raises:
        errors.Invalid: any other value.
    """
    raw = request.query_value(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise invalid_query(name, f"must be true or false, got {raw[:50]!r}")


def wait_timeout(request: Request, settings: Settings) -> float:
    """The ``timeout`` query parameter in seconds (default and cap from settings).

    Raises:
        errors.Invalid: not a positive number, or above the configured maximum.
    """
    raw = request.query_value("timeout")
    if raw is None:
        return settings.wait_timeout_default_seconds
    try:
        seconds = float(raw.removesuffix("s"))
    except ValueError:
        raise invalid_query("timeout", f"must be a number of seconds, got {raw[:50]!r}") from None
    if not 0 < seconds <= settings.wait_timeout_max_seconds:
        raise invalid_query(
            "timeout", f"must be above 0 and at most {settings.wait_timeout_max_seconds:g} seconds"
        )
    return seconds


def invalid_query(name: str, message: str) -> errors.Invalid:
    """The problem of query parameter ``name``, naming it as the invalid field."""
    return errors.Invalid(
        f"query parameter {name} {message}", errors=[ValidationIssue(field=name, message=message)]
    )


def restart_token(request: Request) -> str:
    """The token that marks this deploy's revision.

    The ``Idempotency-Key`` header when given, so a retried request applies the
    same token and rolls no second revision; else a fresh one, so every update
    restarts the model even with an unchanged image tag (the seed's promise).

    Raises:
        errors.Invalid: the header is not 1-128 printable ASCII characters.
    """
    key = request.header("idempotency-key")
    if key is None:
        return uuid.uuid4().hex
    if not IDEMPOTENCY_KEY.match(key):
        raise errors.Invalid(
            "the Idempotency-Key header must be 1-128 printable ASCII characters without spaces",
            errors=[ValidationIssue(field="Idempotency-Key", message="1-128 printable characters")],
        )
    return key


def path_model(params: Mapping[str, str]) -> tuple[str, str]:
    """The namespace and name of a ``/models/{namespace}/{name}`` path.

    Raises:
        errors.NotFound: they cannot name a model (no such model can exist).
    """
    namespace, name = params["namespace"], params["name"]
    if not (grammar.is_dns1123_label(namespace) and grammar.is_dns1035_label(name)):
        raise errors.NotFound(f"model {namespace[:63]}/{name[:63]} not found")
    return namespace, name


def bounded(request: Request, name: str, maximum: int) -> int | None:
    """A whole-number query parameter from 1 to ``maximum``; None when absent.

    Raises:
        errors.Invalid: any other value.
    """
    raw = request.query_value(name)
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise invalid_query(name, f"must be a whole number from 1 to {maximum}")
    return int(raw)
