"""A forwarder in front of the apiserver that records the headers of every request.

The functions talk TLS to the apiserver, so nothing between them sees a
header. This forwarder takes plain HTTP on 127.0.0.1 (a kubeconfig's
``server`` can be ``http://``), records each request's method, path and
headers, and sends it on unchanged to the real apiserver over TLS, verified
with the cluster's CA; the apiserver's answer comes back as it was. Answers are
read whole before they are passed on, so it suits calls, not watches.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from controlplane.processes import free_port

# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones recomputed for the answer read whole.
_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
)


@dataclass(frozen=True)
class Recorded:
    """One request that went through: its method, path (with query) and headers (lower-case)."""

    method: str
    path: str
    headers: dict[str, str]


class RecordingProxy:
    """Forwards ``http://127.0.0.1:<port>`` to the apiserver of ``kubeconfig``, verified
    with ``ca_cert``; ``close`` stops it."""

    def __init__(self, kubeconfig: Path, ca_cert: Path) -> None:
        self._ca_cert = ca_cert
        document = yaml.safe_load(kubeconfig.read_text())
        self._document = document
        upstream = urlsplit(document["clusters"][0]["cluster"]["server"])
        assert upstream.scheme == "https", upstream
        self._upstream = (upstream.hostname or "127.0.0.1", upstream.port or 443)
        self._lock = threading.Lock()
        self._recorded: list[Recorded] = []
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def write_kubeconfig(self, path: Path) -> Path:
        """Write at ``path`` the kubeconfig that reaches the apiserver through this proxy
        (the same user and token)."""
        document = {**self._document}
        clusters = [{**c, "cluster": {"server": self.url}} for c in document["clusters"]]
        document["clusters"] = clusters
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        path.chmod(0o600)
        return path

    def requests(self) -> list[Recorded]:
        """What went through so far, in arrival order."""
        with self._lock:
            return list(self._recorded)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        context = ssl.create_default_context(cafile=str(self._ca_cert))
        connection = http.client.HTTPSConnection(*self._upstream, context=context, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _NOT_FORWARDED]
            return answer.status, kept, content
        finally:
            connection.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with proxy._lock:
                    proxy._recorded.append(Recorded(self.command, self.path, headers))
                sent = {k: v for k, v in headers.items() if k not in _NOT_FORWARDED}
                status, answer_headers, content = proxy._forward(
                    self.command, self.path, sent, body
                )
                self.send_response(status)
                for name, value in answer_headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
                pass  # quiet: pytest shows the test's own output

        return Handler
