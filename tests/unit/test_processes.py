"""The launcher's bounded stops and port probes (``controlplane.processes``).

Real processes and real sockets on loopback; short graces keep the tests fast,
the bounds are the functions' own: ``grace + KILL_WAIT_SECONDS`` per stage.
"""

from __future__ import annotations

import errno
import importlib.util
import signal
import socket
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from controlplane.cluster import REPO_ROOT
from controlplane.errors import ControlPlaneError
from controlplane.processes import (
    KILL_WAIT_SECONDS,
    ManagedProcess,
    bind_error,
    require_free_port,
    stop_stages,
)
from support.sockets import time_wait_on

GRACE = 1.0
# Scheduling on a loaded 2-core machine: what a bound may be exceeded by.
SLACK = 1.5
# Ignores SIGTERM (an ignored signal stays ignored across exec), as a hung server would.
_STUBBORN = "trap '' TERM; echo ready; exec sleep 600"
# Ends on SIGTERM, noting when it got it (CLOCK_MONOTONIC: comparable across processes).
_NOTES_SIGTERM = (
    "import signal, sys, time\n"
    "def ended(*_):\n"
    "    open(sys.argv[1], 'w').write(repr(time.monotonic())); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, ended)\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)


def _started(process: ManagedProcess, *, timeout: float = 10.0) -> ManagedProcess:
    """``process`` once it printed ``ready``: its signal dispositions are in place."""
    deadline = time.monotonic() + timeout
    while "ready" not in process.log_path.read_text():
        assert process.exit_code() is None, process.log_tail()
        assert time.monotonic() < deadline, "not ready"
        time.sleep(0.02)
    return process


def _stubborn(tmp_path: Path, name: str) -> ManagedProcess:
    return _started(ManagedProcess(name, ["sh", "-c", _STUBBORN], tmp_path / f"{name}.log"))


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    process = _stubborn(tmp_path, "hung")

    started = time.monotonic()
    process.stop(grace_seconds=GRACE)
    took = time.monotonic() - started

    assert process.exit_code() == -signal.SIGKILL
    assert GRACE <= took <= GRACE + KILL_WAIT_SECONDS + SLACK
    process.stop(grace_seconds=GRACE)  # idempotent, and immediate once ended
    assert time.monotonic() - started - took < 0.5


def test_a_process_that_ends_on_sigterm_is_not_killed(tmp_path: Path) -> None:
    process = ManagedProcess("sleeper", ["sleep", "600"], tmp_path / "sleeper.log")

    started = time.monotonic()
    process.stop(grace_seconds=GRACE)

    assert process.exit_code() == -signal.SIGTERM
    assert time.monotonic() - started < GRACE


def test_processes_stopped_together_share_one_bound(tmp_path: Path) -> None:
    hung = [_stubborn(tmp_path, f"hung-{n}") for n in range(3)]

    started = time.monotonic()
    stop_stages([hung], grace_seconds=GRACE)
    took = time.monotonic() - started

    # One after another, three would take three graces.
    assert took <= GRACE + KILL_WAIT_SECONDS + SLACK < 3 * GRACE + KILL_WAIT_SECONDS
    assert [process.exit_code() for process in hung] == [-signal.SIGKILL] * 3


def test_a_stage_is_signalled_only_after_the_one_before_ended(tmp_path: Path) -> None:
    client = _stubborn(tmp_path, "client")
    noted = tmp_path / "sigterm-at"
    server = _started(
        ManagedProcess(
            "server", [sys.executable, "-c", _NOTES_SIGTERM, str(noted)], tmp_path / "server.log"
        )
    )

    started = time.monotonic()
    stop_stages([[client], [server]], grace_seconds=GRACE)

    assert client.exit_code() == -signal.SIGKILL
    assert server.exit_code() == 0
    assert float(noted.read_text()) - started >= GRACE


def _leave_time_wait() -> int:
    """A port on 127.0.0.1 whose server has stopped, leaving a connection in TIME_WAIT.

    The server side closes first, as func-python does after answering a
    ``Connection: close`` request, so the TIME_WAIT is on the server's port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port: int = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server closes first
            assert client.recv(1) == b""  # the client saw it, then closes too
    assert time_wait_on(port), "no TIME_WAIT left: the test reproduces nothing"
    return port


def _serve_root() -> ModuleType:
    path = REPO_ROOT / "tools" / "dev" / "serve_root.py"
    spec = importlib.util.spec_from_file_location("serve_root", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_wait_of_a_stopped_server_does_not_count_as_taking_its_port() -> None:
    port = _leave_time_wait()

    # What the probes did before: a bind without SO_REUSEADDR, refused.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain,
        pytest.raises(OSError, match="Address already in use"),
    ):
        plain.bind(("127.0.0.1", port))

    assert bind_error("127.0.0.1", port) is None
    require_free_port(port, option="--apiserver-port")
    assert _serve_root().address_error(f"127.0.0.1:{port}") is None


def test_a_listening_server_still_takes_its_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        # With SO_REUSEADDR too, as Go and func-python listen: still exclusive on Linux.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        error = bind_error("127.0.0.1", port)
        assert error is not None
        assert error.errno == errno.EADDRINUSE
        with pytest.raises(ControlPlaneError, match=f"^port {port} on 127.0.0.1 is already in use"):
            require_free_port(port, option="--apiserver-port")
        assert _serve_root().address_error(f"127.0.0.1:{port}") == (
            f"cannot listen on 127.0.0.1:{port} (Address already in use)"
        )
