"""W3C Trace Context: which ``traceparent`` values are continued, and what is passed on."""

from __future__ import annotations

import contextvars

import pytest
from kserve_functions.telemetry import trace

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
SAMPLED = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (SAMPLED, (TRACE_ID, PARENT_ID, True)),
        (f"00-{TRACE_ID}-{PARENT_ID}-00", (TRACE_ID, PARENT_ID, False)),
        # Only the sampled bit is read; the other flags are someone else's.
        (f"00-{TRACE_ID}-{PARENT_ID}-03", (TRACE_ID, PARENT_ID, True)),
        (f"00-{TRACE_ID}-{PARENT_ID}-fe", (TRACE_ID, PARENT_ID, False)),
        # Surrounding whitespace (optional whitespace of a header value).
        (f"  {SAMPLED} ", (TRACE_ID, PARENT_ID, True)),
        # A later version: its first four fields, whatever it appends.
        (f"cc-{TRACE_ID}-{PARENT_ID}-01", (TRACE_ID, PARENT_ID, True)),
        (f"cc-{TRACE_ID}-{PARENT_ID}-01-what-comes-next", (TRACE_ID, PARENT_ID, True)),
    ],
)
def test_a_valid_traceparent_is_read(header: str, expected: tuple[str, str, bool]) -> None:
    assert trace.parse(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        # Version 00 has exactly four fields.
        f"{SAMPLED}-extra",
        f"{SAMPLED}x",
        # Version ff is invalid.
        f"ff-{TRACE_ID}-{PARENT_ID}-01",
        # All-zero ids are invalid.
        f"00-{'0' * 32}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        # Upper-case hex, wrong lengths, non-hex.
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID.upper()}-01",
        f"0-{TRACE_ID}-{PARENT_ID}-01",
        f"000-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",
        f"00-{TRACE_ID}0-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID[:-1]}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-1",
        f"00-{TRACE_ID}-{PARENT_ID}-0g",
        f"00-{TRACE_ID[:-1]}g-{PARENT_ID}-01",
        f"0g-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID}",
        f"00_{TRACE_ID}_{PARENT_ID}_01",
        # A later version must still be separated by "-" after the flags.
        f"cc-{TRACE_ID}-{PARENT_ID}-01.more",
    ],
)
def test_anything_else_is_ignored(header: str | None) -> None:
    assert trace.parse(header) is None


def test_a_continued_trace_keeps_the_trace_and_its_decision_in_a_new_span() -> None:
    context = trace.continued(SAMPLED)

    assert (context.trace_id, context.parent_id, context.sampled) == (TRACE_ID, PARENT_ID, True)
    assert context.span_id != PARENT_ID
    assert trace.parse(trace.traceparent(context)) == (TRACE_ID, context.span_id, True)
    assert trace.traceparent(context) == f"00-{TRACE_ID}-{context.span_id}-01"


def test_each_continuation_is_a_span_of_its_own() -> None:
    spans = {trace.continued(SAMPLED).span_id for _ in range(50)}
    assert len(spans) == 50


@pytest.mark.parametrize("header", [None, "garbage", f"00-{'0' * 32}-{PARENT_ID}-01"])
def test_without_a_usable_traceparent_a_new_unsampled_trace_starts(header: str | None) -> None:
    context = trace.continued(header)

    assert context.parent_id is None
    assert context.sampled is False
    assert trace.parse(f"00-{context.trace_id}-{context.span_id}-00") is not None
    assert trace.traceparent(context) == f"00-{context.trace_id}-{context.span_id}-00"
    assert trace.continued(header).trace_id != context.trace_id


def test_the_context_is_immutable() -> None:
    context = trace.continued(SAMPLED)
    with pytest.raises(AttributeError):
        context.trace_id = "1" * 32  # type: ignore[misc]


def test_the_current_traceparent_is_that_of_the_current_context() -> None:
    def inside() -> tuple[str | None, str | None]:
        before = trace.current_traceparent()
        context = trace.continued(SAMPLED)
        trace.CURRENT.set(context)
        return before, trace.current_traceparent()

    before, during = contextvars.copy_context().run(inside)

    assert before is None
    assert during is not None
    assert during.startswith(f"00-{TRACE_ID}-")
    assert trace.current_traceparent() is None
