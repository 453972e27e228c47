"""``make dev``'s API server: the root function "kserve-api", served as Knative would.

Runs func-python's ``serve`` on the repository's root function (``function/``),
on ``LISTEN_ADDRESS`` (default 127.0.0.1:8080). Refuses clearly when that port
is taken, because func-python would only log the failed bind and serve nothing.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:8080"


def main() -> int:
    """Serve the root function until Ctrl-C; 1 when the address is taken."""
    address = os.environ.setdefault("LISTEN_ADDRESS", DEFAULT_ADDRESS)
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, int(port)))
        except OSError as e:
            print(
                f"error: cannot listen on {address} ({e.strerror}): stop what uses it or run "
                "make dev DEV_ADDRESS=127.0.0.1:<port>",
                file=sys.stderr,
            )
            return 1
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from func_python.http import serve  # noqa: PLC0415 - after the address check, like main.py

    from function import new  # noqa: PLC0415

    print(f"serving the API (root function kserve-api) on http://{address}", flush=True)
    serve(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
