"""Method + path → route: exact paths, path parameters, 404 and 405 with Allow."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from kserve_functions.api.routing import Route, Router
from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.functions import delete, deploy, health, models
from kserve_functions.http.asgi import Request, Response


async def answer(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    return Response(status=200)


DEPLOY = Route("POST", "/deploy", answer)
LIST = Route("GET", "/models", answer)
GET = Route("GET", "/models/{namespace}/{name}", answer)
DELETE = Route("DELETE", "/models/{namespace}/{name}", answer)
ROOT = Route("POST", "/", answer)
ROUTER = Router([DEPLOY, LIST, GET, DELETE, ROOT])


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [("POST", "/deploy", DEPLOY), ("GET", "/models", LIST), ("POST", "/", ROOT)],
)
def test_an_exact_path_finds_its_route_without_parameters(
    method: str, path: str, route: Route
) -> None:
    assert ROUTER.resolve(method, path) == (route, {})


@pytest.mark.parametrize(("method", "route"), [("GET", GET), ("DELETE", DELETE)])
def test_path_parameters_are_captured(method: str, route: Route) -> None:
    assert ROUTER.resolve(method, "/models/default/iris") == (
        route,
        {"namespace": "default", "name": "iris"},
    )


@pytest.mark.parametrize(
    ("path", "route", "params"),
    [
        ("/deploy/", DEPLOY, {}),
        ("/models/", LIST, {}),
        ("/models/default/iris/", GET, {"namespace": "default", "name": "iris"}),
    ],
)
def test_a_trailing_slash_is_tolerated(path: str, route: Route, params: dict[str, str]) -> None:
    method = "POST" if route is DEPLOY else "GET"
    assert ROUTER.resolve(method, path) == (route, params)


@pytest.mark.parametrize("path", ["//models//default/iris", "/models/default//iris", "/models//"])
def test_an_empty_segment_is_an_unknown_path(path: str) -> None:
    # An empty path parameter ("/models/default//stop") names no model, and must
    # not become another route's path ("/models/default/stop", a model "stop").
    with pytest.raises(errors.NotFound):
        ROUTER.resolve("GET", path)


def test_an_empty_model_name_is_not_another_routes_path() -> None:
    stop = Route("POST", "/models/{namespace}/{name}/stop", answer)
    router = Router([GET, DELETE, stop])
    with pytest.raises(errors.NotFound):
        router.resolve("POST", "/models/default//stop")


def test_segments_are_not_decoded_a_second_time() -> None:
    # The server decoded the path once already: "%2569ris" arrives as "%69ris".
    assert ROUTER.resolve("GET", "/models/default/%69ris") == (
        GET,
        {"namespace": "default", "name": "%69ris"},
    )


@pytest.mark.parametrize(
    "path",
    ["/nothing", "/models/default", "/models/default/iris/extra", "/deploy/x", "/Models"],
)
def test_an_unknown_path_is_not_found(path: str) -> None:
    with pytest.raises(errors.NotFound) as caught:
        ROUTER.resolve("GET", path)
    assert (caught.value.status, caught.value.detail) == (404, f"no route {path}")


def test_the_not_found_detail_is_cut() -> None:
    path = "/" + "x" * 300
    with pytest.raises(errors.NotFound) as caught:
        ROUTER.resolve("GET", path)
    assert caught.value.detail == f"no route {path[:200]}"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/deploy", "POST"),
        ("PUT", "/models/default/iris", "GET, DELETE"),
        ("DELETE", "/models", "GET"),
        ("GET", "/", "POST"),
    ],
)
def test_another_method_is_not_allowed_and_allow_lists_the_methods(
    method: str, path: str, allowed: str
) -> None:
    with pytest.raises(errors.MethodNotAllowed) as caught:
        ROUTER.resolve(method, path)
    assert (caught.value.status, caught.value.headers, caught.value.detail) == (
        405,
        {"Allow": allowed},
        f"{method} is not allowed on {path}; use {allowed}",
    )


def test_the_root_route_matches_only_the_root() -> None:
    router = Router([Route("GET", "/", answer)])
    with pytest.raises(errors.NotFound):
        router.resolve("GET", "/models")


@pytest.mark.parametrize("path", ["", "/", "//"])
def test_the_root_route_matches_empty_and_slash_paths(path: str) -> None:
    assert ROUTER.resolve("POST", path) == (ROOT, {})


def test_the_first_matching_route_wins() -> None:
    literal = Route("GET", "/models/default/special", answer)
    router = Router([literal, GET])
    assert router.resolve("GET", "/models/default/special") == (literal, {})


def test_a_route_keeps_its_template_segments() -> None:
    assert GET.segments == ("models", "{namespace}", "{name}")


def test_a_route_authenticates_its_caller_unless_it_is_declared_open() -> None:
    assert GET.authenticated
    assert not Route("GET", "/health", answer, authenticated=False).authenticated


@pytest.mark.parametrize(
    ("routes", "open_paths"),
    [
        (deploy.routes(), set()),
        (models.routes(), set()),
        (delete.routes(), set()),
        (health.health_routes((), at_root=True), {"/health", "/"}),
        (health.health_routes((), at_root=False), {"/health"}),
    ],
)
def test_only_the_health_routes_are_open(routes: list[Route], open_paths: set[str]) -> None:
    # Every route of the API authenticates its caller; /health says nothing about models.
    assert {route.path for route in routes if not route.authenticated} == open_paths
