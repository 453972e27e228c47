"""The ASGI layer: reading requests with a body limit, JSON bodies, sending responses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from kserve_functions.core import errors
from kserve_functions.core.models import DeleteResponse
from kserve_functions.http import asgi
from kserve_functions.http.asgi import Message, Receive, Request, Response
from kserve_functions.kube import Caller
from kserve_functions.objects import audit

LIMIT = 10


def receiver(messages: Sequence[Message], *, received: list[Message] | None = None) -> Receive:
    """A ``receive`` handing out ``messages`` in order, recording each in ``received``."""
    pending = list(messages)
    log = received if received is not None else []

    async def receive() -> Message:
        message = pending.pop(0)
        log.append(message)
        return message

    return receive


def body(chunk: bytes, *, more: bool = False) -> Message:
    return {"type": "http.request", "body": chunk, "more_body": more}


def scope(
    *,
    method: str = "POST",
    path: str = "/deploy",
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": list(headers),
    }


def json_request(content_type: str | None, payload: bytes = b"{}") -> Request:
    headers = {} if content_type is None else {"content-type": content_type}
    return Request(method="POST", path="/deploy", query={}, headers=headers, body=payload)


async def capture(response: Response) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi.send_response(send, response)
    return sent


# -- read_request ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_read_request_joins_the_body_chunks() -> None:
    receive = receiver([body(b'{"a"', more=True), body(b": 1", more=True), body(b"}")])
    request = await asgi.read_request(scope(), receive, max_body_bytes=LIMIT)
    assert request.body == b'{"a": 1}'


@pytest.mark.asyncio
async def test_read_request_takes_method_and_path_from_the_scope() -> None:
    receive = receiver([body(b"")])
    request = await asgi.read_request(
        scope(method="delete", path="/models/default/iris"), receive, max_body_bytes=LIMIT
    )
    assert (request.method, request.path) == ("DELETE", "/models/default/iris")


@pytest.mark.asyncio
async def test_a_body_at_the_limit_is_read() -> None:
    headers = [(b"content-length", b"10")]
    receive = receiver([body(b"0123456789")])
    request = await asgi.read_request(scope(headers=headers), receive, max_body_bytes=LIMIT)
    assert request.body == b"0123456789"


@pytest.mark.asyncio
async def test_a_declared_body_over_the_limit_is_refused_before_reading() -> None:
    received: list[Message] = []
    receive = receiver([body(b"01234567890")], received=received)
    with pytest.raises(errors.PayloadTooLarge) as caught:
        await asgi.read_request(
            scope(headers=[(b"content-length", b"11")]), receive, max_body_bytes=LIMIT
        )
    assert (caught.value.status, caught.value.detail, received) == (
        413,
        "the body is 11 bytes, more than the limit of 10",
        [],
    )


@pytest.mark.asyncio
async def test_an_undeclared_body_over_the_limit_is_refused_while_reading() -> None:
    received: list[Message] = []
    chunks = [body(b"012345", more=True), body(b"67890", more=True), body(b"never read")]
    receive = receiver(chunks, received=received)
    with pytest.raises(errors.PayloadTooLarge) as caught:
        await asgi.read_request(scope(), receive, max_body_bytes=LIMIT)
    assert (caught.value.detail, len(received)) == ("the body is larger than the limit of 10", 2)


@pytest.mark.asyncio
async def test_a_body_longer_than_its_content_length_is_still_limited() -> None:
    receive = receiver([body(b"0123456789", more=True), body(b"X")])
    with pytest.raises(errors.PayloadTooLarge):
        await asgi.read_request(
            scope(headers=[(b"content-length", b"2")]), receive, max_body_bytes=LIMIT
        )


@pytest.mark.parametrize("declared", [b"abc", b"-1", b"1.5", b"", b"1e3", b" 5"])
@pytest.mark.asyncio
async def test_a_content_length_that_is_not_a_number_is_a_bad_request(declared: bytes) -> None:
    receive = receiver([body(b"")])
    with pytest.raises(errors.BadRequest) as caught:
        await asgi.read_request(
            scope(headers=[(b"content-length", declared)]), receive, max_body_bytes=LIMIT
        )
    assert (caught.value.status, caught.value.detail) == (
        400,
        "the Content-Length header is not a number",
    )


@pytest.mark.asyncio
async def test_a_disconnect_ends_the_body() -> None:
    receive = receiver([body(b"{", more=True), {"type": "http.disconnect"}])
    request = await asgi.read_request(scope(), receive, max_body_bytes=LIMIT)
    assert request.body == b"{"


@pytest.mark.asyncio
async def test_the_query_keeps_every_value_and_blank_ones() -> None:
    receive = receiver([body(b"")])
    request = await asgi.read_request(
        scope(query=b"wait=true&wait=false&dryRun=&timeout=30%20s"), receive, max_body_bytes=LIMIT
    )
    assert request.query == {"wait": ["true", "false"], "dryRun": [""], "timeout": ["30 s"]}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("wait", "false"), ("dryRun", ""), ("timeout", "30 s"), ("absent", None)],
)
@pytest.mark.asyncio
async def test_query_value_is_the_last_value(name: str, expected: str | None) -> None:
    receive = receiver([body(b"")])
    request = await asgi.read_request(
        scope(query=b"wait=true&wait=false&dryRun=&timeout=30%20s"), receive, max_body_bytes=LIMIT
    )
    assert request.query_value(name) == expected


@pytest.mark.asyncio
async def test_a_query_that_is_not_utf8_is_a_bad_request() -> None:
    receive = receiver([body(b"")])
    with pytest.raises(errors.BadRequest) as caught:
        await asgi.read_request(scope(query=b"name=\xff"), receive, max_body_bytes=LIMIT)
    assert caught.value.detail == "the query string is not UTF-8"


@pytest.mark.asyncio
async def test_header_names_are_lowercased() -> None:
    headers = [(b"Content-Type", b"application/json"), (b"IDEMPOTENCY-KEY", b"Key-1")]
    request = await asgi.read_request(
        scope(headers=headers), receiver([body(b"")]), max_body_bytes=LIMIT
    )
    assert request.headers == {"content-type": "application/json", "idempotency-key": "Key-1"}


@pytest.mark.parametrize("name", ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])
def test_header_lookup_ignores_case(name: str) -> None:
    request = Request(method="GET", path="/", query={}, headers={"idempotency-key": "k"})
    assert request.header(name) == "k"


# -- Request.caller and Request.actor --------------------------------------------


def test_the_actor_is_the_callers_user_with_the_method_and_path() -> None:
    request = Request("POST", "/models/ml/iris/stop", {}, {}, caller=Caller(user="alice"))
    assert request.actor == audit.Actor(by="alice", how="POST /models/ml/iris/stop")


def test_without_a_caller_the_actor_is_anonymous() -> None:
    request = Request("DELETE", "/models/ml/iris", {}, {})
    assert request.caller is None
    assert request.actor == audit.Actor(by=audit.ANONYMOUS, how="DELETE /models/ml/iris")


def test_the_actor_is_computed_once_per_request() -> None:
    request = Request("POST", "/deploy", {}, {}, caller=Caller(user="alice"))
    assert request.actor is request.actor


# -- Request.json_body -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
        "application/vnd.api+json; charset=utf-8",
    ],
)
def test_json_content_types_are_accepted(content_type: str) -> None:
    assert json_request(content_type, b'{"name": "iris"}').json_body() == {"name": "iris"}


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("text/json+json", "text/json+json"),
        ("application/jsonx", "application/jsonx"),
        ("", "none"),
        (None, "none"),
    ],
)
def test_other_content_types_are_unsupported(content_type: str | None, shown: str) -> None:
    with pytest.raises(errors.UnsupportedMediaType) as caught:
        json_request(content_type).json_body()
    assert (caught.value.status, caught.value.detail) == (
        415,
        f"the body must be application/json, got Content-Type: {shown}",
    )


def test_a_long_content_type_is_cut_in_the_detail() -> None:
    with pytest.raises(errors.UnsupportedMediaType) as caught:
        json_request("text/" + "x" * 200).json_body()
    assert caught.value.detail == "the body must be application/json, got Content-Type: " + (
        "text/" + "x" * 95
    )


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b'{"a": }', "Expecting value at line 1 column 7"),
        (
            b'{\n  "a": 1,\n}',
            "Expecting property name enclosed in double quotes at line 3 column 1",
        ),
        (b"", "Expecting value at line 1 column 1"),
        (b'{"a": "\xff"}', "it is not UTF-8 text"),
    ],
    ids=["syntax", "line-and-column", "empty", "not-utf8"],
)
def test_a_body_that_is_not_json_is_a_bad_request(payload: bytes, detail: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        json_request("application/json", payload).json_body()
    assert (caught.value.status, caught.value.detail) == (
        400,
        f"the body is not valid JSON: {detail}",
    )


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"iris"', b"null", b"3"])
def test_any_json_value_is_returned_for_the_caller_to_validate(payload: bytes) -> None:
    assert json_request("application/json", payload).json_body() == json.loads(payload)


# -- responses ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_whole_body_is_sent_with_its_length() -> None:
    sent = await capture(Response(status=201, body=b'{"a":1}', headers={"Location": "/x"}))
    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-type", b"application/json"),
                (b"location", b"/x"),
                (b"content-length", b"7"),
            ],
        },
        {"type": "http.response.body", "body": b'{"a":1}'},
    ]


@pytest.mark.asyncio
async def test_a_problem_is_sent_as_problem_json_with_its_headers() -> None:
    problem = asgi.problem_response(errors.MethodNotAllowed("GET is not allowed", allowed=["POST"]))
    sent = await capture(problem)
    expected_body = (
        b'{"type":"about:blank","title":"Method Not Allowed","status":405,'
        b'"detail":"GET is not allowed"}'
    )
    assert sent == [
        {
            "type": "http.response.start",
            "status": 405,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"allow", b"POST"),
                (b"content-length", str(len(expected_body)).encode()),
            ],
        },
        {"type": "http.response.body", "body": expected_body},
    ]


@pytest.mark.asyncio
async def test_headers_given_to_send_follow_the_responses_own() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    response = Response(status=200, body=b"{}", headers={"Allow": "GET"})
    await asgi.send_response(send, response, headers=((b"x-request-id", b"r1"),))

    assert sent[0]["headers"] == [
        (b"content-type", b"application/json"),
        (b"allow", b"GET"),
        (b"x-request-id", b"r1"),
        (b"content-length", b"2"),
    ]
    assert response.headers == {"Allow": "GET"}


def test_an_unavailable_problem_says_when_to_retry() -> None:
    response = asgi.problem_response(errors.Unavailable("down", retry_after_seconds=7))
    assert (response.status, response.headers) == (503, {"Retry-After": "7"})


@pytest.mark.asyncio
async def test_a_streamed_body_is_sent_chunk_by_chunk() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"models":['
        yield b"]}"

    sent = await capture(Response(status=200, body=chunks()))
    assert sent == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        },
        {"type": "http.response.body", "body": b'{"models":[', "more_body": True},
        {"type": "http.response.body", "body": b"]}", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]


def test_json_response_uses_camel_case_names_and_leaves_out_none() -> None:
    response = asgi.json_response(200, DeleteResponse(name="iris", namespace="default"))
    assert (response.status, response.content_type, response.body) == (
        200,
        "application/json",
        b'{"name":"iris","namespace":"default","status":"deleted"}',
    )


def test_raw_json_response_carries_the_document() -> None:
    response = asgi.raw_json_response(200, {"openapi": "3.1.0"})
    assert (response.status, response.content_type, response.body) == (
        200,
        "application/json",
        b'{"openapi": "3.1.0"}',
    )


# -- streamed bodies and a client that goes away ------------------------------------


@pytest.mark.asyncio
async def test_a_streamed_body_stops_and_closes_when_the_client_disconnects() -> None:
    disconnect = asyncio.Event()
    closed: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await asyncio.sleep(3600)  # a quiet watch
        finally:
            closed.append("closed")

    async def receive() -> Message:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body") == b"tick":
            disconnect.set()

    await asyncio.wait_for(asgi.send_response(send, Response(200, body=endless()), receive), 5)

    assert [m.get("body") for m in sent[1:]] == [b"tick"]
    assert closed == ["closed"]


@pytest.mark.asyncio
async def test_a_streamed_body_that_ends_is_terminated_and_closed() -> None:
    async def receive() -> Message:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def two() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi.send_response(send, Response(200, body=two()), receive)

    assert [(m.get("body"), m.get("more_body")) for m in sent[1:]] == [
        (b"a", True),
        (b"b", True),
        (b"", None),
    ]
