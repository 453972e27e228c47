"""Load for the side-by-side benches: closed-loop HTTP clients, and the apiserver reached directly.

One client (aiohttp, the HTTP library the project's Kubernetes client uses)
drives every target: our function and the seed over plain HTTP on loopback,
and the apiserver over TLS with the bearer token of the kubeconfig the
servers use. So the differences measured are the servers', not the clients'.
The load generator runs on the bench's own event loop and shares the
machine's cores with the servers: throughput is a ratio within one run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import procstat
import yaml

# Every request is bounded, so a stuck server shows as an error, not a hung bench.
REQUEST_TIMEOUT_SECONDS = 60.0
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Target:
    """Where requests go: base URL, headers sent with each, and TLS (None: plain HTTP)."""

    name: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None

    def session(self, connections: int) -> aiohttp.ClientSession:
        """A session of at most ``connections`` kept-alive connections to the target."""
        connector = aiohttp.TCPConnector(
            limit=connections, ssl=self.ssl_context if self.ssl_context is not None else False
        )
        return aiohttp.ClientSession(
            base_url=self.base_url,
            connector=connector,
            headers=dict(self.headers),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
        )


def apiserver(kubeconfig: Path) -> Target:
    """The apiserver of ``kubeconfig``'s current context, with its CA and bearer token.

    The same TLS and token the servers under test use (they are given the same
    kubeconfig), so the direct call is the request they make, without them.

    Raises:
        SystemExit: the kubeconfig's user has no bearer token (the local
            cluster's kubeconfigs always have one).
    """
    document = yaml.safe_load(kubeconfig.read_text())
    current = document["current-context"]
    context = next(c["context"] for c in document["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in document["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in document["users"] if u["name"] == context["user"])
    if "token" not in user:
        raise SystemExit(f"{kubeconfig}: the user {context['user']} has no bearer token")
    if "certificate-authority-data" in cluster:
        ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        tls = ssl.create_default_context(cadata=ca_pem)
    else:
        tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    return Target(
        name="apiserver",
        base_url=str(cluster["server"]),
        headers={"authorization": f"Bearer {user['token']}"},
        ssl_context=tls,
    )


@dataclass(frozen=True)
class LoadResult:
    """One closed-loop run: latencies (s), wall time (s), statuses, CPU seconds per watched pid."""

    latencies: list[float]
    seconds: float
    statuses: Counter[int]
    cpu_seconds: dict[int, float]
    # The user part of cpu_seconds (procstat.user_seconds).
    user_seconds: dict[int, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Requests per second over the run."""
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


async def closed_loop(
    target: Target,
    path: str,
    *,
    clients: int,
    requests: int,
    warm_up: int,
    watch_pids: Sequence[int] = (),
) -> LoadResult:
    """``clients`` concurrent clients each GET ``path`` again as soon as answered.

    ``warm_up`` requests go first, over the same connections, and are not
    counted (the connections are open and the servers' first-request costs
    paid); then ``requests`` are timed, each from send to the whole body read.
    ``cpu_seconds`` is the CPU time each of ``watch_pids`` used during the
    timed part. Every answer's status is counted; a transport error is status 0.
    """
    async with target.session(clients) as session:
        await _run(
            session, path, clients=clients, requests=warm_up, latencies=[], statuses=Counter()
        )
        cpu_before = {pid: procstat.cpu_seconds(pid) for pid in watch_pids}
        user_before = {pid: procstat.user_seconds(pid) for pid in watch_pids}
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        began = time.perf_counter()
        await _run(
            session,
            path,
            clients=clients,
            requests=requests,
            latencies=latencies,
            statuses=statuses,
        )
        seconds = time.perf_counter() - began
        cpu = {pid: procstat.cpu_seconds(pid) - cpu_before[pid] for pid in watch_pids}
        user = {pid: procstat.user_seconds(pid) - user_before[pid] for pid in watch_pids}
    return LoadResult(latencies, seconds, statuses, cpu, user)


async def _run(
    session: aiohttp.ClientSession,
    path: str,
    *,
    clients: int,
    requests: int,
    latencies: list[float],
    statuses: Counter[int],
) -> None:
    remaining = requests

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            try:
                async with session.get(path) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            latencies.append(time.perf_counter() - began)
            statuses[status] += 1

    await asyncio.gather(*(client() for _ in range(min(clients, requests))))


async def send_all(
    target: Target,
    requests: Sequence[tuple[str, str, Any]],
    *,
    clients: int,
    content_type: str = "application/json",
) -> Counter[int]:
    """Send ``(method, path, json body)`` requests, ``clients`` at a time; count the statuses.

    For setting up a bench (creating thousands of models), and for timing a
    batch as a whole. ``content_type`` names the body's JSON flavour (a JSON patch).
    """
    queue = list(reversed(requests))
    statuses: Counter[int] = Counter()
    async with target.session(clients) as session:

        async def client() -> None:
            while queue:
                method, path, body = queue.pop()
                try:
                    async with session.request(
                        method,
                        path,
                        data=json.dumps(body).encode(),
                        headers={"content-type": content_type},
                    ) as answer:
                        await answer.read()
                        statuses[answer.status] += 1
                except (aiohttp.ClientError, TimeoutError):
                    statuses[0] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return statuses


async def timed_request(
    target: Target,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[float, int, bytes]:
    """One request on a fresh connection: (seconds to the whole answer, status, body)."""
    async with target.session(1) as session:
        began = time.perf_counter()
        async with session.request(method, path, data=body, headers=headers) as answer:
            content = await answer.read()
        return time.perf_counter() - began, answer.status, content


async def request_counts(target: Target) -> Counter[tuple[str, str]]:
    """The apiserver's ``apiserver_request_total`` summed by (verb, resource[/subresource]).

    Read from its ``/metrics`` (``target`` must be ``apiserver(...)``, whose
    user may read it). Requests to no resource (``/metrics`` itself,
    ``/readyz``) are under resource ``""``.
    """
    async with target.session(1) as session, session.get("/metrics") as answer:
        if answer.status != 200:  # noqa: PLR2004 - HTTP OK
            raise SystemExit(f"the apiserver's /metrics answered {answer.status}")
        text = await answer.text()
    counts: Counter[tuple[str, str]] = Counter()
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, value = line.rsplit(" ", 1)
        labels = dict(_LABEL.findall(labels_text))
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        counts[(labels.get("verb", ""), resource)] += int(float(value))
    return counts
