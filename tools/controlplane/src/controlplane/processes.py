"""Child processes that cannot outlive the Python process that started them.

The cluster's processes run in their own session, so a Ctrl-C in the terminal
reaches only the launcher, which then stops them in reverse start order (the
controllers before the apiserver, the apiserver before etcd, so none loses
what it talks to mid-request). Should the launcher die without running
its cleanup (SIGKILL, a crashed test runner), Linux's parent-death signal
kills each child: no orphan survives either way. That signal is SIGKILL, not
SIGTERM: kube-apiserver's graceful shutdown waits for etcd, which dies at the
same moment, and would hang.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from controlplane.errors import ControlPlaneError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ManagedProcess:
    """A started binary whose output goes to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Start ``argv``; ``env`` None inherits the launcher's environment."""
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        try:
            self._popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=None if env is None else dict(env),
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - the launcher is single-threaded here
            )
        except OSError as e:
            self._log.close()
            raise ControlPlaneError(f"cannot start {name} ({argv[0]}): {e.strerror}") from e

    @property
    def pid(self) -> int:
        """The process id (stays valid as a number after the process ends)."""
        return self._popen.pid

    def exit_code(self) -> int | None:
        """The exit status if the process has ended, else None."""
        return self._popen.poll()

    def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Stop the process: SIGTERM, then SIGKILL after ``grace_seconds``. Idempotent."""
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._log.close()

    def log_tail(self, lines: int = 25) -> str:
        """The last ``lines`` lines of the process's output, for error reports."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"({self.name} log {self.log_path} unreadable)"
        tail = text.splitlines()[-lines:]
        return "\n".join(f"  {self.name}| {line}" for line in tail)


def raise_if_one_exited(processes: Sequence[ManagedProcess], *, when: str) -> None:
    """Raise for the first of ``processes`` that has ended, naming it and showing its log.

    Raises:
        ControlPlaneError: ``<name> exited with status N <when>; its log (<path>) ends:``
            with the log tail as details.
    """
    for process in processes:
        code = process.exit_code()
        if code is not None:
            raise ControlPlaneError(
                f"{process.name} exited with status {code} {when}; its log "
                f"({process.log_path}) ends:",
                details=process.log_tail(),
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_free_port(port: int, *, option: str) -> None:
    """Raise a clear error when ``port`` on 127.0.0.1 is taken.

    Raises:
        ControlPlaneError: the port is in use (names ``option`` as the fix).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as e:
            raise ControlPlaneError(
                f"port {port} on 127.0.0.1 is already in use ({e.strerror}): stop what "
                f"listens there (another control plane?) or choose another port with {option}"
            ) from e


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    """Stop ``processes`` in the given order, continuing past individual failures."""
    for process in processes:
        with contextlib.suppress(OSError):
            process.stop()
