"""A forward proxy on loopback that stands in for cluster DNS: ``python -m controlplane.hostproxy``.

Knative Eventing's data plane addresses its parts by Service names on port 80
(``broker-ingress.knative-eventing.svc.cluster.local/<ns>/<broker>``, a
channel's ``<name>-kn-channel.<ns>.svc.cluster.local``, ``broker-filter…``),
and the apiserver calls the Eventing webhooks at
``eventing-webhook.knative-eventing.svc:443``. Nothing resolves those names
here; every one of those clients honours ``HTTP_PROXY``/``HTTPS_PROXY``
(Go's ``http.ProxyFromEnvironment``, which never proxies loopback), so this
proxy, given those variables, maps each name to the loopback port of the
process that serves it:

- a plain-HTTP request in absolute form (``POST http://host/path``) is sent
  on to ``127.0.0.1:<port>`` with its Host header unchanged (the InMemoryChannel
  dispatcher picks the channel by Host) and the answer is passed back;
- ``CONNECT host:443`` (the apiserver's TLS to a webhook) becomes a byte
  tunnel to ``127.0.0.1:<port>``; TLS stays end to end, so the webhook's own
  certificate is checked against the name, as in a cluster.

A name is routed by an exact ``--route HOST=PORT`` (the port is ignored in the
match), else by the longest ``--suffix SUFFIX=PORT`` it ends with; anything
else is answered 502 naming the host, so an unexpected address shows in the
caller's error and in this proxy's log (one line per request).
"""

from __future__ import annotations

import argparse
import http.client
import select
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Headers that belong to one hop (RFC 9110 §7.6.1), not forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# A subscriber may take its time (a slow function is one of the cases tested).
_UPSTREAM_TIMEOUT_SECONDS = 300.0
_TUNNEL_CHUNK = 65536


@dataclass(frozen=True)
class Routes:
    """Host names to loopback ports: exact names first, then the longest suffix."""

    exact: Mapping[str, int]
    suffixes: Mapping[str, int]

    def port_for(self, host: str) -> int | None:
        """The loopback port serving ``host`` (with or without ``:port``), or None."""
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        name = name.lower().rstrip(".")
        if name in self.exact:
            return self.exact[name]
        matches = [suffix for suffix in self.suffixes if name.endswith(suffix)]
        return self.suffixes[max(matches, key=len)] if matches else None


def parse_pairs(pairs: Sequence[str]) -> dict[str, int]:
    """``["name=port", ...]`` as a mapping; raises ValueError on a malformed pair."""
    parsed: dict[str, int] = {}
    for pair in pairs:
        name, sep, port = pair.partition("=")
        if not sep or not name or not port.isdigit():
            raise ValueError(f"expected NAME=PORT, got {pair!r}")
        parsed[name.lower()] = int(port)
    return parsed


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_CONNECT(self) -> None:
        port = self.server.routes.port_for(self.path)
        if port is None:
            self._refuse(self.path)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as e:
            self.send_error(HTTPStatus.BAD_GATEWAY, f"{self.path} -> 127.0.0.1:{port}: {e}")
            return
        self.send_response(HTTPStatus.OK, "Connection Established")
        self.end_headers()
        self.close_connection = True
        _pipe(self.connection, upstream)

    def _forward(self) -> None:
        target = urlsplit(self.path)
        host = self.headers.get("Host") or target.netloc
        port = self.server.routes.port_for(target.netloc or host)
        if port is None:
            self._refuse(target.netloc or host)
            return
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        path = target.path or "/"
        if target.query:
            path += f"?{target.query}"
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=_UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            connection.request(self.command, path, body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
        except OSError as e:
            self.send_error(HTTPStatus.BAD_GATEWAY, f"{host} -> 127.0.0.1:{port}: {e}")
            return
        finally:
            connection.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward  # noqa: N815

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _refuse(self, host: str) -> None:
        self.send_error(HTTPStatus.BAD_GATEWAY, f"no loopback route for {host}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        sys.stderr.write(f"{self.address_string()} {format % args}\n")
        sys.stderr.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many short connections from several clients at once.
    request_queue_size = 128

    def __init__(self, port: int, routes: Routes) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.routes = routes


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 300)
            if broken or not readable:
                return
            for source in readable:
                data = source.recv(_TUNNEL_CHUNK)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()


def serve(port: int, routes: Routes, *, ready: threading.Event | None = None) -> None:
    """Serve on ``127.0.0.1:port`` until the process ends."""
    with _Server(port, routes) as server:
        if ready is not None:
            ready.set()
        server.serve_forever()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``--port P --route HOST=PORT... --suffix SUFFIX=PORT...``."""
    parser = argparse.ArgumentParser(prog="python -m controlplane.hostproxy", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--route", action="append", default=[], metavar="HOST=PORT")
    parser.add_argument("--suffix", action="append", default=[], metavar="SUFFIX=PORT")
    args = parser.parse_args(argv)
    try:
        routes = Routes(exact=parse_pairs(args.route), suffixes=parse_pairs(args.suffix))
    except ValueError as e:
        parser.error(str(e))
    serve(args.port, routes)


if __name__ == "__main__":
    main()
