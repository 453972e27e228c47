"""Many watch streams on one function instance: memory, apiserver watches, delivery (issue 10).

Issue 10 asks that 200 streams open at once on one function instance keep its
memory bounded and cost the apiserver one watch per stream or fewer. Against
etcd + kube-apiserver with the project's CRDs (no KServe: the
InferenceService CRD is served and nothing reconciles, so the streams report
what the objects say), with the root function served by func-python in its
own process (``served_api``), the bench:

1. creates ``--models`` InferenceServices (default 100) in one namespace with
   the admin client, then starts the server and reads its RSS (``VmRSS`` of
   ``/proc/<pid>/status``) before any stream, and again after one throw-away
   stream (the server's one-off costs of a first stream: imports, its
   apiserver client), the baseline of the per-stream memory;
2. opens ``--streams`` streams (default 200) of
   ``GET /models?namespace=<ns>&watch=true`` at once from one ``httpx``
   client, each of which must deliver one ``model`` event per model, then
   ``synced``; measures the time from opening them until every stream got
   ``synced`` (and each stream's own time);
3. reads the apiserver's own gauge of open watches,
   ``apiserver_longrunning_requests{verb="WATCH"}`` for InferenceServices on
   its ``/metrics`` (admin client), before and with the streams open: the
   difference is the watches the streams hold (expected: one per stream);
   the server's RSS once that count has settled (each stream opens its
   watch after its ``synced``);
4. changes the image of ``--changes`` models (default 20), one after the
   other, each by a JSON merge patch (a spec change: ``generation`` and
   ``image`` in the summary change, so every stream must send a ``model``
   event); per change and stream, the delivery latency is the time from the
   patch call returning to the stream's matching event (median, p90 and max
   over all stream x change pairs; negative: the event came before the
   patch's own answer); then the server's RSS;
5. closes every stream and waits for the apiserver's watch gauge to drop
   back to where it was before (the server closed the watch of every stream:
   its stream slots are released with them), then the server's RSS. A
   stream the server ended before the close (an ``error`` event) or that
   sent an unexpected event is listed as a problem; later changes are
   awaited only from the streams still open.

Per-stream memory is (RSS with the streams open - RSS after the throw-away
stream) / streams: it includes what the server's HTTP server, the asyncio
client and its TLS connections to the apiserver hold per stream, beside the
stream's own state.
RSS after the close rarely falls back to the start: CPython's allocator keeps
freed arenas mapped.

    .venv/bin/python bench/watch_streams.py [--models 100] [--streams 200] [--changes 20]

On a shared 2-core machine the apiserver, etcd, the server and the bench
compete for the CPUs: the load average is printed with the numbers; compare
runs, not one max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import phases
import served_api
from controlplane.cluster import ControlPlane, Settings
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client

NAMESPACE = "bench-watch"
IMAGE = "r/m"
# How long the streams may take to deliver their listing and `synced`.
OPEN_TIMEOUT_SECONDS = 120.0
# How long one change may take to reach every stream.
DELIVERY_TIMEOUT_SECONDS = 30.0
# How long the apiserver's watch gauge may take to settle after opening or closing.
SETTLE_TIMEOUT_SECONDS = 30.0
METRICS_POLL_SECONDS = 0.2
WATCH_METRIC = "apiserver_longrunning_requests"
KIB_PER_MIB = 1024


@dataclass
class StreamState:
    """One stream as the bench saw it: its answer, its listing, when it synced, how it ended."""

    index: int
    status: int | None = None
    listed: int = 0
    synced_after: float | None = None
    unexpected: list[str] = field(default_factory=list)
    ended: str | None = None


class Tracker:
    """What every stream delivered, on the bench's event loop (single-threaded).

    ``all_settled`` is set once every stream synced or ended. After its
    ``synced``, each stream's ``model`` events are recorded by ``(name, image)``
    with their arrival; ``delivered(key)`` is set once every stream that
    synced and is still open got that event (``target`` of them).
    """

    def __init__(self, streams: int, models: int) -> None:
        self.streams = [StreamState(index) for index in range(streams)]
        # Each stream lists this many models before `synced`.
        self.models = models
        # When the streams were opened (monotonic); set just before.
        self.opened = time.monotonic()
        self.all_settled = asyncio.Event()
        self.arrivals: dict[tuple[str, str], list[float]] = {}
        self.target = 0
        self._settled = 0
        self._delivered: dict[tuple[str, str], asyncio.Event] = {}

    def synced(self, stream: StreamState, after: float) -> None:
        """``stream`` got its ``synced`` ``after`` seconds from the start of the opening."""
        stream.synced_after = after
        self.target += 1
        self._settle()

    def ended(self, stream: StreamState) -> None:
        """``stream`` ended (or was closed): no longer awaited."""
        if stream.synced_after is None:
            self._settle()
            return
        self.target -= 1
        for key, delivered in self._delivered.items():
            if len(self.arrivals.get(key, [])) >= self.target:
                delivered.set()

    def arrived(self, key: tuple[str, str], at: float) -> None:
        """A stream (already synced) received the ``model`` event ``key`` at ``at``."""
        arrivals = self.arrivals.setdefault(key, [])
        arrivals.append(at)
        if len(arrivals) >= self.target:
            self.delivered(key).set()

    def delivered(self, key: tuple[str, str]) -> asyncio.Event:
        """Set once ``target`` streams received the ``model`` event ``key``."""
        return self._delivered.setdefault(key, asyncio.Event())

    def _settle(self) -> None:
        self._settled += 1
        if self._settled == len(self.streams):
            self.all_settled.set()


async def _follow(api: httpx.AsyncClient, tracker: Tracker, stream: StreamState) -> None:
    """Read one list stream until it ends or is cancelled, noting what it delivers."""
    try:
        async with api.stream(
            "GET", "/models", params={"namespace": NAMESPACE, "watch": "true"}
        ) as answer:
            stream.status = answer.status_code
            if answer.status_code != httpx.codes.OK:
                body = (await answer.aread()).decode(errors="replace")
                stream.ended = f"refused: {answer.status_code} {body[:200]}"
                return
            event: str | None = None
            data = ""
            async for line in answer.aiter_lines():
                if line:
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        data = line.removeprefix("data:").strip()
                    continue
                # A blank line ends a frame; `id`-only frames, `retry` and comments carry no event.
                if event is not None:
                    _dispatch(tracker, stream, event, data)
                event, data = None, ""
            stream.ended = "ended by the server"
    except httpx.HTTPError as e:
        stream.ended = f"{type(e).__name__}: {e}"
    finally:
        tracker.ended(stream)


def _dispatch(tracker: Tracker, stream: StreamState, event: str, data: str) -> None:
    # First, before any work: the arrival time is what is measured.
    now = time.monotonic()
    if event == "model":
        if stream.synced_after is None:
            stream.listed += 1
            return
        summary = json.loads(data)
        tracker.arrived((str(summary["name"]), str(summary.get("image"))), now)
    elif event == "synced" and stream.synced_after is None:
        if stream.listed != tracker.models:
            stream.unexpected.append(f"synced after {stream.listed} models, not {tracker.models}")
        tracker.synced(stream, now - tracker.opened)
    else:
        stream.unexpected.append(f"{event}: {data[:200]}")


def _status_kib(pid: int, key: str) -> int:
    """``key`` (``VmRSS``, ``VmHWM``) of ``/proc/<pid>/status`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {key} in /proc/{pid}/status")


def _watches(admin: client.ApiClient) -> tuple[int, int]:
    """The apiserver's open watches: of InferenceServices, and of everything."""
    request = admin.param_serialize("GET", "/metrics", auth_settings=["BearerToken"])
    answer = admin.call_api(*request)
    if answer.status != httpx.codes.OK:
        raise SystemExit(f"the apiserver's /metrics answered {answer.status}")
    isvcs = everything = 0
    for line in bytes(answer.response.data).decode().splitlines():
        if not line.startswith(WATCH_METRIC + "{") or 'verb="WATCH"' not in line:
            continue
        count = int(float(line.rsplit(" ", 1)[1]))
        everything += count
        if f'resource="{INFERENCE_SERVICE.plural}"' in line:
            isvcs += count
    return isvcs, everything


async def _settled_watches(
    admin: client.ApiClient, done: Callable[[int], bool]
) -> tuple[int, int, float]:
    """Poll the watch gauge until ``done(isvc watches)``; the last reading and its wait.

    Returns the last reading when ``SETTLE_TIMEOUT_SECONDS`` passes first.
    """
    started = time.monotonic()
    while True:
        isvcs, everything = await asyncio.to_thread(_watches, admin)
        waited = time.monotonic() - started
        if done(isvcs) or waited > SETTLE_TIMEOUT_SECONDS:
            return isvcs, everything, waited
        await asyncio.sleep(METRICS_POLL_SECONDS)


def _patch_image(custom: client.CustomObjectsApi, name: str, image: str) -> None:
    body = {"spec": {"predictor": {"containers": [{"name": "kserve-container", "image": image}]}}}
    custom.patch_namespaced_custom_object(
        INFERENCE_SERVICE.group,
        INFERENCE_SERVICE.version,
        NAMESPACE,
        INFERENCE_SERVICE.plural,
        name,
        body,
        _content_type="application/merge-patch+json",
    )


def _model_name(index: int) -> str:
    return f"m{index:05d}"


def _create_models(admin: client.ApiClient, models: int) -> None:
    client.CoreV1Api(admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
    )
    custom = client.CustomObjectsApi(admin)
    for index in range(models):
        manifest = {
            "apiVersion": INFERENCE_SERVICE.api_version,
            "kind": INFERENCE_SERVICE.kind,
            "metadata": {"name": _model_name(index)},
            "spec": {
                "predictor": {"containers": [{"name": "kserve-container", "image": f"{IMAGE}:1"}]}
            },
        }
        custom.create_namespaced_custom_object(
            INFERENCE_SERVICE.group,
            INFERENCE_SERVICE.version,
            NAMESPACE,
            INFERENCE_SERVICE.plural,
            manifest,
        )


@dataclass
class Results:
    """Everything the table prints; memory in KiB, times in seconds."""

    streams: int
    models: int
    rss: dict[str, int] = field(default_factory=dict)
    peak_rss: int = 0
    # Label -> (InferenceService watches, all watches, seconds the gauge took to settle).
    watches: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    open_seconds: float | None = None
    stream_open_seconds: list[float] = field(default_factory=list)
    synced: int = 0
    latencies: list[float] = field(default_factory=list)
    patch_seconds: list[float] = field(default_factory=list)
    missing: int = 0
    changes_made: int = 0
    open_at_close: int = 0
    # What went wrong on a stream (how it ended before the close, unexpected events) -> streams.
    problems: Counter[str] = field(default_factory=Counter)
    loads: list[str] = field(default_factory=list)


async def _measure(
    admin: client.ApiClient, server: served_api.ServedApi, args: argparse.Namespace
) -> Results:
    pid = server.process.pid
    results = Results(streams=args.streams, models=args.models)
    custom = client.CustomObjectsApi(admin)
    results.rss["at ready (no stream yet)"] = _status_kib(pid, "VmRSS")
    # The first stream costs the server one-off imports and its apiserver
    # client's start: a throw-away stream pays them before the baseline.
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as warm:
        warm_up = Tracker(1, args.models)
        task = asyncio.create_task(_follow(warm, warm_up, warm_up.streams[0]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(warm_up.all_settled.wait(), OPEN_TIMEOUT_SECONDS)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if warm_up.streams[0].synced_after is None:
            raise SystemExit(f"the warm-up stream did not sync: {warm_up.streams[0]}")
    # The warm-up's watch closes with its stream; nothing else watches models here.
    before = await _settled_watches(admin, lambda isvcs: isvcs == 0)
    baseline = before[0]
    results.watches["before"] = before
    results.rss["after one stream (closed)"] = _status_kib(pid, "VmRSS")

    tracker = Tracker(args.streams, args.models)
    limits = httpx.Limits(max_connections=args.streams, max_keepalive_connections=0)
    # No read timeout: a quiet stream sends only a heartbeat every 15 s.
    timeout = httpx.Timeout(30.0, read=None, pool=OPEN_TIMEOUT_SECONDS)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as api:
        tracker.opened = time.monotonic()
        tasks = [asyncio.create_task(_follow(api, tracker, stream)) for stream in tracker.streams]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tracker.all_settled.wait(), OPEN_TIMEOUT_SECONDS)
            synced = [s for s in tracker.streams if s.synced_after is not None]
            results.synced = len(synced)
            results.stream_open_seconds = [s.synced_after or 0.0 for s in synced]
            if results.synced == args.streams:
                results.open_seconds = max(results.stream_open_seconds)
            results.loads.append(f"streams open: {_load()}")
            # Each stream opens its apiserver watch after its `synced`: RSS once they are open.
            results.watches["streams open"] = await _settled_watches(
                admin, lambda isvcs: isvcs >= baseline + results.synced
            )
            results.rss[f"with {args.streams} streams open"] = _status_kib(pid, "VmRSS")
            await _changes(custom, tracker, results, args)
            results.rss[f"after {args.changes} changes"] = _status_kib(pid, "VmRSS")
            results.loads.append(f"changes made: {_load()}")
            results.open_at_close = tracker.target
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    for stream in tracker.streams:
        if stream.ended or stream.unexpected:
            ended = stream.ended or "open"
            results.problems[f"{ended}; unexpected: {stream.unexpected}"] += 1
    results.watches["streams closed"] = await _settled_watches(
        admin, lambda isvcs: isvcs <= baseline
    )
    results.rss["after the close"] = _status_kib(pid, "VmRSS")
    results.peak_rss = _status_kib(pid, "VmHWM")
    return results


async def _changes(
    custom: client.CustomObjectsApi, tracker: Tracker, results: Results, args: argparse.Namespace
) -> None:
    """Patch ``--changes`` images, one at a time, each awaited on every open synced stream."""
    for change in range(args.changes):
        awaited = tracker.target
        if awaited == 0:
            print(f"no stream open: {args.changes - change} changes not made", flush=True)
            return
        name = _model_name(change % args.models)
        image = f"{IMAGE}:{change + 2}"
        started = time.monotonic()
        await asyncio.to_thread(_patch_image, custom, name, image)
        patched = time.monotonic()
        results.patch_seconds.append(patched - started)
        key = (name, image)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tracker.delivered(key).wait(), DELIVERY_TIMEOUT_SECONDS)
        arrivals = tracker.arrivals.get(key, [])
        results.latencies.extend(at - patched for at in arrivals)
        results.missing += max(awaited - len(arrivals), 0)
        results.changes_made += 1
        if len(arrivals) < awaited:
            print(
                f"change {change + 1}: {len(arrivals)} of {awaited} streams delivered "
                f"{name} {image} (within {DELIVERY_TIMEOUT_SECONDS:g} s or before they ended)",
                flush=True,
            )


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _stats(samples: Sequence[float], unit: float, suffix: str) -> str:
    if not samples:
        return "none"
    median, p90, worst = statistics.median(samples), phases.percentile(samples, 0.9), max(samples)
    return (
        f"median {median * unit:.1f} {suffix}, p90 {p90 * unit:.1f} {suffix}, "
        f"max {worst * unit:.1f} {suffix}"
    )


def _report(results: Results) -> None:
    print()
    for label, kib in results.rss.items():
        print(f"{'server RSS ' + label:42}{kib / KIB_PER_MIB:>9.1f} MiB")
    print(f"{'server peak RSS (VmHWM)':42}{results.peak_rss / KIB_PER_MIB:>9.1f} MiB")
    before, opened = list(results.rss.values())[1:3]
    print(
        f"{'per stream ((open - after one) / streams)':42}"
        f"{(opened - before) / max(results.streams, 1):>9.1f} KiB"
    )
    print("\napiserver watches (apiserver_longrunning_requests, verb WATCH):")
    base = results.watches["before"][0]
    for label, (isvcs, everything, waited) in results.watches.items():
        print(
            f"  {label:16} inferenceservices {isvcs:>4} ({isvcs - base:+d}), all {everything:>4}"
            f"  (settled in {waited:.1f} s)"
        )
    print(f"\nstreams synced: {results.synced} of {results.streams} ({results.models} models each)")
    if results.open_seconds is not None:
        print(f"all {results.streams} streams synced {results.open_seconds:.2f} s after opening")
    print(f"  per stream, opening to synced: {_stats(results.stream_open_seconds, 1000, 'ms')}")
    pairs = len(results.latencies)
    print(
        f"delivery, patch returned -> event ({results.changes_made} changes, "
        f"{pairs} stream x change pairs):"
    )
    print(f"  {_stats(results.latencies, 1000, 'ms')}; missing {results.missing}")
    print(f"streams still open at the close: {results.open_at_close} of {results.synced}")
    print(f"patch call: {_stats(results.patch_seconds, 1000, 'ms')}")
    for load in results.loads:
        print(load)
    for problem, streams in results.problems.most_common():
        print(f"problem on {streams} streams: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=100, help="models listed (default 100)")
    parser.add_argument("--streams", type=int, default=200, help="streams open (default 200)")
    parser.add_argument("--changes", type=int, default=20, help="image changes (default 20)")
    args = parser.parse_args()
    if args.models < 1 or args.streams < 1 or args.changes < 0:
        parser.error("--models and --streams must be positive, --changes not negative")

    started = time.monotonic()
    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
    # The admin client's connections are closed on the way out, after the server stopped.
    with (
        ControlPlane(settings) as plane,
        tempfile.TemporaryDirectory() as tmp,
        plane.admin_client() as admin,
    ):
        _create_models(admin, args.models)
        print(
            f"cluster up, {args.models} models created in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        with served_api.serve_root(plane.kubeconfig_path, Path(tmp)) as server:
            print(f"API ready; {_load()}", flush=True)
            results = asyncio.run(_measure(admin, server, args))
            if results.problems or results.missing:
                log = (Path(tmp) / "server.log").read_text(errors="replace")
                print("server log (end):\n" + log[-3000:])
    _report(results)


if __name__ == "__main__":
    main()
