"""Reading CloudEvents off a request and writing reply events (pure parts)."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from kserve_functions.cloudevents import envelope
from kserve_functions.core import errors
from kserve_functions.http.asgi import Request

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
