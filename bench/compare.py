"""Our functions side by side with the seed's design and the apiserver itself, in one run.

The seed baseline (``bench/seed_fastapi/``, the seed's design: FastAPI +
uvicorn + the synchronous ``kubernetes`` client, run from ``.bench/seed-venv``
with its pinned requirements, created on first use) and our functions
(func-python, one process each, as Knative runs them) are started against one
local control plane (etcd + kube-apiserver with the project's CRDs; nothing
reconciles models) and measured in turns (A B A B), so both meet the same
machine load. Printed as one Markdown table with ratios:

- cold start: spawn → the first 200 of a real request (``GET
  /models/default/x`` of a model that exists for the models and root
  functions and the seed; the deploy function's ``POST /deploy`` (an update),
  the delete function's ``DELETE`` of an existing model, the health function's
  ``GET /health``), and the server's RSS at that moment; beside them the
  floors, processes that only import and exit: the interpreter alone, ``import
  kubernetes``, the imports every one of our functions needs
  (``func_python.http``, ``kubernetes.aio.client``, ``kubernetes.config``) and
  the seed's (``fastapi``, ``uvicorn``, ``kubernetes.client``,
  ``kubernetes.config``);
- ``GET /models/default/x`` (the models function) vs the seed vs the same GET
  sent to the apiserver directly with the servers' TLS and token: p50/p99 at
  1 and 32 closed-loop clients, throughput at 32, and CPU milliseconds per
  request of the server (``/proc/<pid>/stat``; for the direct call, of the
  apiserver) and of the apiserver, and the apiserver requests per GET; and
  the floor of any function on func-python: its own answer to its liveness
  probe (``GET /health/liveness``, no apiserver call), p50 at 1 client;
- ``POST /deploy`` updates (the deploy function vs the seed): apiserver
  requests per deploy (``apiserver_request_total`` deltas by verb and
  resource), latency, and CPU per deploy of the server and of the apiserver;
- a registry push (a Docker Distribution notification) to the deploy function
  fanning out to N models that opted in (deployed with ``autoUpdate``): the
  time from sending it until the answer, which comes once every model is
  patched (then checked in the cluster); the seed has no such feature. Its
  floor in the apiserver column: the one write each model needs (the same
  JSON patch of its image) sent straight to the apiserver, as many at a time;
- ``GET /models`` of a namespace of 10,000 models: time and the server's peak
  RSS over its RSS before the first list (``VmHWM``, reset before each list);
  its floor in the apiserver column: the apiserver's own answer to the one
  plain list the seed sends.

    .venv/bin/python bench/compare.py [--quick] [--list-only]

``--quick`` (a few minutes) runs fewer rounds and the 500-model push only;
the full run adds the 5,000-model push (target ≤ 10 s). ``--list-only``
measures the list alone. These machines are
shared and noisy: read the ratios, which come from one run, not absolute
numbers across runs. Latency and throughput come from one load generator
(aiohttp) on this machine's cores, shared with the servers and the apiserver.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contenders
import load
import phases
import procstat
from controlplane.cluster import ControlPlane, Settings
from kserve_functions.core.resources import INFERENCE_SERVICE
from kserve_functions.operations import rollouts

NAMESPACE = "default"
MODEL = "x"
LIST_NAMESPACE = "bench-list"
IMAGE = "r/bench:1"
ISVC_PATH = f"/apis/{INFERENCE_SERVICE.group}/{INFERENCE_SERVICE.version}"
# The imports every one of our functions needs at least, and the seed's.
OUR_FLOOR = "import func_python.http, kubernetes.aio.client, kubernetes.config"
SEED_FLOOR = "import fastapi, uvicorn, kubernetes.client, kubernetes.config"
# Appended to a floor's command: its own peak RSS (KiB), printed at exit. Read from
# /proc/self/status: getrusage's ru_maxrss keeps the forking parent's peak across exec.
_PRINT_PEAK = (
    "; print(next(line.split()[1] for line in open('/proc/self/status') "
    "if line.startswith('VmHWM:')))"
)
# Apiserver requests no server under test makes: the metrics scrape itself (no
# resource) and the apiserver's own lease renewals.
BACKGROUND_RESOURCES = frozenset({"", "leases"})
PUSH_HOST = "registry.local:5000"
PUSH_DIGEST = "sha256:" + "ab" * 32
MIB = procstat.KIB_PER_MIB


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run does."""

    cold_trials: int
    latency_rounds: int
    requests_1: int
    requests_32: int
    deploy_rounds: int
    deploys: int
    push_sizes: tuple[int, ...]
    list_models: int
    list_rounds: int

    @classmethod
    def quick(cls) -> Plan:
        """A few minutes."""
        return cls(3, 2, 150, 800, 2, 10, (500,), 10_000, 2)

    @classmethod
    def full(cls) -> Plan:
        """Longer, with the 5,000-model push."""
        return cls(7, 4, 400, 3000, 3, 30, (500, 5000), 10_000, 3)


