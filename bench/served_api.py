"""The whole API (the root function ``kserve-api``) served over real HTTP, for the benches.

func-python serves it in its own process, as Knative runs a function, so the
benches time real HTTP round trips and the server competes with the bench for
neither the GIL nor the event loop. ``AUTH_MODE=none``: a bench's cluster is
its own and on loopback only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controlplane.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
# Started in the repository root, so `import function` finds the root function.
SERVE = "from func_python.http import serve; from function import new; serve(new)"
# Readiness is polled this often: the cold start is measured to about this step.
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class ServedApi:
    """A running server: its base URL, its process, and spawn-to-ready seconds."""

    url: str
    process: subprocess.Popen[bytes]
    cold_start_seconds: float


@contextmanager
def serve_root(
    kubeconfig: Path, log_dir: Path, *, ready_timeout: float = 60.0
) -> Iterator[ServedApi]:
    """Serve the root function against ``kubeconfig`` on a free loopback port until exit.

    Yields once ``/health/readiness`` answers 200; ``cold_start_seconds`` is the
    time from spawning the process until then. The server's output goes to
    ``log_dir/server.log``. On exit the process gets SIGTERM, as Knative
    scales a pod down.

    Raises:
        SystemExit: the server exited or was not ready within ``ready_timeout``
            (with its log).
    """
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "AUTH_MODE": "none",
    }
    log_path = log_dir / "server.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log_path, started + ready_timeout)
            yield ServedApi(url, process, time.perf_counter() - started)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API server exited while starting:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/readiness", timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            # Not listening yet (or not ready: urlopen raises on a non-2xx answer).
            time.sleep(POLL_SECONDS)
    raise SystemExit(f"the API server was not ready in time:\n{log.read_text()}")
