"""What the MCP function costs beside the models function, in one run (issue 21).

Two functions, each served by func-python in a process of its own
(``contenders.ours``, ``AUTH_MODE=none``), against one bare control plane
(etcd + kube-apiserver with the project's CRDs, as ``compare.py``), with one
model stored:

- ``models``: ``GET /models/default/x``, the HTTP route;
- ``mcp``: ``POST /mcp`` calling the tool ``get_model`` for the same model, as
  the two protocol eras send it: 2025-11-25 (a stateless request after the
  handshake: the JSON-RPC ``tools/call`` alone, answered as Server-Sent
  Events) and 2026-07-28 (self-contained: the envelope in ``_meta`` and the
  ``Mcp-*`` routing headers; answered as JSON when it ends quickly), which the
  SDK's client negotiates with this server.

Measured in turns (each round starting with another one), printed as one
Markdown table with each tool call against the route:

- cold start: spawn → ready (func-python's ``/health/readiness``), and spawn →
  the first 200 of the read (for mcp this includes importing and starting the
  MCP SDK, done on the first ``/mcp`` request); RSS at that first answer;
- the read's latency at 1 client, p50 and p90, and the server's CPU per read
  (utime + stime of ``/proc/<pid>/stat``), in rounds on kept-alive connections;
- RSS once every round was served.

    .venv/bin/python bench/mcp_server.py [--rounds N] [--requests N] [--cold-trials N]

The machines are shared and noisy: read the ratios of one run, not absolute
numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import compare
import contenders
import load
import phases
import procstat
from controlplane.cluster import ControlPlane, Settings

MODELS, MCP = "models", "mcp"
FUNCTIONS = (MODELS, MCP)
# The reads measured: the route, and the tool in both protocol eras (the SDK's
# client negotiates 2026-07-28 when the server offers it, as ours does).
ROUTE, LEGACY, MODERN = "models: route", "mcp: tool, 2025-11-25", "mcp: tool, 2026-07-28"
READS = (ROUTE, LEGACY, MODERN)
SERVED_BY = {ROUTE: MODELS, LEGACY: MCP, MODERN: MCP}
GET_PATH = f"/models/{compare.NAMESPACE}/{compare.MODEL}"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MODERN_VERSION = "2026-07-28"


def _tool_call(meta: dict[str, object] | None) -> bytes:
    params: dict[str, object] = {
        "name": "get_model",
        "arguments": {"namespace": compare.NAMESPACE, "name": compare.MODEL},
    }
    if meta is not None:
        params["_meta"] = meta
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    ).encode()


@dataclass(frozen=True)
class Read:
    """One read as sent: method, path, body and headers."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