@dataclass
class Row:
    """One line of the table: values for ours, the seed and the apiserver (None: not measured)."""

    measure: str
    ours: float | None = None
    seed: float | None = None
    apiserver: float | None = None
    # How values print: "ms", "s", "MiB", "req/s", "n".
    unit: str = "ms"
    note: str = ""


@dataclass
class Results:
    """The table's rows, in order, and notes printed under it."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Append ``row`` and print it at once (progress on a long run)."""
        self.rows.append(row)
        print(
            f"  {row.measure}: ours {_value(row.ours, row.unit)}, seed "
            f"{_value(row.seed, row.unit)}, apiserver {_value(row.apiserver, row.unit)}"
            f"{' (' + row.note + ')' if row.note else ''}",
            flush=True,
        )


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value * 1000:.2f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MiB":
        return f"{value / MIB:.1f} MiB"
    if unit == "req/s":
        return f"{value:.0f} req/s"
    return f"{value:g}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}x"


def isvc(name: str, *, image: str = IMAGE) -> dict[str, Any]:
    """A minimal InferenceService with a custom container (what the apiserver stores as is)."""
    return {
        "apiVersion": INFERENCE_SERVICE.api_version,
        "kind": INFERENCE_SERVICE.kind,
        "metadata": {"name": name},
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": image}]}},
    }


def create_models(api: load.Target, namespace: str, names: Sequence[str]) -> None:
    """Create the models ``names`` in ``namespace`` directly in the apiserver, 32 at a time.

    Raises:
        SystemExit: any create did not answer 201.
    """
    plural = f"{ISVC_PATH}/namespaces/{namespace}/{INFERENCE_SERVICE.plural}"
    requests = [("POST", plural, isvc(name)) for name in names]
    statuses = asyncio.run(load.send_all(api, requests, clients=32))
    if set(statuses) != {201}:
        raise SystemExit(f"creating {len(names)} models in {namespace}: {dict(statuses)}")


def create_namespace(api: load.Target, name: str) -> None:
    """Create the namespace ``name``.

    Raises:
        SystemExit: the apiserver did not answer 201.
    """
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    statuses = asyncio.run(load.send_all(api, [("POST", "/api/v1/namespaces", body)], clients=1))
    if set(statuses) != {201}:
        raise SystemExit(f"creating namespace {name}: {dict(statuses)}")


def rotated(items: Sequence[Any], turn: int) -> list[Any]:
    """``items`` starting at ``turn`` (mod their number): each round starts with another one."""
    turn %= len(items)
    return [*items[turn:], *items[:turn]]


# -- cold start -------------------------------------------------------------


def _get_probe() -> contenders.Probe:
    return contenders.Probe("GET", f"/models/{NAMESPACE}/{MODEL}")


def _cold_probes(trial: int) -> dict[str, contenders.Probe]:
    deploy = json.dumps({"name": "cold-deploy", "namespace": NAMESPACE, "image": IMAGE}).encode()
    return {
        "root": _get_probe(),
        "models": _get_probe(),
        "deploy": contenders.Probe("POST", "/deploy", deploy),
        "delete": contenders.Probe("DELETE", f"/models/{NAMESPACE}/cold-delete-{trial}"),
        "health": contenders.Probe("GET", "/health"),
        "seed": _get_probe(),
    }


