"""Request ids: which callers' ids are kept, and how an answer carries its request's."""

from __future__ import annotations

import json

import pytest
from kserve_functions import app
from kserve_functions.core import errors
from kserve_functions.http.asgi import Response, problem_response


@pytest.mark.parametrize(
    "given", ["abc", "0" * 128, "a-b_c.d:e/f", '!"#$%&()*+,;<=>?@[\\]^`{|}~', "x"]
)
def test_a_callers_visible_ascii_id_is_kept(given: str) -> None:
    assert app.usable_request_id(given)


@pytest.mark.parametrize(
    "given", [None, "", "0" * 129, "with space", "tab\there", "new\nline", "caf\u00e9", "\x7f"]
)
def test_any_other_id_is_replaced(given: str | None) -> None:
    assert not app.usable_request_id(given)


def test_a_problem_body_names_the_request_id() -> None:
    original = problem_response(errors.NotFound("no route /nope"))
    given = 'a"b\\c'

    identified = app._naming_request_id(original, given)

    assert isinstance(identified.body, bytes)
    assert json.loads(identified.body) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no route /nope",
        "requestId": given,
    }
    assert isinstance(original.body, bytes)
    assert "requestId" not in json.loads(original.body), "the route's response is not changed"


def test_another_answer_is_sent_as_it_is() -> None:
    original = Response(status=200, body=b'{"a": 1}', headers={"Allow": "GET"})

    assert app._naming_request_id(original, "r1") is original
