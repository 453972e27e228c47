"""Waiting for the cluster's processes: bounded, and naming whoever is at fault.

Every wait of the launcher goes through ``wait_for``: it polls a check until
the check reports nothing missing, and between polls looks at the processes,
so a component that exits while starting is reported at once (its name, exit
status and log tail) instead of after the timeout. On timeout the error names
what is still missing and shows the log tails of the components concerned.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from controlplane.errors import ControlPlaneError
from controlplane.processes import ManagedProcess, raise_if_one_exited

# A check returns the components still missing, each with what was seen of it;
# an empty mapping means done.
Check = Callable[[], dict[str, str]]

_POLL_SECONDS = 0.2


def wait_for(
    check: Check,
    *,
    processes: Sequence[ManagedProcess],
    timeout: float,
    what: str,
) -> None:
    """Return once ``check`` reports nothing missing.

    Raises:
        ControlPlaneError: one line naming the component that exited (with its
            log tail), or, after ``timeout`` seconds, what is still not ``what``
            (with the log tails of those components).
    """
    deadline = time.monotonic() + timeout
    while True:
        raise_if_one_exited(processes, when="while the cluster was starting")
        missing = check()
        if not missing:
            return
        if time.monotonic() > deadline:
            summary = "; ".join(f"{name}: {seen}" for name, seen in sorted(missing.items()))
            tails = [p.log_tail() for p in processes if p.name in missing]
            raise ControlPlaneError(
                f"not {what} within {timeout:g}s: {summary}; everything was stopped",
                details="\n".join(tails),
            )
        time.sleep(_POLL_SECONDS)


def endpoint_answers(url: str, context: ssl.SSLContext) -> str | None:
    """None when ``url`` answers 200; else what it answered (for an error message)."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:  # noqa: S310 - our own loopback endpoints
            if response.status == 200:  # noqa: PLR2004
                return None
            return f"{url} answered {response.status}"
    except urllib.error.HTTPError as e:
        return f"{url} answered {e.code}"
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"{url}: {reason}"


def endpoints_check(endpoints: dict[str, str], context: ssl.SSLContext) -> Check:
    """A check that every ``component → health URL`` answers 200."""

    def check() -> dict[str, str]:
        missing = {}
        for component, url in endpoints.items():
            seen = endpoint_answers(url, context)
            if seen is not None:
                missing[component] = seen
        return missing

    return check