REQUESTS = {
    ROUTE: Read("GET", GET_PATH),
    # Stateless, after the handshake: a tools/call alone, answered as SSE.
    LEGACY: Read("POST", "/mcp", _tool_call(None), MCP_HEADERS),
    # Self-contained (no handshake): the envelope in _meta, the routing headers.
    MODERN: Read(
        "POST",
        "/mcp",
        _tool_call(
            {
                "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        ),
        {
            **MCP_HEADERS,
            "Mcp-Protocol-Version": MODERN_VERSION,
            "Mcp-Method": "tools/call",
            "Mcp-Name": "get_model",
        },
    ),
}


@dataclass(frozen=True)
class Plan:
    """How much of each measurement the run does."""

    cold_trials: int = 9
    rounds: int = 5
    requests: int = 400
    warm_up: int = 20


@dataclass(frozen=True)
class Row:
    """One line: a value per function, and whether mcp / models is shown."""

    measure: str
    values: dict[str, float]
    unit: str = "ms"


def _read_probe(function: str) -> contenders.Probe:
    """The first read of ``function``: the route, or the tool (2025-11-25)."""
    read = REQUESTS[ROUTE if function == MODELS else LEGACY]
    return contenders.Probe(read.method, read.path, body=read.body, headers=read.headers)


READY_PROBE = contenders.Probe("GET", "/health/readiness")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure_cold_start(
    kubeconfig: Path, launch: dict[str, contenders.Launch], plan: Plan, tmp: Path
) -> list[Row]:
    """Spawn → ready, spawn → the first read answered, and RSS then, in turns."""
    print("cold start ...", flush=True)
    ready: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    first: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    rss: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    for trial in range(plan.cold_trials):
        for name in compare.rotated(FUNCTIONS, trial):
            log = tmp / f"ready-{name}-{trial}.log"
            with contenders.started(launch[name], kubeconfig, log, READY_PROBE) as server:
                ready[name].append(server.cold_start_seconds)
            log = tmp / f"first-{name}-{trial}.log"
            with contenders.started(launch[name], kubeconfig, log, _read_probe(name)) as server:
                first[name].append(server.cold_start_seconds)
                rss[name].append(server.rss_kib)
    return [
        Row("cold start: spawn → ready (median)", {n: _median(v) for n, v in ready.items()}, "s"),
        Row(
            "cold start: spawn → first read answered (median)",
            {n: _median(v) for n, v in first.items()},
            "s",
        ),
        Row("RSS at that first answer (median)", {n: _median(v) for n, v in rss.items()}, "MiB"),
    ]


async def _reads(
    server: contenders.Started, name: str, requests: int, warm_up: int
) -> tuple[list[float], float]:
    """``requests`` reads ``name`` one after another on one kept-alive connection
    (after ``warm_up``): each latency, and the server's CPU seconds over them."""
    read = REQUESTS[name]
    latencies: list[float] = []
    async with load.Target(name, server.url).session(1) as session:

        async def one() -> float:
            began = time.perf_counter()
            async with session.request(
                read.method, read.path, data=read.body, headers=read.headers
            ) as response:
                body = await response.read()
            if response.status != 200 or b'"isError":true' in body:  # noqa: PLR2004 - HTTP OK
                raise SystemExit(f"{name}: {response.status} {body[:300]!r}")
            return time.perf_counter() - began

        for _ in range(warm_up):
            await one()
        cpu = procstat.cpu_seconds(server.process.pid)
        for _ in range(requests):
            latencies.append(await one())
        cpu = procstat.cpu_seconds(server.process.pid) - cpu
    return latencies, cpu


def measure_reads(servers: dict[str, contenders.Started], plan: Plan) -> list[Row]:
    """Each read's latency and the server's CPU per read, in rounds taken in turns."""
    print("reads ...", flush=True)
    latencies: dict[str, list[float]] = {name: [] for name in READS}
    cpu: dict[str, list[float]] = {name: [] for name in READS}
    for turn in range(plan.rounds):
        for name in compare.rotated(READS, turn):
            server = servers[SERVED_BY[name]]
            got, seconds = asyncio.run(_reads(server, name, plan.requests, plan.warm_up))
            latencies[name] += got
            cpu[name].append(seconds / plan.requests)
    return [
        Row("read p50, 1 client", {n: phases.percentile(v, 0.5) for n, v in latencies.items()}),
        Row("read p90, 1 client", {n: phases.percentile(v, 0.9) for n, v in latencies.items()}),
        Row("server CPU per read (median of rounds)", {n: _median(v) for n, v in cpu.items()}),
        Row(
            "RSS after the reads",
            {
                READS[0]: procstat.rss_kib(servers[MODELS].process.pid),
                READS[1]: procstat.rss_kib(servers[MCP].process.pid),
            },
            "MiB",
        ),
    ]


def print_table(rows: list[Row], header: list[str]) -> None:
    """The Markdown table: each measure for the route and the tool, and each tool / route.

    Cold-start rows have a value per function (models, mcp), read rows per read.
    """
    print()
    for line in header:
        print(line)
    print()
    print(f"| measure | {' | '.join(READS)} | {LEGACY} / route | {MODERN} / route |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        values = [row.values.get(key) for key in (*READS,)]
        if MODELS in row.values:
            values = [row.values[MODELS], row.values[MCP], None]
        shown = [compare._value(value, row.unit) for value in values]
        ratios = [
            f"{value / values[0]:.2f}x" if value is not None and values[0] else "—"
            for value in values[1:]
        ]
        print(f"| {row.measure} | {' | '.join(shown)} | {' | '.join(ratios)} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=Plan.rounds)
    parser.add_argument("--requests", type=int, default=Plan.requests)
    parser.add_argument("--cold-trials", type=int, default=Plan.cold_trials)
    args = parser.parse_args()
    plan = Plan(cold_trials=args.cold_trials, rounds=args.rounds, requests=args.requests)
    compare.compile_bytecode()
    began = time.monotonic()
    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
    launch = {name: contenders.ours(name) for name in FUNCTIONS}
    with ControlPlane(settings) as plane, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        load_at_start = procstat.machine()
        print(f"control plane up; {load_at_start}", flush=True)
        compare.create_models(
            load.apiserver(plane.kubeconfig_path), compare.NAMESPACE, [compare.MODEL]
        )
        rows = measure_cold_start(plane.kubeconfig_path, launch, plan, tmp)
        with (
            contenders.started(
                launch[MODELS], plane.kubeconfig_path, tmp / "models.log", _read_probe(MODELS)
            ) as models,
            contenders.started(
                launch[MCP], plane.kubeconfig_path, tmp / "mcp.log", _read_probe(MCP)
            ) as mcp,
        ):
            rows += measure_reads({MODELS: models, MCP: mcp}, plan)
        load_at_end = procstat.machine()
    print_table(
        rows,
        [
            f"`bench/mcp_server.py` at commit {compare._commit()}, "
            f"{time.monotonic() - began:.0f} s",
            f"machine: {load_at_start} at the start; {load_at_end} at the end",
            f"Python {sys.version.split()[0]}; each function served by func-python, one process "
            "each (AUTH_MODE=none); cluster: etcd + kube-apiserver with the project's CRDs; "
            f"cold start: {plan.cold_trials} trials each in turns; reads: {plan.rounds} rounds "
            f"of {plan.requests} in turns at 1 client on a kept-alive connection",
        ],
    )


if __name__ == "__main__":
    main()