def _floor(argv: list[str]) -> tuple[float, int]:
    """Spawn-to-exit seconds of a process that only imports, and its peak RSS (KiB)."""
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{argv}: {done.stderr}")
    return seconds, int(done.stdout.split()[-1])


def measure_cold_start(
    plane: ControlPlane, api: load.Target, plan: Plan, tmp: Path, results: Results
) -> None:
    """Cold starts of every function and the seed, and the import floors, in turns."""
    print("cold start ...", flush=True)
    create_models(api, NAMESPACE, ["cold-deploy"])
    create_models(api, NAMESPACE, [f"cold-delete-{trial}" for trial in range(plan.cold_trials)])
    launches = [contenders.ours(name) for name in contenders.FUNCTION_DIRS]
    launches.append(contenders.seed())
    floors = {
        "python -c pass": [sys.executable, "-c", "pass" + _PRINT_PEAK],
        "import kubernetes": [sys.executable, "-c", "import kubernetes" + _PRINT_PEAK],
        "our floor": [sys.executable, "-c", OUR_FLOOR + _PRINT_PEAK],
        "seed floor": [str(contenders.seed_python()), "-c", SEED_FLOOR + _PRINT_PEAK],
    }
    seconds: dict[str, list[float]] = {}
    rss: dict[str, list[int]] = {}
    for trial in range(plan.cold_trials):
        probes = _cold_probes(trial)
        for launch in rotated(launches, trial):
            log = tmp / f"cold-{launch.name}-{trial}.log"
            with contenders.started(launch, plane.kubeconfig_path, log, probes[launch.name]) as s:
                seconds.setdefault(launch.name, []).append(s.cold_start_seconds)
                rss.setdefault(launch.name, []).append(s.rss_kib)
        for name, argv in rotated(list(floors.items()), trial):
            took, peak = _floor(argv)
            seconds.setdefault(name, []).append(took)
            rss.setdefault(name, []).append(peak)
    med = {name: statistics.median(values) for name, values in seconds.items()}
    mem = {name: float(statistics.median(values)) for name, values in rss.items()}
    what = {
        "root": "GET /models/default/x",
        "models": "GET /models/default/x",
        "deploy": "POST /deploy (update)",
        "delete": "DELETE /models/default/…",
        "health": "GET /health",
    }
    for name in contenders.FUNCTION_DIRS:
        results.add(
            Row(
                f"cold start → first 200, {name} function ({what[name]})",
                med[name],
                med["seed"],
                unit="s",
            )
        )
    for name in contenders.FUNCTION_DIRS:
        results.add(
            Row(f"RSS at that first 200, {name} function", mem[name], mem["seed"], unit="MiB")
        )
    results.add(
        Row(
            "floor: spawn → exit, imports only (ours: func_python.http + "
            "kubernetes.aio.client + kubernetes.config; seed: fastapi + uvicorn + "
            "kubernetes.client + kubernetes.config)",
            med["our floor"],
            med["seed floor"],
            unit="s",
        )
    )
    results.add(
        Row("floor: peak RSS of those imports", mem["our floor"], mem["seed floor"], unit="MiB")
    )
    results.add(Row("floor: `import kubernetes` alone", med["import kubernetes"], unit="s"))
    results.add(Row("floor: `python -c pass`", med["python -c pass"], unit="s"))
    results.notes.append(
        f"cold start: median of {plan.cold_trials} trials each, in turns; the seed's is "
        "always its GET /models/default/x; RSS is VmRSS right "
        "after the first 200 (floors: the process's own peak RSS at exit)."
    )


# -- GET latency, throughput, CPU ------------------------------------------


