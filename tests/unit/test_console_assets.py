"""The console's static routes (``console.assets``), called through the function object.

Each test starts a function in this process with a kubeconfig whose server
nothing listens on (the files need no cluster) and calls its ASGI entry point
as func-python does: the ui and root functions as built, and a function built
on ``assets.routes`` of a temporary folder for files the tests choose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from kserve_functions.app import ModelFunction
from kserve_functions.console import assets
from support.functions import new_function, unreachable_kubeconfig
from support.problems import assert_problem

PAGE = b'<!doctype html><html lang="en"><title>t</title><script src="app.js"></script></html>'
SCRIPT = b"export const answer = 42;\n"

Start = Callable[..., httpx.AsyncClient]


@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Start a function (by name, or a ``ModelFunction``) with ``settings``; a client for it."""
    kubeconfig = unreachable_kubeconfig(tmp_path)
    started: list[tuple[ModelFunction, httpx.AsyncClient]] = []

    def launch(function: str | ModelFunction, **settings: str) -> httpx.AsyncClient:
        instance = new_function(function) if isinstance(function, str) else function
        instance.start({"KUBECONFIG": str(kubeconfig), "AUTH_MODE": "none", **settings})
        made = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=instance.handle), base_url="http://function"
        )
        started.append((instance, made))
        return made

    yield launch
    for instance, made in started:
        await made.aclose()
        await instance.aclose()


@pytest.fixture
def console(tmp_path: Path) -> Path:
    """A console folder of a page, a script, a dotfile and a subfolder."""
    folder = tmp_path / "console"
    folder.mkdir()
    (folder / "index.html").write_bytes(PAGE)
    (folder / "app.js").write_bytes(SCRIPT)
    (folder / ".secret").write_text("not for the browser")
    (folder / "nested").mkdir()
    (folder / "nested" / "deep.js").write_text("export {};\n")
    return folder


def _assert_secured(answer: httpx.Response) -> None:
    for name, value in assets.SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, name


def test_the_policy_allows_this_origin_alone_and_no_inline_script_or_eval() -> None:
    policy = dict(
        directive.split(" ", 1) for directive in assets.CONTENT_SECURITY_POLICY.split("; ")
    )

    assert "'unsafe-inline'" not in assets.CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in assets.CONTENT_SECURITY_POLICY
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy[directive] == "'self'", directive
    assert policy["frame-ancestors"] == "'none'"


def test_load_takes_the_files_of_the_folder_but_no_dotfile_and_no_subfolder(
    console: Path,
) -> None:
    loaded = assets.load(console)

    assert sorted(loaded) == ["app.js", "index.html"]
    assert loaded["app.js"].body == SCRIPT
    assert loaded["app.js"].content_type == "text/javascript; charset=utf-8"
    assert loaded["index.html"].content_type == "text/html; charset=utf-8"
    # A strong entity tag of the content: another content, another tag.
    assert loaded["app.js"].etag.startswith('"')
    assert loaded["app.js"].etag.endswith('"')
    assert loaded["app.js"].etag != loaded["index.html"].etag


@pytest.mark.asyncio
async def test_ui_without_the_slash_redirects_permanently_to_ui_slash(start: Start) -> None:
    answer = await start("ui").get("/ui")

    assert answer.status_code == 308
    assert answer.headers["location"] == "/ui/"
    _assert_secured(answer)


@pytest.mark.asyncio
async def test_ui_slash_is_the_page_with_every_security_header(start: Start) -> None:
    answer = await start("ui").get("/ui/")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.content == (assets.STATIC / "index.html").read_bytes()
    _assert_secured(answer)
    assert answer.headers["cache-control"] == "no-cache"
    policy = answer.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


@pytest.mark.asyncio
async def test_an_asset_is_served_with_its_type_and_tag_and_304_when_unchanged(
    start: Start, console: Path
) -> None:
    api = start(ModelFunction("console", assets.routes(console)))

    script = await api.get("/ui/app.js")
    assert script.status_code == 200
    assert script.content == SCRIPT
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    _assert_secured(script)
    etag = script.headers["etag"]
    page = await api.get("/ui/")
    assert page.content == PAGE
    assert page.headers["etag"] != etag

    unchanged = await api.get("/ui/app.js", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    _assert_secured(unchanged)
    stale = await api.get("/ui/app.js", headers={"If-None-Match": page.headers["etag"]})
    assert (stale.status_code, stale.content) == (200, SCRIPT)


@pytest.mark.asyncio
async def test_an_unknown_file_a_dotfile_or_a_subfolders_file_is_a_404_problem(
    start: Start, console: Path
) -> None:
    api = start(ModelFunction("console", assets.routes(console)))

    for path in ("/ui/missing.js", "/ui/.secret", "/ui/nested", "/ui/nested/deep.js"):
        answer = await api.get(path)
        assert_problem(answer, 404)
        assert "not for the browser" not in answer.text
    missing = await api.get("/ui/missing.js")
    assert missing.json()["detail"] == "the console has no file missing.js"


@pytest.mark.asyncio
async def test_the_404_of_an_unknown_file_carries_the_security_headers_too(
    start: Start, console: Path
) -> None:
    missing = await start(ModelFunction("console", assets.routes(console))).get("/ui/missing.js")

    assert missing.status_code == 404
    _assert_secured(missing)


@pytest.mark.asyncio
async def test_the_ui_function_serves_the_console_and_health_and_no_api(start: Start) -> None:
    api = start("ui")

    assert (await api.get("/ui/")).status_code == 200
    # Healthy though nothing listens at the kubeconfig's server: it asks the cluster nothing.
    health = await api.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "healthy"
    for path in ("/models", "/access", "/deploy", "/"):
        assert_problem(await api.get(path), 404)
    assert_problem(await api.post("/deploy", json={}), 404)


@pytest.mark.asyncio
async def test_the_console_health_counts_the_files_it_loaded(start: Start, console: Path) -> None:
    api = start(ModelFunction("console", [assets.health_route(console)]))

    answer = await api.get("/health")

    assert answer.status_code == 200
    assert answer.json() == {"status": "healthy", "checks": {"console": "ok (2 files)"}}


@pytest.mark.asyncio
async def test_the_root_function_serves_the_console_too(start: Start) -> None:
    answer = await start("root").get("/ui/")

    assert answer.status_code == 200
    assert answer.content == (assets.STATIC / "index.html").read_bytes()
    _assert_secured(answer)


@pytest.mark.asyncio
async def test_the_console_needs_no_token_under_kubernetes_auth(start: Start) -> None:
    ui, root = (start(name, AUTH_MODE="kubernetes") for name in ("ui", "root"))

    for api in (ui, root):
        assert (await api.get("/ui/")).status_code == 200
        assert (await api.get("/ui")).status_code == 308
    # Authentication is on: a route of the API asks for a token first.
    refused = await root.get("/models")
    assert_problem(refused, 401)
    assert refused.headers["www-authenticate"].startswith("Bearer")
