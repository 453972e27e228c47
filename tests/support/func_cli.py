"""Run the project's functions with the real Knative ``func`` CLI, as a developer would.

``checkout`` copies what a clean checkout of one function holds (its folder and
the shared ``lib/`` beside it, in the repository's layout) into a scratch tree,
so ``func`` writes its ``.func/`` run data and ``.gitignore`` there and never in
the working tree. ``FuncRun`` is one ``func run --builder=host`` of such a copy,
in its own process group so that stopping it stops the function's Python
process too. ``invoke`` and ``curl`` are the two clients a developer points at it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.processes import free_port

from support.functions import FUNCTION_ROOTS, REPO_ROOT

# What `func run --builder=host` pip-installs from beside each function's own files:
# the split functions reach the shared library as `{root:parent:parent:uri}/lib`, the
# root function as `{root:uri}/lib`.
_SOURCES: dict[str, tuple[str, ...]] = {
    "deploy": ("functions/deploy", "lib"),
    "models": ("functions/models", "lib"),
    "delete": ("functions/delete", "lib"),
    "health": ("functions/health", "lib"),
    "notify": ("functions/notify", "lib"),
    "ui": ("functions/ui", "lib"),
    "mcp": ("functions/mcp", "lib"),
    "root": ("func.yaml", "pyproject.toml", "function", "lib"),
}

# The repository's .gitignore, for a tree that is not a git work tree (a source archive).
_NOT_IN_A_CHECKOUT = shutil.ignore_patterns(
    ".func", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache"
)


def checkout(name: str, dest: Path) -> Path:
    """Copy function ``name`` as a clean checkout holds it into ``dest``; return its root.

    Files are those git tracks or would track (``--others --exclude-standard``: a
    file not yet committed counts, an ignored one such as ``.func/`` or a build
    artefact does not), copied with their working-tree content.
    """
    dest.mkdir(parents=True, exist_ok=True)
    sources = _SOURCES[name]
    git = shutil.which("git")
    listed = (
        subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *sources],
            cwd=REPO_ROOT,
            capture_output=True,
            check=False,
        )
        if git is not None
        else None
    )
    if listed is not None and listed.returncode == 0:
        for relative in sorted(set(listed.stdout.decode().split("\0")) - {""}):
            source = REPO_ROOT / relative
            if source.is_file():  # a tracked file deleted in the work tree is not there
                (dest / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / relative)
    else:
        for relative in sources:
            source = REPO_ROOT / relative
            if source.is_dir():
                shutil.copytree(source, dest / relative, ignore=_NOT_IN_A_CHECKOUT)
            else:
                shutil.copy2(source, dest / relative)
    return dest if FUNCTION_ROOTS[name] == REPO_ROOT else dest / "functions" / name


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def cli_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment plus ``env``, without ``FUNC_*`` settings.

    ``func`` reads each of its flags from a ``FUNC_*`` variable too; a developer's
    own (``FUNC_ADDRESS``, ``FUNC_PATH``, …) must not change what the test runs.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FUNC_")}
    quiet_pip = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_PROGRESS_BAR": "off"}
    return {**inherited, **quiet_pip, **env}


class FuncRun:
    """``func run --builder=host --json`` of one function root, in the background."""

    def __init__(self, func: Path, root: Path, env: Mapping[str, str], log_path: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = root / ".func" / "runs" / str(self.port)
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._stopped = False
        # Its own session: a Ctrl-C or kill reaches func and the function's Python
        # process together, as they would in a terminal.
        self.process = subprocess.Popen(
            [
                str(func),
                "run",
                "--builder=host",
                "--json",
                f"--path={root}",
                f"--address=127.0.0.1:{self.port}",
            ],
            cwd=root,
            env=cli_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        """What func, pip and the function printed so far."""
        return self.log_path.read_text(errors="replace")

    def announced(self) -> dict[str, Any] | None:
        """The JSON line ``func run --json`` prints once the function is ready, if printed."""
        for line in self.log().splitlines():
            if line.startswith('{"address"'):
                parsed: dict[str, Any] = json.loads(line)
                return parsed
        return None

    def wait_ready(self, *, timeout: float) -> dict[str, Any]:
        """Wait until func says the function runs and its readiness endpoint answers 200.

        Returns:
            What ``func run --json`` printed (``address``, ``host``, ``port``).

        Raises:
            RuntimeError: func exited or the function was not ready in ``timeout``
                seconds (func's whole output included).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"func run exited with {self.process.returncode} while starting "
                    f"{self.root}; {self._log_tail()}"
                )
            announced = self.announced()
            if announced is not None and self._readiness() == 200:
                return announced
            time.sleep(0.5)
        raise RuntimeError(
            f"func run of {self.root} was not ready within {timeout:.0f}s; {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 60) -> str:
        # pip's part of the output is long and rarely the point; the end says what failed.
        tail = "\n".join(self.log().splitlines()[-lines:])
        return f"the end of its output ({self.log_path} holds all of it):\n{tail}"

    def _readiness(self) -> int | None:
        try:
            readiness = f"{self.url}/health/readiness"  # always http://127.0.0.1
            with urllib.request.urlopen(readiness, timeout=2) as answer:  # noqa: S310
                status: int = answer.status
                return status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, OSError):
            return None

    def stop(self, *, timeout: float = 20.0) -> list[str]:
        """Stop func as Ctrl-C does, then kill what is left.

        Returns:
            What was wrong with the stop (empty when func and the function exited
            on SIGINT, func removed its run folder and the port is free again);
            empty as well when it was stopped before.
        """
        if self._stopped:
            return []
        self._stopped = True
        problems: list[str] = []
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"func run did not exit within {timeout:.0f}s of SIGINT")
        else:
            problems.append(f"func run had already exited with {self.process.returncode}")
        # Anything of the session still alive (func itself, or the function's Python
        # process it started) is killed, so no test leaves a process behind.
        if _group_alive(self.process.pid):
            problems.append("processes of func run outlived it; killed them")
            _signal_group(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait()
        self._log.close()
        if self.run_dir.exists():
            problems.append(f"func run left its run folder {self.run_dir}")
        if _port_open(self.port):
            problems.append(f"port {self.port} still answers after the stop")
        return problems


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int, *, grace: float = 2.0) -> bool:
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)


