"""What metrics, JSON logs and trace ids cost the models function, in one run (issue 19).

Three contenders serve the models function, each with func-python in a
process of its own (``contenders.ours``), against one bare control plane
(etcd + kube-apiserver with the project's CRDs, as ``compare.py``):

- ``without``: commit ``7f766b7``, the last before metrics, structured logs
  and trace ids, from a ``git worktree`` in a temporary folder (removed
  afterwards): its function folder, its library first on ``PYTHONPATH``;
- ``with, text`` and ``with, json``: the working tree, ``LOG_FORMAT=text``
  and ``LOG_FORMAT=json``; no ``OTEL_*`` variable (tracing off).

Measured in turns (A B C, each round starting with another one), so all meet
the same machine load, and printed as one Markdown table with each "with"
against "without" and the issue's targets:

- server CPU milliseconds per ``GET /models/default/x`` (a model that exists;
  utime + stime of ``/proc/<pid>/stat`` over the requests) at 1 and 8
  closed-loop clients, and p50 latency (target: CPU rises by ≤ 5 %);
- cold start: spawn → the first 200 of that GET (target: ≤ +0.01 s);
- for the two targets compared in pairs (CPU per GET, cold start), the
  median of the per-round (per-trial) ratios or differences with its 95 %
  interval (``phases.median_interval``): "met" says yes or no only when the
  whole interval does, and "within the noise" otherwise (more ``--rounds``
  narrow it);
- ``GET /metrics`` p50 and max once the ``with, json`` server has served
  ``--served`` requests (default 100,000; driven at 8 clients with the same
  GET, stopping early after ``--drive-seconds``, and the count printed)
  (target: ≤ 2 ms);
- imports (``python -X importtime``, in the function's folder, in a process
  that already imported ``func_python.http`` and ``kubernetes.aio.client``):
  ``import function; function.new()`` wall time, the marginal cumulative time
  of ``prometheus_client`` (the known cost), and how many ``opentelemetry``
  modules are loaded with tracing off (target: none).

    .venv/bin/python bench/observability.py [--served N] [--drive-seconds S]
        [--rounds N] [--cold-trials N]

The machines are shared and noisy: read the ratios of one run, not absolute
numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import compare
import contenders
import load
import phases
import procstat
from controlplane.cluster import ControlPlane, Settings

BASELINE_COMMIT = "7f766b7"
WITHOUT, TEXT, JSON = "without", "with, text", "with, json"
CONTENDERS = (WITHOUT, TEXT, JSON)
GET_PATH = f"/models/{compare.NAMESPACE}/{compare.MODEL}"
CLIENTS = (1, 8)
# The family whose _count lines say how many requests a server has served.
_REQUESTS_COUNT = re.compile(r"^http_server_request_duration_seconds_count\{.*\} (\S+)$", re.M)
# Appended to `python -X importtime -c`: what a function process imports before serving,
# on top of the floor every function shares; prints the wall seconds and the
# opentelemetry modules loaded.
_IMPORTS = """
import sys, time
import func_python.http, kubernetes.aio.client
began = time.perf_counter()
import function
function.new()
took = time.perf_counter() - began
print(took, sum(name.split(".")[0] == "opentelemetry" for name in sys.modules))
"""
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
# Modules whose marginal cumulative import time is reported.
_WATCHED_IMPORTS = ("prometheus_client", "pythonjsonlogger")


@dataclass(frozen=True)
class Plan:
    """How much of each measurement the run does."""

    cold_trials: int = 31
    rounds: int = 31
    requests: tuple[int, ...] = (600, 2000)
    served: int = 100_000
    drive_seconds: float = 120.0
    drive_batch: int = 5000
    scrapes: int = 300
    import_runs: int = 9


@dataclass
class Row:
    """One line: a value per contender, how "with" compares, and the target."""

    measure: str
    values: dict[str, float]
    unit: str = "ms"
    # "ratio": with / without; "delta": with - without; "": no comparison.
    compare: str = "ratio"
    target: str = ""
    # Given the comparison (ratio or delta; the value itself when there is none): met?
    met: Callable[[float], bool] | None = None
    # Per contender, the 95 % interval of the median (phases.median_interval): the
    # verdict is "yes" or "no" only when the whole interval says so.
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class Results:
    """The rows in order, and notes printed under the table."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Append ``row`` and print it at once (progress on a long run)."""
        self.rows.append(row)
        shown = ", ".join(f"{name} {_shown(v, row.unit)}" for name, v in row.values.items())
        print(f"  {row.measure}: {shown}", flush=True)


