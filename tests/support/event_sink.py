"""A CloudEvents sink for tests: a real HTTP server on 127.0.0.1 keeping what it accepts.

It stands where a Broker's ingress stands for the notify function (``K_SINK``):
every POST is decoded with the CloudEvents SDK, as the ingress decodes it, and
answered 202. ``refuse_next`` makes it answer the next POSTs with an error
instead, keeping nothing, as an ingress that is down would.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from controlplane.processes import free_port


@dataclass(frozen=True)
class Received:
    """One event the sink accepted: its attributes, the Authorization it came with, its data,
    its ``traceparent`` extension and the POST's own ``traceparent`` header."""

    type: str
    source: str
    id: str
    subject: str | None
    time: str | None
    datacontenttype: str | None
    authorization: str | None
    data: dict[str, Any]
    traceparent: str | None = None
    traceparent_header: str | None = None


class RecordingSink:
    """An HTTP server in a thread of its own; ``close`` stops it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: list[Received] = []
        self._refusals: list[int] = []
        self.refused = 0
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def events(self) -> list[Received]:
        """What it accepted so far, in arrival order."""
        with self._lock:
            return list(self._accepted)

    def refuse_next(self, count: int, *, status: int = 503) -> None:
        """Answer the next ``count`` POSTs with ``status``, keeping nothing."""
        with self._lock:
            self._refusals.extend([status] * count)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._lock:
                    refusal = sink._refusals.pop(0) if sink._refusals else None
                    if refusal is not None:
                        sink.refused += 1
                if refusal is not None:
                    self._answer(refusal)
                    return
                headers = {name.lower(): value for name, value in self.headers.items()}
                event = from_http_event(HTTPMessage(headers=headers, body=body))
                data = event.get_data()
                if isinstance(data, bytes | str):
                    try:
                        data = json.loads(data)
                    except ValueError:  # a dead-letter sink keeps unreadable events too
                        data = {"unreadable": data if isinstance(data, str) else data.decode()}
                subject, time = event.get_subject(), event.get_time()
                received = Received(
                    type=str(event.get_type()),
                    source=str(event.get_source()),
                    id=str(event.get_id()),
                    subject=str(subject) if subject else None,
                    time=time.isoformat() if time else None,
                    datacontenttype=event.get_datacontenttype(),
                    authorization=headers.get("authorization"),
                    data=data if isinstance(data, dict) else {},
                    traceparent=event.get_extension("traceparent"),
                    traceparent_header=headers.get("traceparent"),
                )
                with sink._lock:
                    sink._accepted.append(received)
                self._answer(202)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
                pass  # quiet: pytest shows the test's own output

        return Handler
