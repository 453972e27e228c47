"""``make dev``'s API server: the root function "kserve-api", served as Knative would.

Runs func-python's ``serve`` on the repository's root function (``function/``),
on ``LISTEN_ADDRESS`` (default 127.0.0.1:8080). Refuses clearly when that port
is taken, because func-python would only log the failed bind and serve nothing.
The check binds as func-python does (``SO_REUSEADDR``), so it refuses exactly
when func-python's bind would fail: a server listening there, not the TIME_WAIT
connections of the one stopped a moment ago (``make dev`` again right after Ctrl-C).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from controlplane.processes import bind_error

DEFAULT_ADDRESS = "127.0.0.1:8080"


def address_error(listen_address: str) -> str | None:
    """Why func-python could not listen on ``listen_address``, or None if it could.

    ``listen_address`` is func-python's ``LISTEN_ADDRESS``: ``host:port``
    entries separated by commas, IPv6 hosts in brackets.
    """
    for address in listen_address.split(","):
        host, _, port = address.rpartition(":")
        family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
        error = bind_error(host.strip("[]"), int(port), family=family)
        if error is not None:
            return f"cannot listen on {address} ({error.strerror})"
    return None


def main() -> int:
    """Serve the root function until Ctrl-C; 1 when the address is taken."""
    address = os.environ.setdefault("LISTEN_ADDRESS", DEFAULT_ADDRESS)
    error = address_error(address)
    if error is not None:
        print(
            f"error: {error}: stop what uses it or run make dev DEV_ADDRESS=127.0.0.1:<port>",
            file=sys.stderr,
        )
        return 1
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from func_python.http import serve  # noqa: PLC0415 - after the address check, like main.py

    from function import new  # noqa: PLC0415

    first = address.split(",")[0]
    print(f"serving the API (root function kserve-api) on http://{first}", flush=True)
    print(f"the console: http://{first}/ui/", flush=True)
    serve(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
