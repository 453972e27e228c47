"""The one error type of the control-plane tooling.

Its message is a single line that names the cause and the fix, because it is
what a newcomer sees when ``make dev`` or ``make test`` stops; details that do
not fit one line (a build log, a process log tail) go in ``details``, which the
command line prints after the message.
"""

from __future__ import annotations


class ControlPlaneError(Exception):
    """Something the control plane tooling cannot do, and what to do about it."""

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return f"{self.message}\n{self.details}"