def measure_gets(
    plane: ControlPlane,
    api: load.Target,
    servers: dict[str, contenders.Started],
    plan: Plan,
    results: Results,
) -> None:
    """``GET /models/default/x``: ours, the seed, the apiserver, at 1 and 32 clients, in turns."""
    print("GET latency and throughput ...", flush=True)
    apiserver_pid = plane.components["kube-apiserver"].pid
    direct_path = f"{ISVC_PATH}/namespaces/{NAMESPACE}/{INFERENCE_SERVICE.plural}/{MODEL}"
    targets = {
        "ours": (
            load.Target("ours", servers["models"].url),
            f"/models/{NAMESPACE}/{MODEL}",
            servers["models"].process.pid,
        ),
        "seed": (
            load.Target("seed", servers["seed"].url),
            f"/models/{NAMESPACE}/{MODEL}",
            servers["seed"].process.pid,
        ),
        "apiserver": (api, direct_path, apiserver_pid),
    }
    runs: dict[tuple[str, int], list[load.LoadResult]] = {}
    hops: list[load.LoadResult] = []
    # Per target: GETs sent (warm-ups included) and the apiserver requests they caused.
    sent: Counter[str] = Counter()
    caused: Counter[str] = Counter()
    for turn in range(plan.latency_rounds):
        for name in rotated(list(targets), turn):
            target, path, pid = targets[name]
            for clients, requests in ((1, plan.requests_1), (32, plan.requests_32)):
                warm_up = max(2 * clients, 20)
                before = asyncio.run(load.request_counts(api))
                run = asyncio.run(
                    load.closed_loop(
                        target,
                        path,
                        clients=clients,
                        requests=requests,
                        warm_up=warm_up,
                        watch_pids=sorted({pid, apiserver_pid}),
                    )
                )
                caused[name] += _without_background(asyncio.run(load.request_counts(api)) - before)
                sent[name] += warm_up + requests
                if set(run.statuses) != {200}:
                    raise SystemExit(f"GET {name} at {clients} clients: {dict(run.statuses)}")
                runs.setdefault((name, clients), []).append(run)
        # The hop alone: func-python answering its own liveness probe, no apiserver call.
        hop = asyncio.run(
            load.closed_loop(
                targets["ours"][0],
                "/health/liveness",
                clients=1,
                requests=plan.requests_1,
                warm_up=20,
                watch_pids=[targets["ours"][2]],
            )
        )
        if set(hop.statuses) != {200}:
            raise SystemExit(f"GET /health/liveness: {dict(hop.statuses)}")
        hops.append(hop)

    def row(
        measure: str,
        clients: int,
        pick: Callable[[str, list[load.LoadResult]], float],
        unit: str = "ms",
    ) -> None:
        values = {name: pick(name, runs[(name, clients)]) for name in targets}
        results.add(Row(measure, values["ours"], values["seed"], values["apiserver"], unit=unit))

    def percentile(fraction: float) -> Callable[[str, list[load.LoadResult]], float]:
        return lambda _name, group: phases.percentile(
            [latency for run in group for latency in run.latencies], fraction
        )

    def cpu_per_request(
        pid_of: Callable[[str], int],
    ) -> Callable[[str, list[load.LoadResult]], float]:
        return lambda name, group: (
            sum(run.cpu_seconds[pid_of(name)] for run in group)
            / sum(len(run.latencies) for run in group)
        )

    for clients in (1, 32):
        plural = f"{clients} client{'s' * (clients > 1)}"
        row(f"GET /models/default/x p50, {plural}", clients, percentile(0.5))
        row(f"GET /models/default/x p99, {plural}", clients, percentile(0.99))
        if clients == 1:
            hop_p50 = phases.percentile([t for run in hops for t in run.latencies], 0.5)
            results.add(
                Row(
                    "floor of ours: func-python's own answer (GET /health/liveness) p50, "
                    "1 client; add the apiserver column's GET",
                    hop_p50,
                )
            )
    row(
        "GET throughput, 32 clients",
        32,
        lambda _name, group: statistics.median(run.throughput for run in group),
        "req/s",
    )
    for clients in (1, 32):
        plural = f"{clients} client{'s' * (clients > 1)}"
        row(
            f"server CPU per GET, {plural} (apiserver column: the apiserver's)",
            clients,
            cpu_per_request(lambda name: targets[name][2]),
        )
        row(f"apiserver CPU per GET, {plural}", clients, cpu_per_request(lambda _n: apiserver_pid))
    per_get = {name: caused[name] / sent[name] for name in targets}
    results.add(
        Row(
            "apiserver requests per GET",
            per_get["ours"],
            per_get["seed"],
            per_get["apiserver"],
            unit="n",
        )
    )
    results.notes.append(
        f"GET: {plan.latency_rounds} rounds in turns, each {plan.requests_1} requests at 1 client "
        f"and {plan.requests_32} at 32 (after a warm-up); percentiles over all rounds' requests, "
        "throughput the median round; CPU = utime+stime of /proc/<pid>/stat over the requests."
    )


