"""Instructions per GET of the models function with and without its telemetry (issue 19).

CPU time on shared cores moves by ±10 % from one round to the next, so a 5 %
target needs dozens of paired rounds and still may not decide
(``observability.py``). The number of instructions a served request executes
hardly moves: valgrind's callgrind counts them. The three contenders of
``observability.py`` (the models function at 7f766b7, and this tree with text
and with JSON logs) are each served under callgrind against one bare control
plane; after ``--warm-up`` GETs its counters are zeroed (``callgrind_control
-z``), ``--requests`` GETs are sent at ``--clients`` clients, and its counters
dumped (``callgrind_control -d``). Printed per contender and run:

- instructions per GET (the dump's total over the requests);
- of which the garbage collector's collections: ``gc_collect_main`` of
  CPython's ``gcmodule.c`` with everything it calls (``callgrind_annotate
  --inclusive=yes``); what every allocation pays to be tracked is not in it.

Runs under valgrind are about 50 times slower than served ones: a run of the
three takes about a minute and a half. Needs ``valgrind`` (Debian's package).

    .venv/bin/python bench/instructions.py [--requests N] [--clients N] [--runs N]
        [--dumps DIR]

``--dumps`` keeps callgrind's dumps (one folder per run) for
``callgrind_annotate``, whose per-function counts say where the difference goes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import compare
import contenders
import load
import observability
from controlplane.cluster import ControlPlane, Settings

# A line of callgrind_annotate: "  1,234 ( 0.05%)  file.c:function [object]".
_ANNOTATED = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+)")
_COLLECTOR = re.compile(r"gcmodule\.c:gc_collect_main$")
_TOTAL = re.compile(r"^(?:summary|totals):\s+(\d+)", re.M)


@dataclasses.dataclass(frozen=True)
class Count:
    """What one served contender executed over the counted requests."""

    instructions: int
    collector: int


def _tool(name: str) -> str:
    """The path of valgrind's ``name``.

    Raises:
        SystemExit: valgrind is not installed.
    """
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install valgrind (Debian's package)")
    return found


def annotated(dump: Path) -> Count:
    """The total and the garbage collector's collections' instructions of a callgrind dump."""
    text = dump.read_text()
    total = _TOTAL.search(text)
    if total is None:
        raise SystemExit(f"{dump}: no instruction total")
    lines = subprocess.run(
        [_tool("callgrind_annotate"), "--inclusive=yes", "--threshold=100", str(dump)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    collector = 0
    for line in lines:
        found = _ANNOTATED.match(line)
        if found and _COLLECTOR.search(found.group(2)):
            collector += int(found.group(1).replace(",", ""))
    return Count(int(total.group(1)), collector)


def counted(
    launch: contenders.Launch,
    kubeconfig: Path,
    folder: Path,
    *,
    requests: int,
    clients: int,
    warm_up: int,
) -> Count:
    """Serve ``launch`` under callgrind and count what ``requests`` GETs execute."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / launch.name
    under_callgrind = dataclasses.replace(
        launch,
        argv=(
            _tool("valgrind"),
            "--tool=callgrind",
            f"--callgrind-out-file={prefix}.%p",
            *launch.argv,
        ),
    )
    target_probe = observability._probe()
    with contenders.started(
        under_callgrind, kubeconfig, folder / f"{launch.name}.log", target_probe, timeout=600
    ) as server:
        pid = str(server.process.pid)
        target = load.Target(launch.name, server.url)
        asyncio.run(
            load.closed_loop(
                target, observability.GET_PATH, clients=clients, requests=warm_up, warm_up=0
            )
        )
        subprocess.run([_tool("callgrind_control"), "-z", pid], check=True, capture_output=True)
        run = asyncio.run(
            load.closed_loop(
                target, observability.GET_PATH, clients=clients, requests=requests, warm_up=0
            )
        )
        if set(run.statuses) != {200}:
            raise SystemExit(f"{launch.name}: answers {dict(run.statuses)}, not only 200")
        subprocess.run([_tool("callgrind_control"), "-d", pid], check=True, capture_output=True)
        dump = Path(f"{prefix}.{pid}.1")
        for _ in range(100):  # written by the served process after the request returns
            if dump.exists() and _TOTAL.search(dump.read_text()):
                break
            time.sleep(0.1)
    return annotated(dump)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dumps", type=Path, help="keep callgrind's dumps here")
    args = parser.parse_args()
    _tool("valgrind")
    compare.compile_bytecode()
    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=False)
    counts: dict[str, list[Count]] = {name: [] for name in observability.CONTENDERS}
    with (
        observability.baseline_tree(observability.BASELINE_COMMIT) as tree,
        ControlPlane(settings) as plane,
        tempfile.TemporaryDirectory() as temporary,
    ):
        folder = args.dumps or Path(temporary)
        api = load.apiserver(plane.kubeconfig_path)
        compare.create_models(api, compare.NAMESPACE, [compare.MODEL])
        launch = observability.launches(tree)
        for run in range(args.runs):
            for name in compare.rotated(observability.CONTENDERS, run):
                count = counted(
                    launch[name],
                    plane.kubeconfig_path,
                    folder / str(run),
                    requests=args.requests,
                    clients=args.clients,
                    warm_up=args.warm_up,
                )
                counts[name].append(count)
                print(
                    f"run {run}, {name}: {count.instructions / args.requests:,.0f} "
                    f"instructions per GET, {count.collector / args.requests:,.0f} of them "
                    "the garbage collector's",
                    flush=True,
                )
    print(
        f"\n`bench/instructions.py` at commit {compare._commit()} against "
        f"{observability.BASELINE_COMMIT}: {args.requests} GETs at {args.clients} clients "
        f"after {args.warm_up}, under callgrind; the median of {args.runs} runs\n"
    )
    print("| | instructions per GET | vs without | the collector's | vs without |")
    print("|---|---:|---:|---:|---:|")
    base = _median(counts[observability.WITHOUT], args.requests)
    for name in observability.CONTENDERS:
        total, collector = _median(counts[name], args.requests)
        print(
            f"| {name} | {total:,.0f} | {total / base[0]:.3f}x | {collector:,.0f} | "
            f"{collector - base[1]:+,.0f} |"
        )


def _median(runs: list[Count], requests: int) -> tuple[float, float]:
    """Instructions and the collector's, per request, each the median over ``runs``."""
    return (
        statistics.median(count.instructions for count in runs) / requests,
        statistics.median(count.collector for count in runs) / requests,
    )


if __name__ == "__main__":
    main()