@dataclass(frozen=True)
class Invoked:
    """What ``func invoke`` printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The function's answer (``func invoke`` prints the response body as is)."""
        assert self.returncode == 0, f"func invoke failed: {self.stderr}{self.stdout}"
        return json.loads(self.stdout)


def invoke(
    func: Path,
    root: Path,
    *,
    target: str | None = None,
    data: str | None = None,
    request_type: str | None = None,
    event_type: str | None = None,
    env: Mapping[str, str],
) -> Invoked:
    """``func invoke --path root`` with the given flags (func's defaults otherwise).

    ``event_type`` sends a binary-mode CloudEvent of that type (``--format=cloudevent``).
    """
    args = [str(func), "invoke", f"--path={root}"]
    if event_type is not None:
        args += ["--format=cloudevent", f"--type={event_type}", "--content-type=application/json"]
    if target is not None:
        args.append(f"--target={target}")
    if data is not None:
        args.append(f"--data={data}")
    if request_type is not None:
        args.append(f"--request-type={request_type}")
    done = subprocess.run(
        args,
        cwd=root,
        env=cli_environment(env),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return Invoked(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as ``curl`` saw it."""

    status: int
    content_type: str
    body: str

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


# After the body, on a line of its own: the status and the content type.
_CURL_TRAILER = "\n%{http_code} %{content_type}"


def curl_stream(url: str, *, seconds: float) -> str:
    """What ``curl -N`` receives from a stream at ``url`` in ``seconds`` (then it stops).

    Raises:
        RuntimeError: curl failed other than by its own time limit (exit code 28).
    """
    args = ["curl", "--silent", "--show-error", "--no-buffer", "--max-time", str(seconds), url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode not in {0, 28}:
        raise RuntimeError(f"curl -N {url} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def curl(
    method: str,
    url: str,
    *,
    json_body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Send one request with ``curl`` and return its answer.

    Raises:
        RuntimeError: curl could not talk to the server (its message included).
    """
    args: Sequence[str] = [
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        "--request",
        method,
        "--write-out",
        _CURL_TRAILER,
    ]
    for name, value in (headers or {}).items():
        args = [*args, "--header", f"{name}: {value}"]
    if json_body is not None:
        # --header/--data-binary rather than --json (curl >= 7.82 only).
        args = [*args, "--header", "Content-Type: application/json"]
        args = [*args, "--data-binary", json.dumps(json_body)]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=90, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"curl {method} {url} failed ({done.returncode}): {done.stderr}")
    body, _, trailer = done.stdout.rpartition("\n")
    status, _, content_type = trailer.partition(" ")
    return Answer(int(status), content_type, body)