# -- deploy: apiserver requests per deploy ----------------------------------


def _without_background(counts: Counter[tuple[str, str]]) -> int:
    """The requests in ``counts`` that a server under test made (``BACKGROUND_RESOURCES`` not)."""
    return sum(
        count for (_verb, resource), count in counts.items() if resource not in BACKGROUND_RESOURCES
    )


def measure_deploys(
    plane: ControlPlane,
    api: load.Target,
    servers: dict[str, contenders.Started],
    plan: Plan,
    results: Results,
) -> None:
    """``POST /deploy`` updates through ours and the seed: apiserver requests, CPU, latency."""
    print("deploy (update) ...", flush=True)
    targets = {
        "ours": load.Target("ours", servers["deploy"].url),
        "seed": load.Target("seed", servers["seed"].url),
    }
    pids = {"ours": servers["deploy"].process.pid, "seed": servers["seed"].process.pid}
    apiserver_pid = plane.components["kube-apiserver"].pid
    # Per target: CPU seconds of the server and of the apiserver over its deploys.
    server_cpu = dict.fromkeys(targets, 0.0)
    apiserver_cpu = dict.fromkeys(targets, 0.0)
    per_deploy: dict[str, Counter[tuple[str, str]]] = {name: Counter() for name in targets}
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    counted = 0
    for turn in range(plan.deploy_rounds):
        for name in rotated(list(targets), turn):
            model = f"deploy-{name}"
            before = asyncio.run(load.request_counts(api))
            cpu_before = (procstat.cpu_seconds(pids[name]), procstat.cpu_seconds(apiserver_pid))
            for index in range(plan.deploys):
                body = json.dumps(
                    {"name": model, "namespace": NAMESPACE, "image": f"r/deploy:{turn}-{index}"}
                ).encode()
                took, status, answer = asyncio.run(
                    load.timed_request(
                        targets[name],
                        "POST",
                        "/deploy",
                        body=body,
                        headers={"content-type": "application/json"},
                    )
                )
                if status != 200:  # noqa: PLR2004 - an update is 200
                    raise SystemExit(f"deploy through {name}: {status} {answer[:300]!r}")
                latencies[name].append(took)
            server_cpu[name] += procstat.cpu_seconds(pids[name]) - cpu_before[0]
            apiserver_cpu[name] += procstat.cpu_seconds(apiserver_pid) - cpu_before[1]
            after = asyncio.run(load.request_counts(api))
            per_deploy[name].update(after - before)
        counted += plan.deploys
    for name, counts in per_deploy.items():
        per_deploy[name] = Counter(
            {key: count for key, count in counts.items() if key[1] not in BACKGROUND_RESOURCES}
        )
    totals = {name: sum(counts.values()) / counted for name, counts in per_deploy.items()}
    results.add(
        Row("apiserver requests per deploy (update)", totals["ours"], totals["seed"], unit="n")
    )
    for name, counts in per_deploy.items():
        detail = ", ".join(
            f"{count / counted:g} {verb} {resource}"
            for (verb, resource), count in sorted(counts.items(), key=lambda item: -item[1])
        )
        results.notes.append(f"apiserver requests per deploy, {name}: {detail}")
    results.add(
        Row(
            "POST /deploy (update) p50",
            statistics.median(latencies["ours"]),
            statistics.median(latencies["seed"]),
        )
    )
    for label, cpu in (("server", server_cpu), ("apiserver", apiserver_cpu)):
        results.add(Row(f"{label} CPU per deploy", cpu["ours"] / counted, cpu["seed"] / counted))
    results.notes.append(
        f"deploy: {plan.deploy_rounds} rounds in turns of {plan.deploys} updates of one model "
        "each, sequential, on a fresh connection each (ours: the deploy function); requests "
        "counted from the apiserver's apiserver_request_total, without its own lease renewals "
        "and the /metrics reads."
    )


