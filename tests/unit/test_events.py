"""Reading CloudEvents off a request and writing reply events (pure parts)."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from kserve_functions.cloudevents import envelope
from kserve_functions.core import errors
from kserve_functions.http.asgi import Request
from kserve_functions.telemetry import trace

_T = TypeVar("_T")

BINARY = {
    "ce-specversion": "1.0",
    "ce-type": envelope.DEPLOY,
    "ce-source": "/ci",
    "ce-id": "42",
    "content-type": "application/json",
}


def _request(headers: dict[str, str], body: bytes) -> Request:
    return Request(method="POST", path="/", query={}, headers=headers, body=body)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (BINARY, True),
        ({"content-type": "application/cloudevents+json; charset=utf-8"}, True),
        ({"content-type": "application/json"}, False),
        ({"content-type": envelope.DISTRIBUTION_MEDIA_TYPE}, False),
    ],
)
def test_is_event(headers: dict[str, str], expected: bool) -> None:
    assert envelope.is_event(_request(headers, b"{}")) is expected


def test_binary_event_is_read_with_its_json_data() -> None:
    event = envelope.parse(_request({**BINARY, "ce-subject": "ns/m"}, b'{"name": "m"}'))
    assert (event.type, event.source, event.id, event.subject) == (
        envelope.DEPLOY,
        "/ci",
        "42",
        "ns/m",
    )
    assert event.data == {"name": "m"}


def test_structured_event_without_an_id_is_refused_not_given_one() -> None:
    body = json.dumps({"specversion": "1.0", "type": envelope.DEPLOY, "source": "/ci", "data": {}})
    with pytest.raises(errors.BadRequest, match=r"missing required attribute\(s\) id"):
        envelope.parse(_request({"content-type": envelope.STRUCTURED_MEDIA_TYPE}, body.encode()))


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"not json"])
def test_data_that_is_not_a_json_object_is_invalid(body: bytes) -> None:
    with pytest.raises(errors.Invalid) as invalid:
        envelope.parse(_request(BINARY, body))
    assert [issue.field for issue in invalid.value.errors] == ["data"]


def test_delivery_token_is_stable_per_source_and_id() -> None:
    first = envelope.parse(_request(BINARY, b"{}"))
    again = envelope.parse(_request(BINARY, b"{}"))
    elsewhere = envelope.parse(_request({**BINARY, "ce-source": "/other"}, b"{}"))
    assert first.delivery_token == again.delivery_token
    assert first.delivery_token != elsewhere.delivery_token
    assert len(first.delivery_token) <= 63


def test_reply_is_a_binary_mode_event_the_sdk_reads_back() -> None:
    response = envelope.reply(
        envelope.DEPLOYED, source="/kserve-functions/deploy", subject="ns/m", data={"a": 1}
    )
    assert isinstance(response.body, bytes)
    headers = {**response.headers, "content-type": response.content_type}
    event = from_http_event(HTTPMessage(headers=headers, body=response.body))
    assert (event.get_type(), event.get_source(), event.get_subject()) == (
        envelope.DEPLOYED,
        "/kserve-functions/deploy",
        "ns/m",
    )
    assert event.get_data() == {"a": 1}
    assert event.get_id()


# -- distributed tracing (CloudEvents' traceparent extension) ---------------------

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_traceparent_extension_is_read_in_binary_and_structured_mode() -> None:
    binary = envelope.parse(_request({**BINARY, "ce-traceparent": TRACEPARENT}, b"{}"))
    structured = {
        "specversion": "1.0",
        "type": envelope.DEPLOY,
        "source": "/ci",
        "id": "1",
        "traceparent": TRACEPARENT,
        "data": {},
    }
    body = json.dumps(structured).encode()
    read = envelope.parse(_request({"content-type": envelope.STRUCTURED_MEDIA_TYPE}, body))

    assert binary.traceparent == read.traceparent == TRACEPARENT
    assert envelope.parse(_request(BINARY, b"{}")).traceparent is None


def _in_a_trace(make: Callable[[], _T]) -> tuple[_T, str]:
    """What ``make`` returns while a request of trace ``TRACEPARENT`` is handled, and
    that request's own traceparent."""

    def run() -> tuple[_T, str]:
        trace.CURRENT.set(trace.continued(TRACEPARENT))
        current = trace.current_traceparent()
        assert current is not None
        return make(), current

    return contextvars.copy_context().run(run)


def test_a_reply_carries_the_current_trace() -> None:
    response, current = _in_a_trace(
        lambda: envelope.reply(envelope.DELETED, source="/s", subject="ns/m", data={})
    )

    assert isinstance(response.body, bytes)
    headers = {**response.headers, "content-type": response.content_type}
    event = from_http_event(HTTPMessage(headers=headers, body=response.body))
    assert event.get_extension("traceparent") == current
    assert current.split("-")[1] == TRACEPARENT.split("-")[1]
    # A response has no traceparent header of its own (W3C defines none).
    assert "traceparent" not in response.headers


def test_a_sent_event_carries_the_current_trace_as_extension_and_header() -> None:
    (headers, body), current = _in_a_trace(
        lambda: envelope.binary_message(
            envelope.READY,
            source="/s",
            event_id="1",
            subject="ns/m",
            time=datetime.now(UTC),
            data={},
        )
    )

    event = from_http_event(HTTPMessage(headers=headers, body=body))
    assert event.get_extension("traceparent") == current
    assert headers["traceparent"] == current


def test_outside_a_trace_events_carry_none() -> None:
    headers, _ = envelope.binary_message(
        envelope.READY, source="/s", event_id="1", subject="ns/m", time=datetime.now(UTC), data={}
    )
    reply = envelope.reply(envelope.DELETED, source="/s", subject="ns/m", data={})

    assert not {"traceparent", "ce-traceparent"} & set(headers)
    assert "ce-traceparent" not in reply.headers
