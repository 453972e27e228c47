"""The servers the side-by-side benches start: each of our functions, and the seed baseline.

Ours are served by func-python in a process of their own, as Knative runs a
function (the command and settings of ``served_api``, for any function's
folder, not only the root's). The seed baseline is ``bench/seed_fastapi/``
(the seed's design: FastAPI + uvicorn + the synchronous ``kubernetes`` client,
a GET and a PUT per update), run from its own virtual environment,
``.bench/seed-venv``, which ``ensure_seed_venv`` creates from the baseline's
pinned ``requirements.txt`` (its own dependencies, not the project's) on first
use and again whenever that file changes.

``started`` measures a cold start the way a caller sees it: from spawning the
process until a real request (a ``Probe``) first answers as expected, and the
server's RSS at that moment.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import venv
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import procstat
import served_api
from controlplane.processes import free_port

REPO_ROOT = served_api.REPO_ROOT
SEED_DIR = REPO_ROOT / "bench" / "seed_fastapi"
SEED_VENV = REPO_ROOT / ".bench" / "seed-venv"
# Written after a complete install (`pip freeze`), so an interrupted one is redone.
_SEED_INSTALLED = SEED_VENV / "installed.txt"
# The requirements that install was made from: another file means another install.
_SEED_INSTALLED_FROM = SEED_VENV / "requirements.txt"
# Our functions by name: the folder func-python is started in (`import function` finds it).
FUNCTION_DIRS = {
    "root": REPO_ROOT,
    "models": REPO_ROOT / "functions" / "models",
    "deploy": REPO_ROOT / "functions" / "deploy",
    "delete": REPO_ROOT / "functions" / "delete",
    "health": REPO_ROOT / "functions" / "health",
    "mcp": REPO_ROOT / "functions" / "mcp",
}
# A refused connection (not listening yet) is retried this often: the cold
# start is measured to about this step.
POLL_SECONDS = 0.005
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class Launch:
    """How to start one server: its name, command, folder and the variable naming its port."""

    name: str
    argv: tuple[str, ...]
    cwd: Path
    # Builds the server's own settings for a port: ours listen on LISTEN_ADDRESS, the seed on PORT.
    port_env: str
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def environment(self, port: int, kubeconfig: Path) -> dict[str, str]:
        """The process environment: the bench's, plus the kubeconfig and the port."""
        value = f"127.0.0.1:{port}" if self.port_env == "LISTEN_ADDRESS" else str(port)
        return {
            **os.environ,
            **self.extra_env,
            "KUBECONFIG": str(kubeconfig),
            self.port_env: value,
        }


@dataclass(frozen=True)
class Probe:
    """A real request whose first expected answer ends a cold start."""

    method: str
    path: str
    body: bytes | None = None
    expected: frozenset[int] = frozenset({200})
    # Sent besides Content-Type (an MCP request's Accept).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Started:
    """A running server: base URL, process, spawn-to-first-answer seconds, RSS then (KiB)."""

    url: str
    process: subprocess.Popen[bytes]
    cold_start_seconds: float
    rss_kib: int


def ours(
    function: str,
    *,
    source_root: Path = REPO_ROOT,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Launch:
    """One of our functions (``FUNCTION_DIRS``), served as ``served_api`` serves the root one.

    ``source_root``: another copy of the repository (an older commit's
    worktree) to serve the function from: its function folder, and its
    library (``lib/src``) first on ``PYTHONPATH``, ahead of the editable
    install of this one. ``name`` (default: the function's) tells launches
    apart; ``env`` adds settings.
    """
    extra_env = {**(env or {}), "AUTH_MODE": "none"}
    if source_root != REPO_ROOT:
        extra_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(source_root / "lib" / "src"), os.environ.get("PYTHONPATH")])
        )
    return Launch(
        name=name or function,
        argv=(sys.executable, "-c", served_api.SERVE),
        cwd=source_root / FUNCTION_DIRS[function].relative_to(REPO_ROOT),
        port_env="LISTEN_ADDRESS",
        # A bench's cluster is its own and on loopback only (as in served_api).
        extra_env=extra_env,
    )


def seed() -> Launch:
    """The seed baseline, run by the interpreter of its own environment."""
    return Launch(
        name="seed",
        argv=(str(seed_python()), str(SEED_DIR / "main.py")),
        cwd=SEED_DIR,
        port_env="PORT",
    )