# -- registry push ----------------------------------------------------------


def _distribution_push(repository: str, tag: str) -> bytes:
    """A Docker Distribution notification envelope of one manifest push."""
    event = {
        "id": f"push-{repository}-{tag}",
        "timestamp": "2026-11-27T09:00:00Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 708,
            "digest": PUSH_DIGEST,
            "length": 708,
            "repository": repository,
            "url": f"http://{PUSH_HOST}/v2/{repository}/manifests/{PUSH_DIGEST}",
            "tag": tag,
        },
        "request": {
            "id": "r1",
            "addr": "10.1.2.3:4242",
            "host": PUSH_HOST,
            "method": "PUT",
            "useragent": "docker",
        },
        "actor": {},
        "source": {"addr": "registry-0:5000", "instanceID": "bench"},
    }
    return json.dumps({"events": [event]}).encode()


def measure_push(
    api: load.Target, servers: dict[str, contenders.Started], size: int, results: Results
) -> None:
    """Deploy ``size`` opted-in models through ours, push their tag, time until all rolled.

    Raises:
        SystemExit: a deploy, the push or the check of the rolled images failed.
    """
    print(f"registry push to {size} models ...", flush=True)
    ours = load.Target("ours", servers["deploy"].url)
    namespace = f"push-{size}"
    repository = f"bench/app{size}"
    create_namespace(api, namespace)
    deploys = [
        (
            "POST",
            "/deploy",
            {
                "name": f"m{index:05d}",
                "namespace": namespace,
                "image": f"{PUSH_HOST}/{repository}:v1",
                "autoUpdate": True,
            },
        )
        for index in range(size)
    ]
    began = time.perf_counter()
    statuses = asyncio.run(load.send_all(ours, deploys, clients=16))
    if set(statuses) != {201}:
        raise SystemExit(f"deploying {size} opted-in models: {dict(statuses)}")
    print(f"  {size} opted-in models deployed in {time.perf_counter() - began:.1f} s", flush=True)
    took, status, answer = asyncio.run(
        load.timed_request(
            ours,
            "POST",
            "/",
            body=_distribution_push(repository, "v1"),
            headers={"content-type": "application/vnd.docker.distribution.events.v1+json"},
        )
    )
    if status != 200:  # noqa: PLR2004 - the report is answered 200
        raise SystemExit(f"the push answered {status}: {answer[:500]!r}")
    outcomes = Counter(m["result"] for push in json.loads(answer)["pushes"] for m in push["models"])
    pinned = f"{PUSH_HOST}/{repository}@{PUSH_DIGEST}"
    listed = asyncio.run(
        load.timed_request(
            api, "GET", f"{ISVC_PATH}/namespaces/{namespace}/{INFERENCE_SERVICE.plural}"
        )
    )[2]
    images = Counter(
        item["spec"]["predictor"]["containers"][0]["image"] for item in json.loads(listed)["items"]
    )
    if outcomes != Counter({"updated": size}) or images != Counter({pinned: size}):
        raise SystemExit(f"push to {size}: report {dict(outcomes)}, images {dict(images)}")
    # The floor: the one write each model needs, sent straight to the apiserver as
    # the rollout sends it (a JSON patch of the image), as many at a time.
    patches = [
        (
            "PATCH",
            f"{ISVC_PATH}/namespaces/{namespace}/{INFERENCE_SERVICE.plural}/m{index:05d}",
            [
                {
                    "op": "replace",
                    "path": "/spec/predictor/containers/0/image",
                    "value": f"{PUSH_HOST}/{repository}:v1",
                }
            ],
        )
        for index in range(size)
    ]
    began = time.perf_counter()
    statuses = asyncio.run(
        load.send_all(
            api, patches, clients=rollouts.CONCURRENCY, content_type="application/json-patch+json"
        )
    )
    direct = time.perf_counter() - began
    if set(statuses) != {200}:
        raise SystemExit(f"patching {size} models directly: {dict(statuses)}")
    results.add(
        Row(
            f"registry push → all {size} opted-in models rolled "
            "(apiserver: just their image patches)",
            took,
            apiserver=direct,
            unit="s",
            note="seed: no such feature",
        )
    )


