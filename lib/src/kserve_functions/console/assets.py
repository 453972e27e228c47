"""The console's files (``static/``), served under ``/ui/`` by the ui and root functions.

The console is plain HTML, CSS and JavaScript modules written for this project:
no build step, nothing fetched at run time (clusters are often air-gapped), and
nothing of the cluster's in these files, so the routes are open like
``/health``; the page asks the caller for a token and calls the API's routes
with it. The files are read once, when the routes are built.

Every answer carries the headers of ``SECURITY_HEADERS``: a Content-Security-
Policy allowing only this origin's scripts, styles and connections (no inline
script, no ``eval``), no framing, no sniffing, no referrer.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kserve_functions.api.contract import HEALTH
from kserve_functions.api.routing import Route
from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.core.models import HealthResponse
from kserve_functions.http.asgi import Request, Response, json_response, problem_response

STATIC = Path(__file__).with_name("static")
PREFIX = "/ui"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class Asset:
    """One file of the console, with its content type and entity tag."""

    body: bytes
    content_type: str
    etag: str


def load(directory: Path = STATIC) -> dict[str, Asset]:
    """The files directly in ``directory`` by name (the console is one flat folder)."""
    assets: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        content_type = _TYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[path.name] = Asset(body, content_type, etag)
    return assets


def routes(directory: Path = STATIC) -> list[Route]:
    """``GET /ui`` (redirects to ``/ui/``), ``GET /ui/`` (the page) and ``GET /ui/{asset}``.

    Open routes (``authenticated=False``): the files hold nothing of the
    cluster. A request with the file's ``If-None-Match`` gets 304; every answer
    says ``Cache-Control: no-cache`` so a new version is seen at once.
    """
    assets = load(directory)

    async def page(_context: Context, request: Request, _params: Mapping[str, str]) -> Response:
        if not request.path.endswith("/"):
            # Relative asset URLs in the page resolve under /ui/ only.
            return Response(
                status=308,
                content_type="text/plain; charset=utf-8",
                body=b"the console is at /ui/\n",
                headers={**SECURITY_HEADERS, "Location": f"{PREFIX}/"},
            )
        return _answer(assets["index.html"], request)

    async def asset(_context: Context, request: Request, params: Mapping[str, str]) -> Response:
        found = assets.get(params["asset"])
        if found is None:
            missing = problem_response(
                errors.NotFound(f"the console has no file {params['asset'][:100]}")
            )
            missing.headers.update(SECURITY_HEADERS)
            return missing
        return _answer(found, request)

    return [
        Route("GET", PREFIX, page, authenticated=False),
        Route("GET", PREFIX + "/{asset}", asset, authenticated=False),
    ]


def _answer(asset: Asset, request: Request) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": asset.etag}
    if request.header("if-none-match") == asset.etag:
        return Response(status=304, content_type=asset.content_type, headers=headers)
    return Response(status=200, body=asset.body, content_type=asset.content_type, headers=headers)


def health_route(directory: Path = STATIC) -> Route:
    """``GET /health`` of a function that only serves the console: healthy once its
    files are loaded. It asks the cluster nothing, so its identity needs no
    Kubernetes rights at all (the console's calls go to the API's functions)."""
    count = len(load(directory))

    async def health(_context: Context, _request: Request, _params: Mapping[str, str]) -> Response:
        checks = {"console": f"ok ({count} files)"}
        return json_response(200, HealthResponse(status="healthy", checks=checks))

    return Route("GET", "/health", health, HEALTH, authenticated=False)
