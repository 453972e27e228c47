"""The functions' log lines: today's text, or one JSON object per line (``LOG_FORMAT``).

``text`` (the default, ``make dev``) leaves logging as func-python set it up:
``LEVEL:logger:message`` on stderr. ``json`` (the ``k8s/`` manifests) gives the
root logger's handlers, which every logger writes through, a JSON formatter
(``telemetry.json_format``) with Knative's (zap's) field names, which adds to
each line the fields bound for the request or event being handled (``bind``:
request id, event id, …) and its trace and span ids (``trace.CURRENT``). Text
mode imports no JSON formatter and binds nothing (no line would show it): it
costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar, Token
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class LogFormat(StrEnum):
    """``LOG_FORMAT``: how log lines are written."""

    TEXT = "text"
    JSON = "json"


_NOTHING: Final[Mapping[str, object]] = MappingProxyType({})
FIELDS: ContextVar[Mapping[str, object]] = ContextVar(
    "kserve_functions_log_fields", default=_NOTHING
)
"""The log fields of the request or event being handled (``bind``)."""

FIELDS_WRITTEN = False
"""Whether log lines carry the bound fields (``configure`` in JSON mode): until
then ``bind`` does nothing, and a caller need not build fields only a JSON line
writes."""

# hypercorn gives its error logger a text handler of its own when it first logs
# (after the function's start) and lets it propagate to root as well.
_SERVER_LOGGERS: Final = ("hypercorn.error", "hypercorn.access")


def bind(**fields: object) -> Token[Mapping[str, object]] | None:
    """Add ``fields`` to every log line of the current request or event (None values
    are left out); ``unbind`` with the token undoes it. Does nothing (None) while
    no line writes them (``FIELDS_WRITTEN``): a request pays nothing for them in
    text mode."""
    if not FIELDS_WRITTEN:
        return None
    if None in fields.values():
        fields = {name: value for name, value in fields.items() if value is not None}
    bound = FIELDS.get()
    # ``fields`` is this call's own dict (its keyword arguments): kept as it is
    # when nothing was bound before (a request's or event's first bind).
    return FIELDS.set({**bound, **fields} if bound else fields)


def unbind(token: Token[Mapping[str, object]] | None) -> None:
    """Undo the ``bind`` that gave ``token`` (None: it bound nothing)."""
    if token is not None:
        FIELDS.reset(token)


class _ThroughRoot(logging.Filter):
    """On a server logger with a text handler of its own: hands each record to the
    root logger's (JSON) handlers instead, so it is written once, as JSON.

    A logger's filters, unlike its handlers, survive hypercorn installing its
    handler after ``configure``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Write ``record`` through root; its own handlers get nothing."""
        logging.getLogger().handle(record)
        return False


def configure(log_format: LogFormat) -> None:
    """Write every log line of this process as ``log_format`` says.

    ``text`` changes nothing. ``json`` puts the JSON formatter on each handler of
    the root logger (one made by ``logging.basicConfig`` when there is none),
    routes the server's own loggers and Python's warnings through them, and
    makes ``bind`` bind. Calling it again is harmless.
    """
    global FIELDS_WRITTEN  # noqa: PLW0603 - the process's one logging set-up
    if log_format is LogFormat.TEXT:
        return
    FIELDS_WRITTEN = True
    # Imported here: text mode does not pay for the formatter's import.
    from kserve_functions.telemetry.json_format import KnativeJsonFormatter  # noqa: PLC0415

    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    formatter = KnativeJsonFormatter()
    for handler in root.handlers:
        handler.setFormatter(formatter)
    for name in _SERVER_LOGGERS:
        server = logging.getLogger(name)
        if not any(isinstance(f, _ThroughRoot) for f in server.filters):
            server.addFilter(_ThroughRoot())
    logging.captureWarnings(capture=True)
