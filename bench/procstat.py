"""What ``/proc`` says about a running process: memory, CPU time, open file descriptors.

Linux only, like the rest of the benches. Every reading is of one moment; the
callers take them before and after what they measure.
"""

from __future__ import annotations

import os
from pathlib import Path

KIB_PER_MIB = 1024
# utime and stime are the 14th and 15th fields of /proc/<pid>/stat; counted
# after the command name, which is in parentheses and may hold spaces.
_UTIME_AFTER_COMM = 11
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, key: str) -> int:
    """``key`` (``VmRSS``, ``VmHWM``) of ``/proc/<pid>/status``, in KiB.

    Raises:
        LookupError: the process has no such line (it exited, or a kernel without it).
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise LookupError(f"no {key} in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    """The resident set size now, in KiB."""
    return status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The peak resident set size (``VmHWM``) since start or the last ``reset_peak``, in KiB."""
    return status_kib(pid, "VmHWM")


def reset_peak(pid: int) -> None:
    """Set the process's peak RSS back to its current RSS (``5`` into ``clear_refs``).

    So one long-lived server can report the peak of each of several measured
    operations in turn. Linux 4.0 or later; the process must be the caller's user's.
    """
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process (all its threads) has used so far, in seconds.

    The kernel counts it in clock ticks (usually 10 ms): measure over enough
    work that a tick is small beside it.
    """
    return sum(_cpu_ticks(pid)) / _CLOCK_TICKS


def user_seconds(pid: int) -> float:
    """The user part of ``cpu_seconds``: the process's own code (Python's included).

    The system part holds its syscalls and, on a virtual machine under load, the
    scheduler's work charged to it (task switches, interrupts), which varies with
    what else runs: two servers doing the same syscalls differ there by load alone.
    """
    return _cpu_ticks(pid)[0] / _CLOCK_TICKS


def _cpu_ticks(pid: int) -> tuple[int, int]:
    """utime and stime of ``/proc/<pid>/stat``, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[_UTIME_AFTER_COMM]), int(fields[_UTIME_AFTER_COMM + 1])


def open_fds(pid: int) -> int:
    """How many file descriptors the process has open (entries of ``/proc/<pid>/fd``)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def machine() -> str:
    """Cores and load average, for printing beside numbers from a shared machine."""
    one, five, fifteen = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"
    )
