"""What the kernel holds on a local TCP port, read from ``/proc/net/tcp`` (IPv4)."""

from __future__ import annotations

import socket
from pathlib import Path

# The state column's value for TIME_WAIT (include/net/tcp_states.h).
_TIME_WAIT = "06"


def time_wait_on(port: int) -> bool:
    """Whether a connection whose local port is ``port`` is in TIME_WAIT.

    That is the server side of a connection the server closed first, left for
    a minute after the server stopped.
    """
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(
        int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == _TIME_WAIT
        for fields in map(str.split, lines)
    )


def get_closed_by_server(port: int, path: str) -> bytes:
    """``GET path`` on 127.0.0.1:``port`` with ``Connection: close``; the whole answer.

    Reads until the server closes the connection, and only then closes its own
    end: the server closes first, so the TIME_WAIT is the server's.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def connections_to(port: int) -> int:
    """How many TCP sockets this process holds open to 127.0.0.1:``port`` (any state).

    Its socket descriptors (``/proc/self/fd``) matched by inode against the
    kernel's table, so sockets other processes hold to the port do not count.
    """
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:  # closed between the listing and the read
            continue
        if str(target).startswith("socket:["):
            inodes.add(str(target)[len("socket:[") : -1])
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1
        for fields in map(str.split, lines)
        if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes
    )
