"""What every operation needs, in one value: the settings, the Kubernetes client, the authorizer.

Its own module so that everything above the Kubernetes layer (operations,
rollouts, eventing, routing) can depend on it without depending on each other.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kserve_functions import audit, auth, errors, status
from kserve_functions.config import Settings
from kserve_functions.kube import Kube
from kserve_functions.sink import EventSink


class StreamSlots:
    """How many watch streams a function has open, against its limit (``MAX_STREAMS``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> bool:
        """Take a slot; False when all are taken (the caller refuses the stream)."""
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """Give back a slot ``take`` gave."""
        self.open -= 1


log = logging.getLogger("kserve_functions")


@dataclass(frozen=True)
class Context:
    """The settings, the Kubernetes client and the authorizer of one started function,
    and its open watch streams."""

    settings: Settings
    kube: Kube
    auth: auth.Authorizer
    streams: StreamSlots = field(default_factory=lambda: StreamSlots(0))
    # Who writes the Kubernetes Events of the changes it makes: function and host.
    reporter: str = "kserve-functions"
    # Where status-change events go (K_SINK); only the notify function has one.
    sink: EventSink | None = None

    async def record(
        self,
        isvc: Mapping[str, Any],
        *,
        reason: str,
        note: str,
        actor: audit.Actor,
        at: datetime.datetime,
    ) -> None:
        """Record a change as a Kubernetes Event on the model (``audit.event``), best effort.

        The change is made when this runs; an Event that cannot be written (RBAC,
        the apiserver) is logged, not reported as the change's failure.
        """
        event = audit.event(
            isvc, reason=reason, note=note, actor=actor, at=at, reporter=self.reporter
        )
        try:
            await self.kube.record_event(event)
        except errors.ApiError as e:
            log.warning("could not record the %s Event (%s): %s", reason, note, e.detail)

    def summary_url(self, isvc: Mapping[str, Any]) -> str | None:
        """The model's URL: KServe's, else predicted for its mode (``status.model_url``)."""
        return status.model_url(isvc, self.settings.model_urls)