def seed_python() -> Path:
    """The interpreter of the seed's environment (``ensure_seed_venv`` creates it)."""
    return SEED_VENV / "bin" / "python"


def ensure_seed_venv() -> str:
    """Create ``.bench/seed-venv`` with the baseline's requirements unless done before.

    Returns the installed versions of the baseline's requirements (``pip
    freeze`` lines), to print beside the numbers: which versions ran is part
    of the result. An environment made from another ``requirements.txt`` is
    made again.

    Raises:
        SystemExit: the baseline's folder is missing or pip failed (with its output).
    """
    requirements = SEED_DIR / "requirements.txt"
    if not requirements.is_file():
        raise SystemExit(f"the seed baseline is missing: {requirements}")
    wanted_text = requirements.read_text()
    made_from = _SEED_INSTALLED_FROM.read_text() if _SEED_INSTALLED_FROM.is_file() else None
    if not _SEED_INSTALLED.is_file() or made_from != wanted_text:
        print(f"creating the seed baseline's environment in {SEED_VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(SEED_VENV)
        installed = subprocess.run(
            [str(seed_python()), "-m", "pip", "install", "-q", "-r", str(requirements)],
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode != 0:
            raise SystemExit(f"installing the seed's requirements failed:\n{installed.stderr}")
        frozen = subprocess.run(
            [str(seed_python()), "-m", "pip", "freeze"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        _SEED_INSTALLED_FROM.write_text(wanted_text)
        _SEED_INSTALLED.write_text(frozen)
    wanted = {_requirement_name(line) for line in wanted_text.splitlines()} - {""}
    return ", ".join(
        line
        for line in _SEED_INSTALLED.read_text().splitlines()
        if _requirement_name(line) in wanted
    )


def _requirement_name(line: str) -> str:
    """The normalized project name of a requirement or ``pip freeze`` line ("" for a comment)."""
    name = re.split(r"[\s#;<>=!~\[]", line.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


@contextmanager
def started(
    launch: Launch, kubeconfig: Path, log_path: Path, probe: Probe, *, timeout: float = 60.0
) -> Iterator[Started]:
    """Start ``launch`` on a free loopback port; yield once ``probe`` answers as expected.

    ``cold_start_seconds`` runs from spawning the process to the arrival of
    that answer; ``rss_kib`` is the server's RSS read right after it. The
    probe is sent as soon as the port accepts connections, so it may also
    meet a server still starting: any answer not expected is retried too.
    The server's output goes to ``log_path``. On exit it gets SIGTERM (as
    Knative scales a pod down), then SIGKILL after ``STOP_SECONDS``.

    Raises:
        SystemExit: the server exited, or did not answer as expected within
            ``timeout`` (with the last answer and the server's log).
    """
    port = free_port()
    with log_path.open("wb") as log:
        began = time.perf_counter()
        process = subprocess.Popen(
            list(launch.argv),
            cwd=launch.cwd,
            env=launch.environment(port, kubeconfig),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            _await_answer(
                port,
                probe=probe,
                process=process,
                log_path=log_path,
                deadline=began + timeout,
                name=launch.name,
            )
            answered = time.perf_counter()
            rss = procstat.rss_kib(process.pid)
            yield Started(f"http://127.0.0.1:{port}", process, answered - began, rss)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``STOP_SECONDS``."""
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _await_answer(
    port: int,
    *,
    probe: Probe,
    process: subprocess.Popen[bytes],
    log_path: Path,
    deadline: float,
    name: str,
) -> None:
    last = "no answer"
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited while starting:\n{log_path.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            headers = {"content-type": "application/json"} if probe.body is not None else {}
            headers.update(probe.headers)
            connection.request(probe.method, probe.path, body=probe.body, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
        except OSError:
            # Not listening yet.
            time.sleep(POLL_SECONDS)
            continue
        finally:
            connection.close()
        if answer.status in probe.expected:
            return
        last = f"{answer.status} {body[:300]!r}"
        time.sleep(POLL_SECONDS)
    raise SystemExit(
        f"{name} did not answer {probe.method} {probe.path} as expected in time "
        f"(last: {last}):\n{log_path.read_text()[-3000:]}"
    )