def _comparison(row: Row, name: str) -> tuple[str, float | None]:
    """How contender ``name`` compares with "without" in ``row``: its text and value."""
    value, base = row.values.get(name), row.values.get(WITHOUT)
    if row.compare == "ratio" and value is not None and base:
        return f"{value / base:.3f}x", value / base
    if row.compare == "delta" and value is not None and base is not None:
        delta = value - base
        return f"{'+' if delta >= 0 else '-'}{_shown(abs(delta), row.unit)}", delta
    return "—", value


def print_table(results: Results, header: Sequence[str]) -> None:
    """The Markdown table with the comparisons and targets, the run's facts and notes."""
    print()
    for line in header:
        print(line)
    print()
    print(
        f"| measure | {' | '.join(CONTENDERS)} | text vs without | json vs without | target | met |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for row in results.rows:
        cells = [_shown(row.values.get(name), row.unit) for name in CONTENDERS]
        compared = [_comparison(row, name) for name in (TEXT, JSON)]
        for name, (lo, hi) in row.intervals.items():
            at = CONTENDERS.index(name)
            cells[at] = f"{cells[at]} ({_shown(lo, row.unit)} to {_shown(hi, row.unit)})"
        met = "—"
        if row.met is not None:
            verdicts = [
                _verdict(row, row.met, name, value)
                for name, (_, value) in zip((TEXT, JSON), compared, strict=True)
                if value is not None and name in row.values
            ]
            if "no" in verdicts:
                met = "no"
            elif verdicts and all(verdict == "yes" for verdict in verdicts):
                met = "yes"
            else:
                met = "within the noise"
        print(
            f"| {row.measure} | {' | '.join(cells)} | {compared[0][0]} | {compared[1][0]} "
            f"| {row.target or '—'} | {met} |"
        )
    print()
    for note in results.notes:
        print(f"- {note}")


def _verdict(row: Row, met: Callable[[float], bool], name: str, value: float) -> str:
    """Whether contender ``name`` meets ``row``'s target: with an interval, "yes" only
    if all of it does, "no" only if none of it does, else "within the noise"."""
    if name not in row.intervals:
        return "yes" if met(value) else "no"
    lo, hi = row.intervals[name]
    if met(lo) and met(hi):
        return "yes"
    if not met(lo) and not met(hi):
        return "no"
    return "within the noise"


def _shown(value: float | None, unit: str) -> str:
    """``value`` in ``unit`` as the table shows it (a ratio, unit "x", to three places)."""
    if unit == "x" and value is not None:
        return f"{value:.3f}x"
    return compare._value(value, unit)


# -- the contenders -----------------------------------------------------------


def _git(*arguments: str) -> None:
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed for the baseline's worktree")
    subprocess.run(
        [git, *arguments], cwd=contenders.REPO_ROOT, check=True, capture_output=True, text=True
    )


@contextmanager
def baseline_tree(commit: str) -> Iterator[Path]:
    """A ``git worktree`` of ``commit`` in a temporary folder, its bytecode compiled; removed after.

    Compiled as ``compare.compile_bytecode`` compiles the working tree: an
    installed function has its ``.pyc`` files.
    """
    with tempfile.TemporaryDirectory(prefix="bench-observability-") as tmp:
        tree = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", str(tree), commit)
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "compileall",
                    "-q",
                    str(tree / "lib" / "src"),
                    str(tree / "functions"),
                ],
                check=True,
            )
            yield tree
        finally:
            _git("worktree", "remove", "--force", str(tree))


def launches(tree: Path) -> dict[str, contenders.Launch]:
    """The three contenders: the baseline's models function, ours with text and JSON logs."""
    return {
        WITHOUT: contenders.ours("models", source_root=tree, name="without"),
        TEXT: contenders.ours("models", name="with-text", env={"LOG_FORMAT": "text"}),
        JSON: contenders.ours("models", name="with-json", env={"LOG_FORMAT": "json"}),
    }


def _probe() -> contenders.Probe:
    return contenders.Probe("GET", GET_PATH)


def check_contenders(servers: dict[str, contenders.Started]) -> None:
    """ "without" has no ``/metrics`` (it is the old code), the others have it.

    Raises:
        SystemExit: a server is not what its name says.
    """
    for name, server in servers.items():
        _, status, _ = asyncio.run(
            load.timed_request(load.Target(name, server.url), "GET", "/metrics")
        )
        expected = 404 if name == WITHOUT else 200
        if status != expected:
            raise SystemExit(f"{name}: GET /metrics answered {status}, expected {expected}")


# -- measurements -------------------------------------------------------------


