"""Where a function's own time goes: one model's GET and the list of many, in-process.

Starts etcd + kube-apiserver with the project's CRDs (nothing reconciles
models), creates ``--models`` models in one namespace and one in ``default``,
and calls the models function's ``handle`` directly (its ASGI interface, no
HTTP server in between: func-python's part is measured by ``bench/compare.py``
as its own liveness answer) on this process's event loop. It prints:

- ``GET /models/default/x``: the median wall time per request of the whole
  ``handle``, of ``Kube.get`` alone (our sender and the official client), and
  of the same GET sent with a bare aiohttp session (the apiserver's answer and
  its JSON decoding, no client of ours), ``--gets`` sequential requests each,
  in turns; the differences are what each layer adds;
- ``GET /models?namespace=<the --models>``: wall and CPU seconds (this
  process's, which is the function's), the median of ``--lists`` lists, and the
  peak RSS growth over the RSS after a warm-up list;
- with ``--profile``: the ``--top`` functions of each by own time (cProfile),
  one profile of ``--gets`` GETs and one of a list.

    .venv/bin/python bench/inprocess_profile.py [--models 10000] [--profile]

cProfile slows Python code down unevenly (C functions less): read its table
for where the time goes, the timings above it for how much.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import importlib
import io
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import compare
import contenders
import func_python.http  # noqa: F401 - configures logging (INFO) as when a function is served
import load
import procstat
from controlplane.cluster import ControlPlane, Settings
from kserve_functions.core.resources import INFERENCE_SERVICE

MODELS_FUNCTION = contenders.FUNCTION_DIRS["models"]
ISVC_PATH = compare.ISVC_PATH

Message = MutableMapping[str, Any]
Handle = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


def create(api: load.Target, namespace: str, names: list[str]) -> None:
    """The models ``names`` in ``namespace`` (created with it unless ``default``), as
    ``bench/compare.py`` makes them; nothing when the last one exists (``--kubeconfig``)."""
    plural = f"{ISVC_PATH}/namespaces/{namespace}/{INFERENCE_SERVICE.plural}"
    _, last, _ = asyncio.run(load.timed_request(api, "GET", f"{plural}/{names[-1]}"))
    if last == 200:  # noqa: PLR2004 - HTTP OK
        return
    if namespace != compare.NAMESPACE:
        compare.create_namespace(api, namespace)
    compare.create_models(api, namespace, names)


async def call(handle: Handle, path: str, query: str = "") -> tuple[int, bytes]:
    """One request through ``handle``: its status and the last chunk of its body.

    Only the last chunk is kept (a list's ends with its count), so the peak RSS
    of a list is the function's, not this client's.
    """
    last = b""
    status = 0
    delivered = False
    gone = asyncio.Event()

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, last
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message.get("body"):
            last = bytes(message["body"])

    scope: Message = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [],
    }
    await handle(scope, receive, send)
    return status, last


def profiled(profile: cProfile.Profile, top: int, title: str) -> None:
    """Print the ``top`` functions of ``profile`` by own time, and by cumulative time."""
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(top)
        body = text.getvalue()
        print(f"\n== {title}: by {order} ==\n{body[body.find('   ncalls') :]}")


async def measure_gets(function: Any, api: load.Target, args: argparse.Namespace) -> None:  # noqa: ANN401 - the function object
    """One model's GET three ways, in turns; its profile with ``--profile``."""
    handle: Handle = function.handle
    kube = function._context.kube  # the function's own client, for its share
    plural = f"{ISVC_PATH}/namespaces/{compare.NAMESPACE}/{INFERENCE_SERVICE.plural}"
    direct_path = f"{plural}/{compare.MODEL}"
    model_path = f"/models/{compare.NAMESPACE}/{compare.MODEL}"
    async with api.session(1) as session:

        async def bare() -> None:
            async with session.get(direct_path) as answer:
                json.loads(await answer.read())

        async def ours_kube() -> None:
            await kube.get(compare.NAMESPACE, compare.MODEL)

        async def ours_handle() -> None:
            status, _ = await call(handle, model_path)
            if status != 200:  # noqa: PLR2004 - HTTP OK
                raise SystemExit(f"GET {model_path}: {status}")

        ways = {"bare aiohttp GET": bare, "Kube.get": ours_kube, "handle (whole)": ours_handle}
        for way in ways.values():
            for _ in range(50):
                await way()
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.gets):
            for name, way in ways.items():
                began = time.perf_counter()
                await way()
                seconds[name].append(time.perf_counter() - began)
    print(f"\nGET {model_path}, {args.gets} each, in turns (median ms per request):")
    medians = {name: statistics.median(values) * 1000 for name, values in seconds.items()}
    for name, value in medians.items():
        print(f"  {name}: {value:.3f} ms")
    print(
        f"  Kube.get over the bare GET: {medians['Kube.get'] - medians['bare aiohttp GET']:.3f} ms;"
        f" handle over Kube.get: {medians['handle (whole)'] - medians['Kube.get']:.3f} ms"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.gets):
            await ours_handle()
        profile.disable()
        profiled(profile, args.top, f"{args.gets} x GET {model_path}")


