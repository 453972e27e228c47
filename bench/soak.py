"""Soak: minutes of mixed traffic against one served function; its RSS and open fds must stay flat.

Against etcd + kube-apiserver with the project's CRDs (nothing reconciles
models), the root function is served by func-python in its own process
(``served_api``) and driven for ``--minutes`` (default 10) by

- ``--clients`` (default 8) closed-loop clients, each sending one request
  after the other, picked at random: ``POST /deploy`` of one of ``--models``
  (default 40) names with a new image (a create or an update), ``GET
  /models/soak/<name>``, ``GET /models?namespace=soak``, ``DELETE
  /models/soak/<name>`` (weights 3 : 3 : 2 : 2);
- ``--streams`` (default 2) watchers, each opening ``GET
  /models?namespace=soak&watch=true``, reading it for 2-8 s after its
  ``synced`` (the model events the clients cause), closing it and opening
  the next.

Every ``--interval`` seconds (default 10) the server's RSS (``VmRSS``) and
open file descriptors (``/proc/<pid>/fd``) are sampled and printed (the
curve), with the requests so far. After the run: start, end and maximum of
both, and the verdict. The first ``--warm-up`` minutes (default: a quarter
of the run, at most 2) are the server's warm-up (imports on first use,
caches, the allocator's arenas, connection pools filling) and not judged;
the sample at its end is the reference. The run fails (exit 1) when, after
the warm-up,

- RSS rises more than ``--rss-tolerance`` MiB (default 10) above the reference,
- open fds rise more than ``--fd-tolerance`` (default 12) above it (each open
  stream holds about two: its client's connection and its apiserver watch;
  the clients' kept-alive connections are a fixed number),
- or any answer was not one the traffic can cause (2xx; 404 for a model
  deleted meanwhile; 409 for a concurrent change), or a request failed.

    .venv/bin/python bench/soak.py [--minutes 10]

The tolerances are above the noise of a healthy server (the allocator's
arenas, streams open at the moment of a sample) and far below a real leak: one
of 1 KiB per request at this traffic's rate (about a hundred requests a second
on a shared 2-core machine) grows RSS by some 60 MiB in 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import procstat
import served_api
from controlplane.cluster import ControlPlane, Settings
from kubernetes import client

NAMESPACE = "soak"
# Operation -> weight, and the statuses the mixed traffic can legitimately cause.
WEIGHTS = {"deploy": 3, "get": 3, "list": 2, "delete": 2}
EXPECTED = {
    # 409: a concurrent deploy or delete of the same model changed it meanwhile.
    "deploy": {200, 201, 409},
    # 404: deleted by another client (or never deployed yet).
    "get": {200, 404},
    "list": {200},
    "delete": {200, 404, 409},
    "stream": {200},
}
REQUEST_TIMEOUT_SECONDS = 30.0
MIB = procstat.KIB_PER_MIB


@dataclass(frozen=True)
class Sample:
    """One reading of the server: seconds since the traffic began, RSS (KiB), fds, requests."""

    at: float
    rss_kib: int
    fds: int
    requests: int


@dataclass
class Traffic:
    """What the clients and watchers did: (operation, status) counts, failures, streams."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    streams_opened: int = 0
    stream_events: int = 0

    @property
    def requests(self) -> int:
        """Answers so far (streams included), failures not."""
        return sum(self.statuses.values())

    def unexpected(self) -> dict[str, int]:
        """Answers no traffic of this mix can cause, and failed requests, by description."""
        found = {
            f"{operation} answered {status}": count
            for (operation, status), count in self.statuses.items()
            if status not in EXPECTED[operation]
        }
        found.update(self.failures)
        return found


async def _client(api: httpx.AsyncClient, traffic: Traffic, models: int, until: float) -> None:
    operations, weights = list(WEIGHTS), list(WEIGHTS.values())
    while time.monotonic() < until:
        operation = random.choices(operations, weights)[0]  # noqa: S311 - not cryptographic
        name = f"m{random.randrange(models):03d}"  # noqa: S311
        try:
            if operation == "deploy":
                image = f"r/soak:{random.randrange(1_000_000)}"  # noqa: S311
                body = {"name": name, "namespace": NAMESPACE, "image": image}
                answer = await api.post("/deploy", json=body)
            elif operation == "get":
                answer = await api.get(f"/models/{NAMESPACE}/{name}")
            elif operation == "list":
                answer = await api.get("/models", params={"namespace": NAMESPACE})
            else:
                answer = await api.delete(f"/models/{NAMESPACE}/{name}")
        except httpx.HTTPError as e:
            traffic.failures[f"{operation}: {type(e).__name__}: {e}"] += 1
            continue
        traffic.statuses[(operation, answer.status_code)] += 1


async def _watcher(api: httpx.AsyncClient, traffic: Traffic, until: float) -> None:
    while time.monotonic() < until:
        hold = random.uniform(2.0, 8.0)  # noqa: S311
        try:
            async with api.stream(
                "GET", "/models", params={"namespace": NAMESPACE, "watch": "true"}
            ) as answer:
                traffic.statuses[("stream", answer.status_code)] += 1
                if answer.status_code != httpx.codes.OK:
                    await answer.aread()
                    await asyncio.sleep(1)
                    continue
                traffic.streams_opened += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_read_events(answer, traffic), hold)
        except httpx.HTTPError as e:
            traffic.failures[f"stream: {type(e).__name__}: {e}"] += 1


async def _read_events(answer: httpx.Response, traffic: Traffic) -> None:
    """Count the stream's events until it ends (the caller's timeout closes it)."""
    async for line in answer.aiter_lines():
        if line.startswith("event:"):
            traffic.stream_events += 1
            if line.removeprefix("event:").strip() == "error":
                traffic.failures["stream: an error event"] += 1