def measure_cold_start(
    kubeconfig: Path, launch: dict[str, contenders.Launch], plan: Plan, tmp: Path, results: Results
) -> None:
    """Spawn → first 200 of the GET, and RSS then, for each contender in turns."""
    print("cold start ...", flush=True)
    seconds: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    rss: dict[str, list[int]] = {name: [] for name in CONTENDERS}
    for trial in range(plan.cold_trials):
        for name in compare.rotated(CONTENDERS, trial):
            log = tmp / f"cold-{launch[name].name}-{trial}.log"
            with contenders.started(launch[name], kubeconfig, log, _probe()) as server:
                seconds[name].append(server.cold_start_seconds)
                rss[name].append(server.rss_kib)
    results.add(
        Row(
            f"cold start: spawn → first 200 of GET {GET_PATH} (median)",
            {name: statistics.median(values) for name, values in seconds.items()},
            unit="s",
            compare="delta",
        )
    )
    # Each trial's contenders started one after the other: their differences are paired.
    deltas = {
        name: [w - wo for w, wo in zip(seconds[name], seconds[WITHOUT], strict=True)]
        for name in (TEXT, JSON)
    }
    results.add(
        Row(
            "cold start: median of per-trial differences to without (its 95 % interval)",
            {name: statistics.median(values) for name, values in deltas.items()},
            unit="s",
            compare="",
            target="≤ +0.010 s",
            met=lambda delta: delta <= 0.010,  # noqa: PLR2004 - the issue's target
            intervals={name: phases.median_interval(values) for name, values in deltas.items()},
        )
    )
    results.add(
        Row(
            "RSS at that first 200 (median)",
            {name: float(statistics.median(values)) for name, values in rss.items()},
            unit="MiB",
        )
    )
    results.notes.append(
        f"cold start: {plan.cold_trials} trials per contender in turns; spawn → first 200 of "
        "the GET, polled every 5 ms."
    )


def measure_gets(servers: dict[str, contenders.Started], plan: Plan, results: Results) -> None:
    """Server CPU per GET and latency at 1 and 8 clients, in turns.

    The machine's load drifts over a run by more than the difference measured,
    so each round's contenders, run back to back, are compared with each other:
    the verdict is the median of the per-round ratios, beside each contender's
    median CPU per request over the rounds.
    """
    print("GET: CPU per request and latency ...", flush=True)
    runs: dict[tuple[str, int], list[load.LoadResult]] = {}
    for turn in range(plan.rounds):
        for name in compare.rotated(CONTENDERS, turn):
            server = servers[name]
            for clients, requests in zip(CLIENTS, plan.requests, strict=True):
                run = asyncio.run(
                    load.closed_loop(
                        load.Target(name, server.url),
                        GET_PATH,
                        clients=clients,
                        requests=requests,
                        warm_up=max(2 * clients, 20),
                        watch_pids=[server.process.pid],
                    )
                )
                if set(run.statuses) != {200}:
                    raise SystemExit(f"GET {name} at {clients} clients: {dict(run.statuses)}")
                runs.setdefault((name, clients), []).append(run)

    def per_request(name: str, clients: int, *, user: bool) -> list[float]:
        """CPU seconds (all, or the user part) per request of ``name`` in each round."""
        pid = servers[name].process.pid
        return [
            (run.user_seconds if user else run.cpu_seconds)[pid] / len(run.latencies)
            for run in runs[name, clients]
        ]

    for clients in CLIENTS:
        plural = f"{clients} client{'s' * (clients > 1)}"
        for what, user in (("CPU", False), ("user CPU", True)):
            cpu = {name: per_request(name, clients, user=user) for name in CONTENDERS}
            results.add(
                Row(
                    f"server {what} per GET, {plural} (median of rounds)",
                    {name: statistics.median(values) for name, values in cpu.items()},
                )
            )
            ratios = {
                name: [w / wo for w, wo in zip(cpu[name], cpu[WITHOUT], strict=True)]
                for name in (TEXT, JSON)
            }
            results.add(
                Row(
                    f"server {what} per GET, {plural}: median of per-round ratios to without "
                    "(its 95 % interval)",
                    {name: statistics.median(values) for name, values in ratios.items()},
                    unit="x",
                    compare="",
                    target="≤ 1.05x",
                    met=lambda ratio: ratio <= 1.05,  # noqa: PLR2004 - the issue's target
                    intervals={
                        name: phases.median_interval(values) for name, values in ratios.items()
                    },
                )
            )
            spread = "; ".join(
                f"{name} {min(values):.3f} to {max(values):.3f}" for name, values in ratios.items()
            )
            results.notes.append(f"per-round {what} ratios at {plural}: {spread}")
    for clients in CLIENTS:
        plural = f"{clients} client{'s' * (clients > 1)}"
        p50 = {
            name: phases.percentile([t for run in group for t in run.latencies], 0.5)
            for (name, c), group in runs.items()
            if c == clients
        }
        results.add(Row(f"GET p50, {plural}", p50))
    results.notes.append(
        f"GET {GET_PATH}: {plan.rounds} rounds in turns, each {plan.requests[0]} requests at "
        f"1 client and {plan.requests[1]} at 8 (after a warm-up), on kept-alive connections; "
        "CPU = utime + stime of the server's /proc/<pid>/stat over each round's requests, "
        "user CPU = utime alone (stime also holds the VM's scheduling work charged to the "
        "process, which varies with the machine's load)."
    )


