"""What importing more modules would add to a function's cold start.

A function's cold start is its imports (README "Performance"), so a library
is worth adopting only if its import cost is small against them. For each
function (``--functions``, default all) this starts fresh interpreters in the
function's folder, each importing what func-python and the function import
(``func_python.http``, ``function.new()``), and prints:

- ``added``: what ``import`` of ``--modules`` takes on top of that (what is
  already loaded costs nothing again), wall and CPU milliseconds, and how many
  modules it loads;
- ``spawn → exit``: the whole process without and with ``--modules``, in
  turns, wall and CPU (user + system) seconds. CPU is what a start costs on an
  idle core; on these shared machines it varies far less than wall time.

``--path`` puts a folder first on the import path: a library tried out with
``pip install --target`` instead of in the project's virtualenv, or another
copy of the project's library (``lib/src``) to compare with:

    .venv/bin/python bench/import_cost.py --modules orjson --path /tmp/orjson --runs 21

Medians of ``--runs`` (default 15). Compile the sources first (``python -m
compileall -q lib/src function functions``), as an installed function has
its bytecode.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import contenders

# What a function process imports before serving: func-python's server and the function.
_BASE = "import func_python.http, function; function.new()"
# Times ``modules`` on top of _BASE: wall and CPU seconds, and how many modules they loaded.
_ADDED = """
import sys, time
{base}
loaded = len(sys.modules)
wall, cpu = time.perf_counter(), time.process_time()
{imports}
print(time.perf_counter() - wall, time.process_time() - cpu, len(sys.modules) - loaded)
"""


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``argv`` to its end: wall seconds, its CPU seconds (user + system), its output."""
    cpu = _children_cpu()
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{argv}: {done.stderr}")
    # Reaped children's totals: exact for one child at a time, as here.
    return took, _children_cpu() - cpu, done.stdout


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def _measure(cwd: Path, env: dict[str, str], imports: str, runs: int) -> str:
    """One function's row: added wall/CPU ms and modules, spawn → exit without/with."""
    added_script = _ADDED.format(base=_BASE, imports=imports)
    argvs = {
        "without": [sys.executable, "-c", _BASE],
        "with": [sys.executable, "-c", f"{_BASE}\n{imports}"],
    }
    added_wall: list[float] = []
    added_cpu: list[float] = []
    counts: list[int] = []
    wall: dict[str, list[float]] = {name: [] for name in argvs}
    cpu: dict[str, list[float]] = {name: [] for name in argvs}
    for run in range(runs):
        _, _, out = _run([sys.executable, "-c", added_script], cwd, env)
        wall_text, cpu_text, count = out.split()
        added_wall.append(float(wall_text))
        added_cpu.append(float(cpu_text))
        counts.append(int(count))
        order = list(argvs) if run % 2 == 0 else list(reversed(argvs))
        for name in order:
            took, cpu_seconds, _ = _run(argvs[name], cwd, env)
            wall[name].append(took)
            cpu[name].append(cpu_seconds)
    ms = 1000
    return (
        f"{statistics.median(added_wall) * ms:.1f} (min {min(added_wall) * ms:.1f}) | "
        f"{statistics.median(added_cpu) * ms:.1f} | {max(counts)} | "
        f"{statistics.median(wall['without']):.3f} → {statistics.median(wall['with']):.3f} | "
        f"{statistics.median(cpu['without']):.3f} → {statistics.median(cpu['with']):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    functions = sorted(contenders.FUNCTION_DIRS)
    parser.add_argument("--functions", nargs="+", choices=functions, default=functions)
    parser.add_argument("--modules", nargs="+", required=True, help="modules to import on top")
    parser.add_argument("--path", help="a folder put first on the import path (PYTHONPATH)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = dict(os.environ)
    if args.path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.path, env.get("PYTHONPATH")]))
    imports = "\n".join(f"import {module}" for module in args.modules)
    print(f"import {', '.join(args.modules)} on top of each function; medians of {args.runs}")
    print(
        "| function | added wall ms | added CPU ms | modules | spawn → exit wall s "
        "(without → with) | spawn → exit CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.functions:
        row = _measure(contenders.FUNCTION_DIRS[name], env, imports, args.runs)
        print(f"| {name} | {row} |", flush=True)


if __name__ == "__main__":
    main()