async def _sampler(
    pid: int, traffic: Traffic, began: float, until: float, interval: float
) -> list[Sample]:
    samples: list[Sample] = []
    while True:
        now = time.monotonic()
        sample = Sample(
            now - began, procstat.rss_kib(pid), procstat.open_fds(pid), traffic.requests
        )
        rate = (
            (sample.requests - samples[-1].requests) / (sample.at - samples[-1].at)
            if samples
            else 0
        )
        samples.append(sample)
        print(
            f"t={sample.at:6.0f} s  RSS {sample.rss_kib / MIB:7.1f} MiB  fds {sample.fds:4d}  "
            f"requests {sample.requests:7d} ({rate:5.0f}/s)",
            flush=True,
        )
        if now >= until:
            return samples
        await asyncio.sleep(min(interval, max(until - time.monotonic(), 0)))


async def _soak(
    server: served_api.ServedApi, args: argparse.Namespace
) -> tuple[list[Sample], Traffic]:
    traffic = Traffic()
    began = time.monotonic()
    until = began + args.minutes * 60
    limits = httpx.Limits(max_connections=args.clients + args.streams)
    # No read timeout on streams: a quiet stream sends only a heartbeat every 15 s.
    timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS, read=None)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as api:
        sampler = asyncio.create_task(
            _sampler(server.process.pid, traffic, began, until, args.interval)
        )
        await asyncio.gather(
            *(_client(api, traffic, args.models, until) for _ in range(args.clients)),
            *(_watcher(api, traffic, until) for _ in range(args.streams)),
        )
        samples = await sampler
    return samples, traffic


def _slope_mib_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time (MiB per minute); 0 for fewer than two samples."""
    if len(samples) < 2:  # noqa: PLR2004 - a line needs two points
        return 0.0
    times = [sample.at / 60 for sample in samples]
    rss = [sample.rss_kib / MIB for sample in samples]
    mean_t, mean_r = statistics.fmean(times), statistics.fmean(rss)
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (r - mean_r) for t, r in zip(times, rss, strict=True)) / spread


def _verdict(samples: list[Sample], traffic: Traffic, args: argparse.Namespace) -> list[str]:
    """Print start/end/max and the traffic; the reasons the soak failed (none: it passed)."""
    warm_up = args.warm_up * 60
    judged = [sample for sample in samples if sample.at >= warm_up] or samples[-1:]
    reference = judged[0]
    print()
    skipped = len(samples) - len(judged)
    for label, values, show in (
        ("RSS", [s.rss_kib for s in samples], lambda v: f"{v / MIB:.1f} MiB"),
        ("open fds", [s.fds for s in samples], str),
    ):
        print(
            f"{label}: start {show(values[0])}, after warm-up {show(values[skipped])}, "
            f"end {show(values[-1])}, max {show(max(values))}"
        )
    print(f"RSS slope after warm-up: {_slope_mib_per_minute(judged):+.2f} MiB/min")
    by_status = ", ".join(f"{op} {st}: {n}" for (op, st), n in sorted(traffic.statuses.items()))
    print(f"requests: {traffic.requests} ({by_status})")
    print(f"streams opened: {traffic.streams_opened}, events read: {traffic.stream_events}")
    problems = []
    rss_growth = max(s.rss_kib for s in judged) - reference.rss_kib
    fd_growth = max(s.fds for s in judged) - reference.fds
    if rss_growth > args.rss_tolerance * MIB:
        problems.append(
            f"RSS rose {rss_growth / MIB:.1f} MiB after warm-up "
            f"(tolerance {args.rss_tolerance:g} MiB)"
        )
    if fd_growth > args.fd_tolerance:
        problems.append(
            f"open fds rose by {fd_growth} after warm-up (tolerance {args.fd_tolerance})"
        )
    problems.extend(f"{what}: {count}" for what, count in traffic.unexpected().items())
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="traffic duration (default 10)")
    parser.add_argument("--warm-up", type=float, default=None, help="minutes not judged")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients (default 8)")
    parser.add_argument("--streams", type=int, default=2, help="watch streams at once (default 2)")
    parser.add_argument("--models", type=int, default=40, help="model names used (default 40)")
    parser.add_argument("--rss-tolerance", type=float, default=10.0, help="MiB (default 10)")
    parser.add_argument("--fd-tolerance", type=int, default=12, help="fds (default 12)")
    args = parser.parse_args()
    if args.minutes <= 0 or args.interval <= 0 or args.clients < 1 or args.models < 1:
        parser.error("--minutes, --interval, --clients and --models must be positive")
    if args.warm_up is None:
        args.warm_up = min(args.minutes / 4, 2.0)

    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
    with (
        ControlPlane(settings) as plane,
        tempfile.TemporaryDirectory() as tmp,
        plane.admin_client() as admin,
    ):
        client.CoreV1Api(admin).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
        with served_api.serve_root(plane.kubeconfig_path, Path(tmp)) as server:
            print(
                f"soak: {args.minutes:g} min, {args.clients} clients, {args.streams} streams, "
                f"warm-up {args.warm_up:g} min; {procstat.machine()}",
                flush=True,
            )
            samples, traffic = asyncio.run(_soak(server, args))
            print(f"done; {procstat.machine()}")
            problems = _verdict(samples, traffic, args)
            if problems:
                log = (Path(tmp) / "server.log").read_text(errors="replace")
                print("server log (end):\n" + log[-3000:])
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(
        f"passed: RSS within {args.rss_tolerance:g} MiB and open fds within "
        f"{args.fd_tolerance} of their level after warm-up; every answer expected"
    )


if __name__ == "__main__":
    main()