def served_requests(target: load.Target) -> int:
    """How many requests the server has counted in its own ``/metrics``."""
    _, status, body = asyncio.run(load.timed_request(target, "GET", "/metrics"))
    if status != 200:  # noqa: PLR2004 - HTTP OK
        raise SystemExit(f"{target.name}: GET /metrics answered {status}")
    return int(sum(float(count) for count in _REQUESTS_COUNT.findall(body.decode())))


# What Prometheus 3 sends when scraping (its default scrape_protocols, in order):
# the client library then answers in OpenMetrics, which costs more to write.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
SCRAPE_FORMATS = {"text": {}, "OpenMetrics (Prometheus' Accept)": {"Accept": PROMETHEUS_ACCEPT}}


def measure_metrics(server: contenders.Started, plan: Plan, results: Results) -> None:
    """``GET /metrics`` latency and CPU before and after the server has served
    ``plan.served`` requests, in the text format and as Prometheus asks (OpenMetrics)."""
    pid = server.process.pid

    def scrape(headers: dict[str, str]) -> load.LoadResult:
        target = load.Target(JSON, server.url, headers=headers)
        run = asyncio.run(
            load.closed_loop(
                target, "/metrics", clients=1, requests=plan.scrapes, warm_up=5, watch_pids=[pid]
            )
        )
        if set(run.statuses) != {200}:
            raise SystemExit(f"GET /metrics: {dict(run.statuses)}")
        return run

    target = load.Target(JSON, server.url)
    before_count = served_requests(target)
    before = {label: scrape(headers) for label, headers in SCRAPE_FORMATS.items()}
    print(f"driving GETs to {plan.served:,} served (at most {plan.drive_seconds:.0f} s) ...")
    began = time.monotonic()
    served = served_requests(target)
    while served < plan.served and time.monotonic() - began < plan.drive_seconds:
        run = asyncio.run(
            load.closed_loop(
                target,
                GET_PATH,
                clients=CLIENTS[-1],
                requests=min(plan.drive_batch, plan.served - served),
                warm_up=0,
            )
        )
        if set(run.statuses) != {200}:
            raise SystemExit(f"driving GETs: {dict(run.statuses)}")
        served = served_requests(target)
    drove = time.monotonic() - began
    print(f"  {served:,} served after {drove:.0f} s", flush=True)
    after = {label: scrape(headers) for label, headers in SCRAPE_FORMATS.items()}
    sizes = {}
    for label, headers in SCRAPE_FORMATS.items():
        _, _, body = asyncio.run(
            load.timed_request(load.Target(JSON, server.url, headers=headers), "GET", "/metrics")
        )
        sizes[label] = len(body)
    for label, runs, count in (("before", before, before_count), ("after", after, served)):
        for form, run in runs.items():
            results.add(
                Row(
                    f"GET /metrics p50, {form}, {label}: {count:,} requests served",
                    {JSON: phases.percentile(run.latencies, 0.5)},
                    compare="",
                    target="≤ 2 ms",
                    met=lambda value: value <= 0.002,  # noqa: PLR2004 - the issue's target
                )
            )
    for form, run in after.items():
        results.add(
            Row(
                f"GET /metrics max, {form}, after {served:,}",
                {JSON: max(run.latencies)},
                compare="",
            )
        )
        results.add(
            Row(
                f"server CPU per GET /metrics, {form}, after {served:,}",
                {JSON: run.cpu_seconds[pid] / len(run.latencies)},
                compare="",
            )
        )
    shown = ", ".join(f"{form} {size:,} bytes" for form, size in sizes.items())
    results.notes.append(
        f"/metrics: {plan.scrapes} scrapes per format at 1 client on a kept-alive connection, "
        f"of the {JSON} server, before and after driving it to {served:,} requests served (its "
        f"own http_server_request_duration_seconds counts; {drove:.0f} s of GETs at 8 clients; "
        f"target {plan.served:,}); the exposition: {shown}."
    )


