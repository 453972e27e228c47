"""Reading a request's parts: query flags and bounds, path parameters, the deploy body.

Pure (no cluster): every operation parses its request here first, so a bad
request is a 4xx problem naming the parameter before anything is read or written.

Each parameter's grammar is defined once, here, and used twice: the parser
refuses what it does not match, and ``contract`` publishes it (``*_SCHEMA``,
``*_schema``) as the parameter's JSON Schema in the OpenAPI document, so the
document and the server accept exactly the same values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from kserve_functions.config import Settings
from kserve_functions.core import errors, grammar
from kserve_functions.core.models import DeployRequest, ValidationIssue
from kserve_functions.http.asgi import Request

_Body = TypeVar("_Body", bound=pydantic.BaseModel)

# A flag is spelled true or false, nothing else: one spelling per value keeps the
# document's enum exact (it was lenient: 1/yes/0/no/empty, any case, which the
# document could not list).
FLAG_VALUES = ("true", "false")
FLAG_SCHEMA: dict[str, Any] = {"type": "string", "enum": list(FLAG_VALUES)}
# Idempotency keys become an annotation value; keep them short and printable.
IDEMPOTENCY_KEY_MAX = 128
IDEMPOTENCY_KEY = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}$")
IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": "^[!-~]+$",
    "minLength": 1,
    "maxLength": IDEMPOTENCY_KEY_MAX,
}
# Numbers as JSON spells them (what "number" and "integer" in the document mean),
# without a sign: float() alone would also take "inf", "1_0", ".5" and non-ASCII
# digits, and str.isdigit() "²", which int() refuses. A whole number has few
# digits, so int() never sees a string long enough to be slow or refused.
_NUMBER = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_WHOLE = re.compile(r"0|[1-9][0-9]{0,11}")


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


def parse_body(model: type[_Body], body: object, *, what: str) -> _Body:
    """Validate a JSON request body as ``model``; ``what`` names it in the problem.

    Raises:
        errors.Invalid: not a JSON object, or naming every invalid field.
    """
    if not isinstance(body, dict):
        raise errors.Invalid(
            "the body must be a JSON object",
            errors=[ValidationIssue(field="body", message="expected a JSON object")],
        )
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as e:
        issues = validation_issues(e)
        fields = ", ".join(dict.fromkeys(issue.field for issue in issues))
        raise errors.Invalid(f"invalid {what}: {fields}", errors=issues) from e


def parse_deploy_request(body: object) -> DeployRequest:
    """Validate a deploy body (``parse_body``).

    Raises:
        errors.Invalid: naming every invalid field.
    """
    return parse_body(DeployRequest, body, what="deploy request")


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter: ``true`` or ``false`` (``FLAG_SCHEMA``); absent is false.

    Raises:
        errors.Invalid: any other value (an empty one, ``1``, ``True`` included).
    """
    raw = request.query_value(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise invalid_query(name, f"must be true or false, got {raw[:50]!r}")


def timeout_schema(settings: Settings) -> dict[str, Any]:
    """The JSON Schema of ``timeout`` under ``settings`` (its maximum is configured)."""
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": settings.wait_timeout_max_seconds,
        "default": settings.wait_timeout_default_seconds,
    }


def wait_timeout(request: Request, settings: Settings) -> float:
    """The ``timeout`` query parameter in seconds (default and cap from settings).

    Checked whether or not ``wait=true`` uses it: a parameter the document
    describes is refused when invalid, not ignored.

    Raises:
        errors.Invalid: not a positive number, or above the configured maximum.
    """
    raw = request.query_value("timeout")
    if raw is None:
        return settings.wait_timeout_default_seconds
    if not _NUMBER.fullmatch(raw):
        raise invalid_query("timeout", f"must be a number of seconds, got {raw[:50]!r}")
    seconds = float(raw)
    if not 0 < seconds <= settings.wait_timeout_max_seconds:
        raise invalid_query(
            "timeout", f"must be above 0 and at most {settings.wait_timeout_max_seconds:g} seconds"
        )
    return seconds


def wait_seconds(request: Request, settings: Settings) -> float | None:
    """How long to wait: None without ``wait=true``, else ``timeout`` (``wait_timeout``).

    Both parameters are checked either way.

    Raises:
        errors.Invalid: ``wait`` or ``timeout`` is invalid.
    """
    wait = flag(request, "wait")
    timeout = wait_timeout(request, settings)
    return timeout if wait else None


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


def bounded_schema(maximum: int, *, default: int | None = None) -> dict[str, Any]:
    """The JSON Schema of a ``bounded`` parameter."""
    schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": maximum}
    if default is not None:
        schema["default"] = default
    return schema


def bounded(request: Request, name: str, maximum: int) -> int | None:
    """A whole-number query parameter from 1 to ``maximum``; None when absent.

    Raises:
        errors.Invalid: any other value.
    """
    raw = request.query_value(name)
    if raw is None:
        return None
    if not _WHOLE.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise invalid_query(name, f"must be a whole number from 1 to {maximum}")
    return int(raw)


# -- the model list's parameters ---------------------------------------------------

ALL_NAMESPACES = "*"
DEFAULT_NAMESPACE = "default"
MAX_LIST_LIMIT = 1000