# -- list of many models -----------------------------------------------------


def measure_list(
    api: load.Target, servers: dict[str, contenders.Started], plan: Plan, results: Results
) -> None:
    """``GET /models`` of ``plan.list_models`` models: time and peak RSS growth, ours vs seed."""
    print(f"list of {plan.list_models} models: creating them ...", flush=True)
    create_namespace(api, LIST_NAMESPACE)
    began = time.perf_counter()
    create_models(api, LIST_NAMESPACE, [f"m{index:05d}" for index in range(plan.list_models)])
    print(f"  created in {time.perf_counter() - began:.1f} s", flush=True)
    targets = {
        "ours": (load.Target("ours", servers["models"].url), servers["models"].process.pid),
        "seed": (load.Target("seed", servers["seed"].url), servers["seed"].process.pid),
    }
    # The floor: the apiserver's own answer to the one plain list the seed sends, in turns.
    direct = f"{ISVC_PATH}/namespaces/{LIST_NAMESPACE}/{INFERENCE_SERVICE.plural}"
    apiserver_seconds: list[float] = []
    # Each server's list path warmed up on a small namespace; the growth is over this RSS.
    baseline: dict[str, int] = {}
    for name, (target, pid) in targets.items():
        asyncio.run(load.timed_request(target, "GET", f"/models?namespace={NAMESPACE}"))
        baseline[name] = procstat.rss_kib(pid)
    seconds: dict[str, list[float]] = {name: [] for name in targets}
    growth: dict[str, list[int]] = {name: [] for name in targets}
    for turn in range(plan.list_rounds):
        for name in rotated(list(targets), turn):
            target, pid = targets[name]
            procstat.reset_peak(pid)
            took, status, answer = asyncio.run(
                load.timed_request(target, "GET", f"/models?namespace={LIST_NAMESPACE}")
            )
            growth[name].append(procstat.peak_rss_kib(pid) - baseline[name])
            count = json.loads(answer).get("count") if status == 200 else None  # noqa: PLR2004
            if count != plan.list_models:
                raise SystemExit(f"list through {name}: {status}, count {count}")
            seconds[name].append(took)
        took, status, answer = asyncio.run(load.timed_request(api, "GET", direct))
        if status != 200 or len(json.loads(answer)["items"]) != plan.list_models:  # noqa: PLR2004
            raise SystemExit(f"the apiserver's list: {status}")
        apiserver_seconds.append(took)
    results.add(
        Row(
            f"GET /models of {plan.list_models:,} models (apiserver: its plain list)",
            statistics.median(seconds["ours"]),
            statistics.median(seconds["seed"]),
            statistics.median(apiserver_seconds),
            unit="s",
        )
    )
    results.add(
        Row(
            "peak RSS growth during that list",
            float(max(growth["ours"])),
            float(max(growth["seed"])),
            unit="MiB",
        )
    )
    results.notes.append(
        f"list: {plan.list_rounds} lists each in turns (median time); RSS growth = the highest "
        "VmHWM during a list (reset before each) - VmRSS after a warm-up list of a small namespace."
    )


# -- the run ---------------------------------------------------------------


