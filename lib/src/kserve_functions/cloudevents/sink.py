"""Events out: one HTTP POST per CloudEvent to the sink Knative names in ``K_SINK``.

Knative hands a producer its destination the same way whatever the producer
is (a SinkBinding or ContainerSource injects it): ``K_SINK``, the sink's URL
(here the Broker's ingress), ``K_CA_CERTS`` for an https sink whose
certificate Eventing's own CA signed, and, with Eventing's OIDC authentication
on, a token for the sink's audience in a file (the SinkBinding mounts it at
``/oidc/token`` and renews it, so it is read again for every event). The
message itself (binary-mode CloudEvent headers and body) is built by
``events``; this module only delivers it and says whether the sink took it.

The POST goes through aiohttp, not through a new dependency: every function
already loads it (the Kubernetes client's asyncio port, ``kube.transport``,
runs on it), it does not block the event loop, and it keeps connections to the
sink open between events. It is the one module besides ``kube`` that imports
aiohttp (an exception written down in pyproject.toml's import contracts): it
does not talk to the Kubernetes API.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from kserve_functions.core import errors

# A sink answers fast (a Broker's ingress stores the event and says 202); a
# slow one must not hold the event's delivery to this function for long.
DEFAULT_TIMEOUT_SECONDS = 10.0
_NO_ANSWER = (aiohttp.ClientError, TimeoutError, OSError)


class SinkConfigError(ValueError):
    """The sink's settings cannot be used (its CA certificates do not load)."""


class EventSink:
    """Delivers CloudEvents (headers and body, as built) to one sink URL."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        ca_certs: str | None = None,
        token_file: str | None = None,
    ) -> None:
        """Validate the settings; the connection pool opens on first use (inside a loop).

        Raises:
            SinkConfigError: ``ca_certs`` is not PEM that the ssl module loads.
        """
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._ssl = _ssl_context(ca_certs)
        self._token_file = Path(token_file) if token_file else None
        self._session: aiohttp.ClientSession | None = None

    async def send(self, headers: Mapping[str, str], body: bytes) -> None:
        """POST one event; return once the sink accepted it (any 2xx).

        Raises:
            errors.Unavailable: the sink did not take it (no answer, a timeout,
                or another status): the event was not delivered, try again later.
        """
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        sent = dict(headers)
        token = self._token()
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            async with self._session.post(
                self.url, data=body, headers=sent, ssl=self._ssl
            ) as response:
                await response.read()  # so the connection can be reused
                status = response.status
        except _NO_ANSWER as e:
            raise errors.Unavailable(
                f"the event sink {self.url[:200]} did not answer ({type(e).__name__})"
            ) from e
        if not 200 <= status < 300:  # noqa: PLR2004 - the 2xx range
            raise errors.Unavailable(f"the event sink {self.url[:200]} answered {status}")

    async def close(self) -> None:
        """Close the connection pool; the next ``send`` opens a new one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _token(self) -> str | None:
        """The sink's OIDC token, when Eventing mounted one; None otherwise."""
        if self._token_file is None:
            return None
        try:
            return self._token_file.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None


def _ssl_context(ca_certs: str | None) -> ssl.SSLContext | bool:
    """The system's trust plus ``ca_certs`` (PEM); True (aiohttp's default) without it."""
    if not ca_certs:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cadata=ca_certs)
    except (ssl.SSLError, ValueError) as e:
        raise SinkConfigError(f"K_CA_CERTS holds no usable PEM certificate: {e}") from e
    return context