def text_schema(pattern: str, max_length: int) -> dict[str, Any]:
    """The JSON schema of a string parameter: its ``pattern`` and ``max_length``."""
    return {"type": "string", "pattern": pattern, "maxLength": max_length}


NAMESPACE_SCHEMA: dict[str, Any] = {
    **text_schema(rf"^(\*|{grammar.DNS1123_LABEL[1:-1]})$", grammar.LABEL_MAX),
    "default": DEFAULT_NAMESPACE,
}
MODEL_NAMESPACE_SCHEMA = text_schema(grammar.DNS1123_LABEL, grammar.LABEL_MAX)
MODEL_NAME_SCHEMA = text_schema(grammar.DNS1035_LABEL, grammar.LABEL_MAX)

# A Kubernetes label selector (k8s.io/apimachinery/pkg/labels, ``Parse``) as one
# regular expression, so the document can publish it as the parameter's pattern:
# requirements joined by ",", each ``key``, ``!key``, ``key=value``,
# ``key==value``, ``key!=value``, ``key>N``, ``key<N``, ``key in (v1,v2)`` or
# ``key notin (v1,v2)``, with spaces between tokens. It is a subset of what the
# apiserver parses, never more: spaces only (no tabs or newlines); a key's
# prefix of at most four DNS labels of at most 62 characters (always within the
# 253 a DNS subdomain may have, a bound a pattern could not state otherwise);
# N of at most 18 digits (always an int64).
_SUBDOMAIN_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,60}[a-z0-9])?"
_SELECTOR_KEY = (
    rf"(?:{_SUBDOMAIN_LABEL}(?:\.{_SUBDOMAIN_LABEL}){{0,3}}/)?"
    rf"[A-Za-z0-9](?:[-A-Za-z0-9_.]{{0,{grammar.LABEL_MAX - 2}}}[A-Za-z0-9])?"
)
_SELECTOR_VALUE = rf"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{{0,{grammar.LABEL_MAX - 2}}}[A-Za-z0-9])?)?"
_REQUIREMENT = (
    rf"(?:! *{_SELECTOR_KEY}"
    rf"|{_SELECTOR_KEY}(?: *(?:=|==|!=) *{_SELECTOR_VALUE}"
    r"| *[<>] *[0-9]{1,18}"
    rf"| +(?:in|notin) *\( *{_SELECTOR_VALUE}(?: *, *{_SELECTOR_VALUE})* *\))?)"
)
LABEL_SELECTOR = rf"^ *(?:{_REQUIREMENT}(?: *, *{_REQUIREMENT})*)? *$"
LABEL_SELECTOR_MAX = 4096
LABEL_SELECTOR_SCHEMA = text_schema(LABEL_SELECTOR, LABEL_SELECTOR_MAX)
# A continue token: the apiserver's (unpadded base64url) or one of ``continuation``
# ("ns." and unpadded base64url). Its meaning is the server's: a token that is
# well-formed but not one the server handed out is refused (400), an expired one
# is 410; valid ones come from a previous answer's ``continue``.
CONTINUE_MAX = 4096
CONTINUE_SCHEMA = text_schema(r"^(ns\.)?[A-Za-z0-9_-]+$", CONTINUE_MAX)
_CONTINUE = re.compile(r"(?:ns\.)?[A-Za-z0-9_-]+")


def list_namespace(request: Request) -> str | None:
    """The ``namespace`` of ``GET /models``: None for every namespace (``*``).

    Raises:
        errors.Invalid: neither a namespace name nor ``*`` (``NAMESPACE_SCHEMA``).
    """
    raw = request.query_value("namespace")
    if raw is None:
        return DEFAULT_NAMESPACE
    if raw == ALL_NAMESPACES:
        return None
    if not grammar.is_dns1123_label(raw):
        raise invalid_query("namespace", "must be a namespace name or *")
    return raw


def label_selector(request: Request) -> str | None:
    """The ``labelSelector`` query parameter; None when absent or blank.

    Raises:
        errors.Invalid: not a label selector (``LABEL_SELECTOR``), or too long.
    """
    raw = request.query_value("labelSelector")
    if raw is None:
        return None
    # The length first: it also bounds the pattern's work on hostile input.
    if len(raw) > LABEL_SELECTOR_MAX or not re.fullmatch(LABEL_SELECTOR, raw):
        raise invalid_query(
            "labelSelector",
            "must be a Kubernetes label selector such as team=vision,tier in (a, b),!beta",
        )
    return raw if raw.strip() else None


def continue_token(request: Request) -> str | None:
    """The ``continue`` query parameter (``CONTINUE_SCHEMA``); None when absent.

    Raises:
        errors.Invalid: not shaped like a continue token.
    """
    raw = request.query_value("continue")
    if raw is None:
        return None
    if len(raw) > CONTINUE_MAX or not _CONTINUE.fullmatch(raw):
        raise invalid_query("continue", "is not a continue token of this list")
    return raw


CONTAINER_SCHEMA = text_schema(grammar.DNS1123_LABEL, grammar.LABEL_MAX)
POD_SCHEMA = text_schema(grammar.DNS1123_SUBDOMAIN, grammar.DNS1123_SUBDOMAIN_MAX)
