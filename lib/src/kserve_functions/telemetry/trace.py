"""W3C Trace Context: the trace a request belongs to, continued and passed on.

A request's ``traceparent`` header (or a CloudEvent's ``traceparent``
extension, CloudEvents' distributed-tracing extension) names the trace and the
caller's span; this function's work is a new span of that trace
(``continued``). Everything the request causes carries it on: every apiserver
call (``kube.transport``, as client-go sends it), the events the functions send
(``cloudevents.envelope``), every log line (``telemetry.logs``). Without a
usable ``traceparent`` a request starts a trace of its own.

``CURRENT`` holds the context of the request being served. Nothing here
records or samples: ``sampled`` is the caller's decision, passed on unchanged
(a trace started here is not sampled, as nothing records it). With spans
exported (``telemetry.spans``), a request is handled in the context of its
exported server span instead, whose ``sampled`` is the SDK sampler's decision.

Parsing follows the Trace Context recommendation (level 1): version ``00`` is
exactly ``00-<trace-id>-<parent-id>-<flags>``, lowercase hex, neither id all
zeros; a later version is read by its first four fields (a version may only
add fields after them); version ``ff`` and anything malformed is ignored.
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from typing import NamedTuple

_HEX = frozenset("0123456789abcdef")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16
_SAMPLED = 0x01


class TraceContext(NamedTuple):
    """This function's span of a trace (immutable).

    ``trace_id``: 32 lowercase hex digits; ``span_id``: this span, 16 hex digits;
    ``parent_id``: the caller's span (None when the trace started here);
    ``sampled``: the caller's sampling decision.
    """

    # A NamedTuple, not a dataclass: built at import in a tenth of the time (cold start).

    trace_id: str
    span_id: str
    parent_id: str | None
    sampled: bool


CURRENT: ContextVar[TraceContext | None] = ContextVar(
    "kserve_functions_trace_context", default=None
)
"""The trace context of the request (or event) being handled; None outside one."""


def parse(header: str | None) -> tuple[str, str, bool] | None:
    """``(trace_id, parent_id, sampled)`` of a ``traceparent`` value, or None when
    it is absent or not one to continue."""
    if not header:
        return None
    # version-trace_id-parent_id-flags; a later version may append "-..." fields.
    fields = header.strip().split("-")
    if len(fields) < 4:  # noqa: PLR2004 - the four fields of every version
        return None
    version, trace_id, parent_id, flags = fields[:4]
    if not (_hex(version, 2) and _hex(trace_id, 32) and _hex(parent_id, 16) and _hex(flags, 2)):
        return None
    if version == "ff" or (version == "00" and len(fields) > 4):  # noqa: PLR2004
        return None
    if trace_id == _INVALID_TRACE_ID or parent_id == _INVALID_SPAN_ID:
        return None
    return trace_id, parent_id, bool(int(flags, 16) & _SAMPLED)


def continued(header: str | None) -> TraceContext:
    """A new span continuing the trace of ``header`` (a ``traceparent`` value):
    its trace id and sampled flag, the header's span as parent. A header that is
    absent or unusable starts a new trace (not sampled)."""
    parsed = parse(header)
    if parsed is None:
        return TraceContext(_new_id(16), _new_id(8), None, sampled=False)
    trace_id, parent_id, sampled = parsed
    return TraceContext(trace_id, _new_id(8), parent_id, sampled=sampled)


def traceparent(context: TraceContext) -> str:
    """The ``traceparent`` value that makes ``context``'s span the parent of what is sent."""
    return f"00-{context.trace_id}-{context.span_id}-{'01' if context.sampled else '00'}"


def current_traceparent() -> str | None:
    """``traceparent`` of ``CURRENT``, or None outside a request."""
    context = CURRENT.get()
    return None if context is None else traceparent(context)


def _hex(text: str, digits: int) -> bool:
    """Whether ``text`` is ``digits`` lowercase hex digits."""
    return len(text) == digits and _HEX.issuperset(text)


def _new_id(size: int) -> str:
    """``size`` random bytes as hex, never all zeros (an invalid id).

    From ``random``, as OpenTelemetry's SDK makes its ids (``RandomIdGenerator``):
    an id must be unique, not secret, and ``secrets`` reads the kernel's random
    device on each call (a system call per id, three ids a request).
    """
    while True:
        made = random.getrandbits(size * 8)
        if made:
            # printf-style: an f-string's nested width costs half as much again.
            return "%0*x" % (size * 2, made)  # noqa: UP031


def new_request_id() -> str:
    """A request id of our own: 128 random bits in hex (uuid4's size), as ``_new_id``."""
    return _new_id(16)
