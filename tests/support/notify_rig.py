"""The notify function as two replicas, fed by a stand-in ApiServerSource and Broker.

What ``test_notify.py`` and ``test_canary_auto.py`` run against (the integration
tier's fixture ``notify_rig`` starts it): the replicas' ``K_SINK`` is a
``RecordingSink``; an ``ApiServerSource`` watches the test's namespace as the
project's source does, and a ``Broker`` hands each of its events to both
replicas at once (``support.apiserver_source``). ``NotifyRig`` is what a test
sees of it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from kserve_functions.core.resources import INFERENCE_SERVICE, REPORTED_STATE_ANNOTATION
from kubernetes import client

from support.apiserver_source import Broker
from support.event_sink import RecordingSink
from support.objects import read_inference_service


@dataclass
class NotifyRig:
    """The sink, the source's Broker, for one test namespace."""

    sink: RecordingSink
    broker: Broker
    namespace: str
    admin: client.ApiClient

    def types(self) -> list[str]:
        """The types of the events the sink accepted, in order."""
        return [event.type for event in self.sink.events()]

    async def wait_for_types(self, expected: list[str], *, timeout: float = 45.0) -> None:
        """Until the sink has accepted at least the event types ``expected``, in that order."""
        deadline = time.monotonic() + timeout
        while self.types()[: len(expected)] != expected:
            assert time.monotonic() < deadline, f"sent {self.types()}, waited for {expected}"
            await asyncio.sleep(0.1)

    async def wait_for_type(self, wanted: str, *, timeout: float = 60.0) -> None:
        """Until the sink has accepted an event of type ``wanted``, whatever came before."""
        deadline = time.monotonic() + timeout
        while wanted not in self.types():
            assert time.monotonic() < deadline, f"sent {self.types()}, waited for {wanted}"
            await asyncio.sleep(0.1)

    def record(self, name: str) -> str | None:
        """The state the function recorded on model ``name`` (its annotation), if any."""
        stored = read_inference_service(self.admin, self.namespace, name)
        found: str | None = stored["metadata"].get("annotations", {}).get(REPORTED_STATE_ANNOTATION)
        return found

    def create(self, manifest: dict[str, Any]) -> None:
        """Create the InferenceService ``manifest`` in the test's namespace (as an admin)."""
        client.CustomObjectsApi(self.admin).create_namespaced_custom_object(
            INFERENCE_SERVICE.group,
            INFERENCE_SERVICE.version,
            self.namespace,
            INFERENCE_SERVICE.plural,
            manifest,
        )
