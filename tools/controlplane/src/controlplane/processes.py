"""Child processes that cannot outlive the Python process that started them.

The cluster's processes run in their own session, so a Ctrl-C in the terminal
reaches only the launcher, which then stops them in stages (the controllers
together, then the apiserver, then etcd, so none loses what it talks to
mid-request; ``ControlPlane.stop``). Should the launcher die without running
its cleanup (SIGKILL, a crashed test runner), Linux's parent-death signal
kills each child: no orphan survives either way. That signal is SIGKILL, not
SIGTERM: kube-apiserver's graceful shutdown waits for etcd, which dies at the
same moment, and would hang.

Every stop is bounded (``stop_popens``): SIGTERM, up to ``STOP_GRACE_SECONDS``
for the process to end on its own, then SIGKILL and up to
``KILL_WAIT_SECONDS`` for the kernel to reap it; a process that outlives even
that (stuck in the kernel) is left to the parent-death signal rather than
waited for. Processes stopped together (``stop_stages``) share one such bound,
so a cluster's stop takes at most its number of stages times
``STOP_BOUND_SECONDS``, however many components it has.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from controlplane.errors import ControlPlaneError

_PR_SET_PDEATHSIG = 1

# What each component takes to end on SIGTERM, measured on this project's
# 2-core machine: the KServe manager and kube-apiserver about 1.2 s each (up
# to 2.8 s beside four busy cores), the others under 0.2 s; served functions
# under 1 s, and at most hypercorn's 3 s graceful timeout for open requests.
STOP_GRACE_SECONDS = 5.0
# After SIGKILL only the kernel's reaping is left: milliseconds, unless the
# process is stuck in an uninterruptible call.
KILL_WAIT_SECONDS = 2.0
# The longest one stop (of one process or of processes stopped together) takes.
STOP_BOUND_SECONDS = STOP_GRACE_SECONDS + KILL_WAIT_SECONDS


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
        # Kept so that the cluster can start the same process again (``ControlPlane.restart``).
        self.argv: tuple[str, ...] = tuple(argv)
        self.env: Mapping[str, str] | None = env
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

    def stop(self, *, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop the process within ``grace_seconds + KILL_WAIT_SECONDS`` (``stop_popens``).

        Idempotent; closes the log. ``exit_code()`` afterwards is
        ``-signal.SIGKILL`` if the process had to be killed.
        """
        stop_stages([[self]], grace_seconds=grace_seconds)

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


def bind_error(
    host: str, port: int, *, family: socket.AddressFamily = socket.AF_INET
) -> OSError | None:
    """Why a server could not listen on ``host``:``port`` now, or None if it could.

    Probes with the options the servers use: ``SO_REUSEADDR``, which Go's
    ``net.Listen`` (kube-apiserver, etcd) and func-python set on every listening
    socket, and ``IPV6_V6ONLY`` for IPv6 as func-python does. So the
    connections of a server stopped moments ago, still in TIME_WAIT, do not
    count as taking the port (they do not stop those servers either); a socket
    listening there does.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            return e
    return None


def require_free_port(port: int, *, option: str) -> None:
    """Raise a clear error when kube-apiserver could not listen on ``port`` of 127.0.0.1.

    Raises:
        ControlPlaneError: the port is in use (names ``option`` as the fix).
    """
    error = bind_error("127.0.0.1", port)
    if error is not None:
        raise ControlPlaneError(
            f"port {port} on 127.0.0.1 is already in use ({error.strerror}): stop what "
            f"listens there (another control plane?) or choose another port with {option}"
        ) from error


def stop_popens(
    popens: Sequence[subprocess.Popen[Any]], *, grace_seconds: float = STOP_GRACE_SECONDS
) -> list[subprocess.Popen[Any]]:
    """Stop ``popens`` together, returning within ``grace_seconds + KILL_WAIT_SECONDS``.

    SIGTERM to each that still runs; once all have ended or ``grace_seconds``
    passed, SIGKILL to those still running, then up to ``KILL_WAIT_SECONDS``
    for them to be reaped. Every wait has a deadline: none waits on a process
    without one, so neither a process that ignores SIGTERM nor one stuck in the
    kernel can hold the caller.

    Returns:
        The processes that had to be killed (their ``returncode`` is
        ``-signal.SIGKILL``, or None if even SIGKILL did not end them in time).
    """
    running = [popen for popen in popens if popen.poll() is None]
    for popen in running:
        with contextlib.suppress(OSError):  # ended meanwhile
            popen.terminate()
    _wait_until(running, time.monotonic() + grace_seconds)
    stubborn = [popen for popen in running if popen.poll() is None]
    for popen in stubborn:
        with contextlib.suppress(OSError):
            popen.kill()
    _wait_until(stubborn, time.monotonic() + KILL_WAIT_SECONDS)
    return stubborn


def _wait_until(popens: Sequence[subprocess.Popen[Any]], deadline: float) -> None:
    for popen in popens:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(max(0.0, deadline - time.monotonic()))


def stop_stages(
    stages: Sequence[Sequence[ManagedProcess]], *, grace_seconds: float = STOP_GRACE_SECONDS
) -> None:
    """Stop each stage's processes together (``stop_popens``), the stages one after another.

    A stage starts once the one before it has ended (or was killed), so the
    clients of a server end before it. Takes at most ``len(stages) *
    (grace_seconds + KILL_WAIT_SECONDS)``; closes every process's log.
    """
    for stage in stages:
        stop_popens([process._popen for process in stage], grace_seconds=grace_seconds)
        for process in stage:
            process._log.close()