async def measure_list(handle: Handle, args: argparse.Namespace) -> None:
    """The list of ``--models`` models: wall, CPU, peak RSS growth; its profile."""
    query = f"namespace={compare.LIST_NAMESPACE}"
    await call(handle, "/models", f"namespace={compare.NAMESPACE}")  # the list path warmed up
    pid = os.getpid()
    baseline = procstat.rss_kib(pid)
    walls: list[float] = []
    cpus: list[float] = []
    growth: list[int] = []
    for _ in range(args.lists):
        procstat.reset_peak(pid)
        began, began_cpu = time.perf_counter(), time.process_time()
        status, last = await call(handle, "/models", query)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
        growth.append(procstat.peak_rss_kib(pid) - baseline)
        if status != 200 or not last.endswith(b'"count":%d}' % args.models):  # noqa: PLR2004
            raise SystemExit(f"GET /models?{query}: {status}")
    print(
        f"\nGET /models?{query} ({args.models} models), {args.lists} lists: "
        f"wall {statistics.median(walls):.3f} s, CPU {statistics.median(cpus):.3f} s (medians); "
        f"peak RSS growth {max(growth) / procstat.KIB_PER_MIB:.1f} MiB"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        await call(handle, "/models", query)
        profile.disable()
        profiled(profile, args.top, f"GET /models?{query}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--lists", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print cProfile tables")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        help="use this running cluster (`python -m controlplane up --without-kserve`) "
        "instead of starting one; the models are created unless they exist",
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        kubeconfig = args.kubeconfig
        if kubeconfig is None:
            settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
            kubeconfig = stack.enter_context(ControlPlane(settings)).kubeconfig_path
        api = load.apiserver(kubeconfig)
        create(api, compare.NAMESPACE, [compare.MODEL])
        began = time.perf_counter()
        create(api, compare.LIST_NAMESPACE, [f"m{index:05d}" for index in range(args.models)])
        print(f"{args.models} models there in {time.perf_counter() - began:.1f} s", flush=True)
        os.environ.update({"KUBECONFIG": str(kubeconfig), "AUTH_MODE": "none"})
        # Each request's log line is written, as a served function writes it, to a file.
        log_file = stack.enter_context(tempfile.TemporaryFile("w"))
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log_file)
        sys.path.insert(0, str(MODELS_FUNCTION))
        function = importlib.import_module("function").new()
        function.start(os.environ.copy())
        asyncio.run(_measured(function, api, args))


async def _measured(function: Any, api: load.Target, args: argparse.Namespace) -> None:  # noqa: ANN401 - the function object
    try:
        await measure_gets(function, api, args)
        await measure_list(function.handle, args)
    finally:
        await function.aclose()


if __name__ == "__main__":
    main()