def _import_once(launch: contenders.Launch, kubeconfig: Path) -> dict[str, float]:
    """One ``-X importtime`` process: wall seconds of the function's import and ``new()``,
    opentelemetry modules loaded, and each watched module's marginal cumulative seconds."""
    env = launch.environment(0, kubeconfig)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _IMPORTS],
        cwd=launch.cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{launch.name}: importing the function failed:\n{done.stderr[-3000:]}")
    took, otel = done.stdout.split()
    found = {"function": float(took), "opentelemetry": float(otel)}
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match and match.group(4) in _WATCHED_IMPORTS:
            found[match.group(4)] = int(match.group(2)) / 1e6
    return found


def measure_imports(
    kubeconfig: Path, launch: dict[str, contenders.Launch], plan: Plan, results: Results
) -> None:
    """The function's import cost, prometheus_client's share, and opentelemetry's absence."""
    print("imports ...", flush=True)
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in CONTENDERS}
    for run in range(plan.import_runs):
        for name in compare.rotated(CONTENDERS, run):
            for key, value in _import_once(launch[name], kubeconfig).items():
                samples[name].setdefault(key, []).append(value)

    def median(key: str) -> dict[str, float]:
        return {
            name: statistics.median(values[key])
            for name, values in samples.items()
            if key in values
        }

    results.add(
        Row(
            "import function; function.new() (wall, after func_python.http + "
            "kubernetes.aio.client)",
            median("function"),
            compare="delta",
        )
    )
    for module in _WATCHED_IMPORTS:
        values = median(module)
        if values:
            results.add(
                Row(f"of which `import {module}` (marginal cumulative, -X importtime)", values)
            )
    results.add(
        Row(
            "opentelemetry modules loaded, tracing off (no OTEL_* set)",
            median("opentelemetry"),
            unit="n",
            compare="delta",
            target="0 added",
            met=lambda delta: delta == 0,
        )
    )
    results.notes.append(
        f"imports: median of {plan.import_runs} processes per contender in turns, each "
        "`python -X importtime` in the function's folder with its environment; "
        "a module not imported at all has no line (—)."
    )


# -- the run ------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--served", type=int, default=Plan.served)
    parser.add_argument("--drive-seconds", type=float, default=Plan.drive_seconds)
    parser.add_argument("--rounds", type=int, default=Plan.rounds)
    parser.add_argument("--cold-trials", type=int, default=Plan.cold_trials)
    args = parser.parse_args()
    plan = Plan(
        served=args.served,
        drive_seconds=args.drive_seconds,
        rounds=args.rounds,
        cold_trials=args.cold_trials,
    )
    # Tracing off for every contender, whatever the bench's own environment says.
    for variable in [name for name in os.environ if name.startswith("OTEL_")]:
        del os.environ[variable]
    compare.compile_bytecode()
    commit = compare._commit()
    began = time.monotonic()
    results = Results()
    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
    with (
        baseline_tree(BASELINE_COMMIT) as tree,
        ControlPlane(settings) as plane,
        tempfile.TemporaryDirectory() as tmp_name,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        load_at_start = procstat.machine()
        print(f"control plane up; {load_at_start}", flush=True)
        api = load.apiserver(plane.kubeconfig_path)
        compare.create_models(api, compare.NAMESPACE, [compare.MODEL])
        launch = launches(tree)
        measure_imports(plane.kubeconfig_path, launch, plan, results)
        measure_cold_start(plane.kubeconfig_path, launch, plan, tmp, results)
        servers = {
            name: stack.enter_context(
                contenders.started(
                    launch[name], plane.kubeconfig_path, tmp / f"{launch[name].name}.log", _probe()
                )
            )
            for name in CONTENDERS
        }
        check_contenders(servers)
        measure_gets(servers, plan, results)
        measure_metrics(servers[JSON], plan, results)
        load_at_end = procstat.machine()
    header = [
        f"`bench/observability.py` at commit {commit} (with) against {BASELINE_COMMIT} "
        f"(without), {time.monotonic() - began:.0f} s",
        f"machine: {load_at_start} at the start; {load_at_end} at the end",
        f"Python {sys.version.split()[0]}; the models function served by func-python, one "
        "process each (AUTH_MODE=none); cluster: etcd + kube-apiserver with the project's CRDs",
    ]
    print_table(results, header)


if __name__ == "__main__":
    main()