def _commit() -> str:
    """The checked-out commit, and whether tracked files differ from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"

    def run(*arguments: str) -> str:
        return subprocess.run(
            [git, *arguments],
            capture_output=True,
            text=True,
            cwd=contenders.REPO_ROOT,
            check=False,
        ).stdout.strip()

    dirty = run("status", "--porcelain", "--untracked-files=no")
    return f"{run('rev-parse', '--short', 'HEAD')}{' + uncommitted changes' if dirty else ''}"


def print_table(results: Results, header: Sequence[str]) -> None:
    """The Markdown table, ratios included, with the run's facts and notes."""
    print()
    for line in header:
        print(line)
    print()
    print("| measure | ours | seed | apiserver | ours / seed | ours / apiserver |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in results.rows:
        measure = row.measure + (f" ({row.note})" if row.note else "")
        cells = [_value(value, row.unit) for value in (row.ours, row.seed, row.apiserver)]
        print(
            f"| {measure} | {' | '.join(cells)} | {_ratio(row.ours, row.seed)} | "
            f"{_ratio(row.ours, row.apiserver)} |"
        )
    print()
    for note in results.notes:
        print(f"- {note}")


@dataclass
class _Servers:
    """The long-lived servers of the steady-state measurements."""

    started: dict[str, contenders.Started] = field(default_factory=dict)

    def start(self, stack: ExitStack, kubeconfig: Path, tmp: Path) -> None:
        deploy_body = json.dumps(
            {"name": "deploy-ours", "namespace": NAMESPACE, "image": IMAGE}
        ).encode()
        seed_body = json.dumps(
            {"name": "deploy-seed", "namespace": NAMESPACE, "image": IMAGE}
        ).encode()
        launches = (
            ("models", contenders.ours("models"), _get_probe()),
            (
                "deploy",
                contenders.ours("deploy"),
                contenders.Probe("POST", "/deploy", deploy_body, frozenset({200, 201})),
            ),
            ("seed", contenders.seed(), _get_probe()),
        )
        for name, launch, probe in launches:
            self.started[name] = stack.enter_context(
                contenders.started(launch, kubeconfig, tmp / f"{name}.log", probe)
            )
        # The seed's deploy model, created by the seed itself (not counted).
        created = asyncio.run(
            load.timed_request(
                load.Target("seed", self.started["seed"].url),
                "POST",
                "/deploy",
                body=seed_body,
                headers={"content-type": "application/json"},
            )
        )
        if created[1] != 200:  # noqa: PLR2004 - the seed answers 200 to a create too
            raise SystemExit(f"the seed's first deploy: {created[1]} {created[2][:300]!r}")


def compile_bytecode() -> None:
    """Compile our sources' bytecode, as installing a function does.

    An installed package has its ``.pyc`` files (pip compiles what it installs,
    the seed's venv included); the project's editable sources get them only on
    first import, and not at all under ``PYTHONDONTWRITEBYTECODE`` (set on these
    machines), which would make every cold start here recompile ours (~45 ms)
    but not the seed's libraries.
    """
    folders = [contenders.REPO_ROOT / part for part in ("lib/src", "function", "functions")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *map(str, folders)],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few minutes: fewer rounds")
    parser.add_argument(
        "--list-only", action="store_true", help="only the list of many models (and its floor)"
    )
    args = parser.parse_args()
    plan = Plan.quick() if args.quick else Plan.full()
    seed_versions = contenders.ensure_seed_venv()
    compile_bytecode()
    commit = _commit()
    began = time.monotonic()
    results = Results()
    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
    with (
        ControlPlane(settings) as plane,
        tempfile.TemporaryDirectory() as tmp_name,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        load_at_start = procstat.machine()
        print(f"control plane up; {load_at_start}", flush=True)
        api = load.apiserver(plane.kubeconfig_path)
        create_models(api, NAMESPACE, [MODEL])
        servers = _Servers()
        if not args.list_only:
            measure_cold_start(plane, api, plan, tmp, results)
        servers.start(stack, plane.kubeconfig_path, tmp)
        if not args.list_only:
            measure_gets(plane, api, servers.started, plan, results)
            measure_deploys(plane, api, servers.started, plan, results)
            for size in plan.push_sizes:
                measure_push(api, servers.started, size, results)
        measure_list(api, servers.started, plan, results)
        load_at_end = procstat.machine()
    header = [
        f"`bench/compare.py{' --quick' if args.quick else ''}"
        f"{' --list-only' if args.list_only else ''}` at commit {commit}, "
        f"{time.monotonic() - began:.0f} s",
        f"machine: {load_at_start} at the start; {load_at_end} at the end",
        f"Python {sys.version.split()[0]}; seed baseline: {seed_versions}",
        "ours: func-python serving one function per process (AUTH_MODE=none); "
        "cluster: etcd + kube-apiserver with the project's CRDs",
    ]
    print_table(results, header)


if __name__ == "__main__":
    main()
