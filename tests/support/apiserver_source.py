"""What a Knative ApiServerSource in Resource mode sends, and a Broker delivering it.

Knative's adapter (knative.dev/eventing ``pkg/adapter/apiserver``, ``events/events.go``)
runs a reflector (list, then watch) per watched resource and turns each add,
update and delete into a CloudEvent: type ``dev.knative.apiserver.resource.add``
/ ``.update`` / ``.delete``, source the apiserver's URL, subject the object's
path (``/apis/<apiVersion>/namespaces/<namespace>/<plural>/<name>``), the
extensions ``kind``, ``apiversion``, ``name``, ``namespace`` (plus those of the
source's ``ceOverrides``), and the object itself as JSON data.

``ApiServerSource`` does that for one namespace, for what the project's source
(``k8s/eventing/apiserversource.yaml``) watches: InferenceServices, and pods
labelled ``serving.kserve.io/inferenceservice``; one watch thread per resource,
queueing the events. ``Broker`` delivers them to the function's replicas the
way a Broker does, one at a time in order, each to every replica at once (a
redelivery and a second replica racing), retried while the answer is a 5xx.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent
from kserve_functions.core.resources import INFERENCE_SERVICE, MODEL_LABEL
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

CHANGE_TYPES = {
    "ADDED": "dev.knative.apiserver.resource.add",
    "MODIFIED": "dev.knative.apiserver.resource.update",
    "DELETED": "dev.knative.apiserver.resource.delete",
}
# The project's ApiServerSource sets this extension (ceOverrides); its Triggers filter on it.
CE_OVERRIDES = {"kservefunctions": "model-watch"}
RETRIES = 10


@dataclass(frozen=True)
class SourceEvent:
    """One event as it goes over HTTP (binary mode), and what it is about."""

    type: str
    subject: str
    headers: dict[str, str]
    body: bytes


def source_event(change_type: str, obj: dict[str, Any], *, source: str) -> SourceEvent:
    """The CloudEvent Knative's adapter makes of one watch change of ``obj``."""
    metadata = obj["metadata"]
    api_version, kind = obj["apiVersion"], obj["kind"]
    name, namespace = metadata.get("name", ""), metadata.get("namespace", "")
    subject = f"/apis/{api_version}/namespaces/{namespace}/{_guess_plural(kind)}/{name}"
    attributes = {
        "type": CHANGE_TYPES[change_type],
        "source": source,
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC),
        "subject": subject,
        "datacontenttype": "application/json",
        "kind": kind,
        "apiversion": api_version,
        "name": name,
        "namespace": namespace,
        **CE_OVERRIDES,
    }
    message = to_binary_event(CloudEvent(attributes=attributes, data=obj))
    return SourceEvent(attributes["type"], subject, dict(message.headers), message.body)


def _guess_plural(kind: str) -> str:
    """The resource of ``kind`` as client-go's ``UnsafeGuessKindToResource`` guesses it."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


class ApiServerSource:
    """Watches a namespace's InferenceServices and model pods; queues their events."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self._api = api
        self._namespace = namespace
        self._source = api.configuration.host
        self._events: queue.Queue[SourceEvent] = queue.Queue()
        self._stopped = threading.Event()
        custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
        group, version, plural = (
            INFERENCE_SERVICE.group,
            INFERENCE_SERVICE.version,
            INFERENCE_SERVICE.plural,
        )
        self._threads = [
            threading.Thread(
                target=self._watch,
                args=(custom.list_namespaced_custom_object, group, version, namespace, plural),
                kwargs={},
                daemon=True,
            ),
            threading.Thread(
                target=self._watch,
                args=(core.list_namespaced_pod, namespace),
                kwargs={"label_selector": MODEL_LABEL},
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()

    def next(self, timeout: float) -> SourceEvent | None:
        """The next event, or None if none came within ``timeout`` seconds."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Stop watching (each thread ends with its current watch, within seconds)."""
        self._stopped.set()
        for thread in self._threads:
            thread.join(10)

    def _watch(self, list_call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """List, then watch from there, renewing the watch; each change becomes an event."""
        version = ""
        while not self._stopped.is_set():
            stream = watch.Watch()
            try:
                for change in stream.stream(
                    list_call, *args, resource_version=version, timeout_seconds=2, **kwargs
                ):
                    obj = change["raw_object"]
                    version = obj["metadata"]["resourceVersion"]
                    if change["type"] in CHANGE_TYPES:
                        self._events.put(source_event(change["type"], obj, source=self._source))
                    if self._stopped.is_set():
                        break
            except ApiException as e:
                if e.status != 410:  # Gone: list again from now
                    raise
                version = ""
            finally:
                stream.stop()


@dataclass
class Broker:
    """Delivers a source's events to the function's replicas; keeps every answer.

    ``run`` forwards until cancelled; ``settle`` waits until nothing was
    delivered for a while. A Broker retries a 5xx; so does this one, a few times.
    """

    source: ApiServerSource
    replicas: Sequence[httpx.AsyncClient]
    # Every answer: the event, status, body, and whether it ended that delivery.
    answers: list[tuple[SourceEvent, int, bytes, bool]] = field(default_factory=list)
    last_delivery: float = field(default_factory=time.monotonic)

    async def run(self) -> None:
        """Forward events until cancelled."""
        while True:
            event = await asyncio.to_thread(self.source.next, 0.2)
            if event is None:
                continue
            await asyncio.gather(*(self._deliver(replica, event) for replica in self.replicas))
            self.last_delivery = time.monotonic()

    async def settle(self, *, quiet: float = 1.5, timeout: float = 30.0) -> None:
        """Return once no event was delivered for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.last_delivery < quiet:
            assert time.monotonic() < deadline, f"events kept coming for {timeout:g}s"
            await asyncio.sleep(0.1)

    def final_answers(self) -> list[int]:
        """The status each delivery ended with (after the retries of 5xx answers)."""
        return [status for _, status, _, final in self.answers if final]

    async def _deliver(self, replica: httpx.AsyncClient, event: SourceEvent) -> None:
        for attempt in range(1, RETRIES + 1):
            answer = await replica.post("/", content=event.body, headers=event.headers)
            # A Broker redelivers after a server error (Knative: 5xx, among others).
            final = answer.status_code < 500 or attempt == RETRIES
            self.answers.append((event, answer.status_code, answer.content, final))
            if final:
                return
            await asyncio.sleep(0.2)
