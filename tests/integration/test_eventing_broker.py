"""Events through the real Knative Broker: the project's k8s/eventing/ applied, not dry-run.

Knative Eventing v0.50.0 runs on the session's cluster (the ``eventing``
fixture: upstream's controllers, webhook, MT channel-based Broker ingress and
filter, InMemoryChannel dispatcher; see ``controlplane.eventing``). Each test
applies ``k8s/eventing/`` with ``kubectl apply -k`` through a local overlay
that changes one thing: every Trigger's subscriber, a Knative Service of the
functions in a real cluster (no Knative Serving data plane runs here), becomes
the ``uri`` of that function served on loopback (``ServedFunction``). Events
are POSTed to the Broker's ingress; what the Broker delivers is counted by
test Triggers whose subscribers are real HTTP receivers decoding with the
CloudEvents SDK (``RecordingSink``).
"""

from __future__ import annotations

import concurrent.futures
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from controlplane.cluster import ControlPlane
from controlplane.eventing_launch import Eventing, not_ready
from kubernetes import client
from support import kubectl
from support.event_sink import RecordingSink
from support.eventing import BROKER, EVENTING_DIR, overlay, patch, trigger
from support.functions import ServedFunction
from support.objects import as_dict, read_inference_service
from support.webhooks import install_down_validator
from support.workloads import wait_for

pytestmark = pytest.mark.integration

GROUP, VERSION = "eventing.knative.dev", "v1"
DEPLOY = "dev.kserve-functions.model.deploy"
DEPLOYED = "dev.kserve-functions.model.deployed"
# The functions each of the project's Triggers delivers to, by name prefix (notify
# is served per test: its sink is the test's Broker).
SUBSCRIBERS = {"kserve-deploy-": "deploy", "kserve-delete-": "delete"}
NOTIFY_TRIGGERS = "kserve-notify-"
# Long enough for a reply that loops back through the Broker to arrive again
# (one round trip here is tens of milliseconds).
QUIET_SECONDS = 3.0
# How a served function logs its 503 answer to a delivery.
REFUSED = "POST '/' 503"
PING_SOURCE = "/tests/eventing-broker/ping"
DIGEST = "sha256:" + "ab" * 32
# …and its refusal of an event it cannot take (400, or 422 for data that is not
# a JSON object).
REFUSED_FOR_GOOD = re.compile(r"POST '/' 4(?:00|22) ")


def _overlay(folder: Path, subscriber_urls: dict[str, str], dead_letter_uri: str | None) -> Path:
    """A kustomization of k8s/eventing/ whose Triggers' subscribers are loopback URIs,
    and whose Broker has a dead-letter sink if ``dead_letter_uri`` is given."""
    patches = [
        patch(
            {"kind": "Trigger", "name": f"{prefix}.*"},
            [{"op": "replace", "path": "/spec/subscriber", "value": {"uri": url}}],
        )
        for prefix, url in subscriber_urls.items()
    ]
    if dead_letter_uri is not None:
        sink = {"uri": dead_letter_uri}
        add = [{"op": "add", "path": "/spec/delivery/deadLetterSink", "value": sink}]
        patches.append(patch({"kind": "Broker"}, add))
    return overlay(folder, patches)


def _list(admin_api: client.ApiClient, namespace: str, plural: str) -> list[dict[str, Any]]:
    found = as_dict(
        client.CustomObjectsApi(admin_api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural
        )
    )
    items: list[dict[str, Any]] = found["items"]
    return items


def _all_ready(admin_api: client.ApiClient, namespace: str) -> dict[str, str] | None:
    """None until the Broker and every Trigger in ``namespace`` are Ready; then {}."""
    pending = {
        f"{plural[:-1]} {item['metadata']['name']}": seen
        for plural in ("brokers", "triggers")
        for item in _list(admin_api, namespace, plural)
        if (seen := not_ready(item)) is not None
    }
    return None if pending else {}


@pytest.fixture
def sinks() -> Iterator[Callable[[], RecordingSink]]:
    """A factory of recording subscribers, closed after the test."""
    opened: list[RecordingSink] = []

    def open_sink() -> RecordingSink:
        sink = RecordingSink()
        opened.append(sink)
        return sink

    yield open_sink
    for sink in opened:
        sink.close()


@pytest.fixture
def dead_letter_sink(request: pytest.FixtureRequest) -> Iterator[RecordingSink | None]:
    """None; a recording dead-letter sink for the Broker when parametrized indirectly with True.

    k8s/eventing/ leaves the dead-letter sink to the operator (README). It is set
    before the Triggers exist: adding it to a running Broker left stale
    subscribers without it on the Broker's channel here.
    """
    if not getattr(request, "param", False):
        yield None
        return
    sink = RecordingSink()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def project_broker(
    control_plane: ControlPlane,
    namespace: str,
    admin_api: client.ApiClient,
    served: Callable[[str], ServedFunction],
    brokered_notify: ServedFunction,
    dead_letter_sink: RecordingSink | None,
    tmp_path: Path,
) -> str:
    """``k8s/eventing/`` applied in ``namespace`` with the local overlay; every object Ready."""
    urls = {prefix: f"{served(name).url}/" for prefix, name in SUBSCRIBERS.items()}
    urls[NOTIFY_TRIGGERS] = f"{brokered_notify.url}/"
    dead_letter_uri = None if dead_letter_sink is None else dead_letter_sink.url
    overlay = _overlay(tmp_path / "overlay", urls, dead_letter_uri)
    kubeconfig = f"--kubeconfig={control_plane.kubeconfig_path}"
    kubectl.run([kubeconfig, "apply", "-k", str(overlay), "-n", namespace])
    wait_for(
        lambda: _all_ready(admin_api, namespace),
        timeout=60,
        what="the Broker and every Trigger of k8s/eventing/ Ready",
    )
    return namespace


def _live(eventing: Eventing, namespace: str, *sinks: RecordingSink) -> None:
    """Return once the test Triggers of ``sinks`` deliver: a Ready Trigger may miss the
    first events (seen here: the dispatcher takes the new subscriber a moment after
    the Trigger reports Ready). Pings are replies no Trigger of k8s/eventing/ takes,
    from PING_SOURCE, which the tests' counts leave out."""

    def delivered() -> bool | None:
        if all(any(e.source == PING_SOURCE for e in sink.events()) for sink in sinks):
            return True
        ping = _deploy_event(namespace, "ping", event_type=DEPLOYED, source=PING_SOURCE)
        assert _send(eventing, namespace, ping).status_code == 202
        return None

    wait_for(delivered, timeout=30, interval=0.5, what="the test Triggers delivering")


def _counted(sink: RecordingSink) -> list[str]:
    """The types of the events ``sink`` received, pings left out."""
    return [event.type for event in sink.events() if event.source != PING_SOURCE]


def _inference_service(
    admin_api: client.ApiClient, namespace: str, name: str
) -> dict[str, Any] | None:
    try:
        return read_inference_service(admin_api, namespace, name)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise


def _deploy_event(
    namespace: str, name: str, *, event_type: str = DEPLOY, source: str = "/tests/eventing-broker"
) -> CloudEvent:
    return CloudEvent(
        attributes={
            "type": event_type,
            "source": source,
            "id": uuid.uuid4().hex,
            "datacontenttype": "application/json",
        },
        data={"name": name, "image": "r/m:1", "namespace": namespace},
    )


def _send(eventing: Eventing, namespace: str, event: CloudEvent) -> httpx.Response:
    message = to_binary_event(event)
    return httpx.post(
        eventing.ingress_url(namespace, BROKER),
        content=message.body,
        headers=message.headers,
        timeout=30,
    )


def _add_trigger(
    admin_api: client.ApiClient, namespace: str, name: str, url: str, event_type: str | None
) -> None:
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "triggers",
        trigger(namespace, name, url, None if event_type is None else {"type": event_type}),
    )


def test_project_manifests_are_ready_on_the_real_broker(
    project_broker: str, admin_api: client.ApiClient
) -> None:
    broker = as_dict(
        client.CustomObjectsApi(admin_api).get_namespaced_custom_object(
            GROUP, VERSION, project_broker, "brokers", BROKER
        )
    )
    address = broker["status"]["address"]["url"]
    assert address == (
        f"http://broker-ingress.knative-eventing.svc.cluster.local/{project_broker}/{BROKER}"
    )
    triggers = _list(admin_api, project_broker, "triggers")
    declared = (EVENTING_DIR / "triggers.yaml").read_text().count("kind: Trigger")
    assert len(triggers) == declared
    event_types = as_dict(
        client.CustomObjectsApi(admin_api).list_namespaced_custom_object(
            GROUP, "v1beta2", project_broker, "eventtypes"
        )
    )["items"]
    assert event_types, "the EventTypes of k8s/eventing/eventtypes.yaml were accepted"


def test_deploy_event_through_the_broker_creates_the_model_and_replies_once(
    eventing: Eventing,
    project_broker: str,
    admin_api: client.ApiClient,
    sinks: Callable[[], RecordingSink],
) -> None:
    namespace = project_broker
    replies, everything = sinks(), sinks()
    _add_trigger(admin_api, namespace, "test-replies", replies.url, DEPLOYED)
    _add_trigger(admin_api, namespace, "test-everything", everything.url, None)
    wait_for(lambda: _all_ready(admin_api, namespace), timeout=60, what="the test Triggers Ready")
    _live(eventing, namespace, replies, everything)

    answer = _send(eventing, namespace, _deploy_event(namespace, "brokered"))

    assert answer.status_code == 202, answer.text
    wait_for(
        lambda: _inference_service(admin_api, namespace, "brokered"),
        timeout=30,
        what="the InferenceService the deploy event asked for",
    )
    wait_for(lambda: _counted(replies) or None, timeout=30, what="the deployed reply")
    [reply] = [event for event in replies.events() if event.source != PING_SOURCE]
    assert reply.type == DEPLOYED
    assert reply.subject == f"{namespace}/brokered"
    assert (reply.data["action"], reply.data["status"]) == ("created", "success")
    time.sleep(QUIET_SECONDS)
    # Exactly one reply, and nothing else went round: the project's Triggers do
    # not match the reply (no loop), and the Broker delivered each event once.
    assert _counted(replies) == [DEPLOYED]
    assert sorted(_counted(everything)) == sorted([DEPLOY, DEPLOYED])


def test_a_503_is_redelivered_by_the_broker_until_the_model_is_created(
    eventing: Eventing,
    project_broker: str,
    admin_api: client.ApiClient,
    served: Callable[[str], ServedFunction],
    sinks: Callable[[], RecordingSink],
) -> None:
    namespace = project_broker
    replies = sinks()
    _add_trigger(admin_api, namespace, "test-replies", replies.url, DEPLOYED)
    wait_for(lambda: _all_ready(admin_api, namespace), timeout=60, what="the test Trigger Ready")
    _live(eventing, namespace, replies)
    # KServe's validator down for this namespace, until the test deletes it.
    down = install_down_validator(admin_api, namespace, timeout_seconds=1)
    deploy_log = served("deploy")
    refusals_before = deploy_log.log().count(REFUSED)

    # The InMemoryChannel fans out synchronously: the ingress answers the producer
    # once every Trigger's delivery, redeliveries included, is done.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(_send, eventing, namespace, _deploy_event(namespace, "retried"))
        _lift_after_refusals(admin_api, namespace, deploy_log, down, refusals_before)
        answer = sent.result(timeout=60)

    assert answer.status_code == 202, answer.text
    wait_for(
        lambda: _inference_service(admin_api, namespace, "retried"),
        timeout=30,
        what="the model created by a redelivery",
    )
    wait_for(lambda: _counted(replies) or None, timeout=30, what="the deployed reply")
    [reply] = [event for event in replies.events() if event.source != PING_SOURCE]
    assert reply.data["action"] == "created"
    time.sleep(QUIET_SECONDS)
    assert _counted(replies) == [DEPLOYED]


def _lift_after_refusals(
    admin_api: client.ApiClient,
    namespace: str,
    deploy_log: ServedFunction,
    down: str,
    refusals_before: int,
) -> None:
    """Bring KServe's validator back for ``namespace`` once kserve-deploy refused twice."""
    # The deploy function answers 503 + Retry-After while the webhook does not answer…
    wait_for(
        lambda: True if deploy_log.log().count(REFUSED) >= refusals_before + 2 else None,
        timeout=30,
        what="two 503 answers of kserve-deploy to the Broker's deliveries",
    )
    assert _inference_service(admin_api, namespace, "retried") is None
    # …and once it answers again, a redelivery (the Broker's `delivery`) creates the model.
    client.AdmissionregistrationV1Api(admin_api).delete_validating_webhook_configuration(down)


@pytest.mark.parametrize("dead_letter_sink", [True], indirect=True)
def test_a_4xx_goes_to_the_dead_letter_sink_and_is_not_retried(
    eventing: Eventing,
    project_broker: str,
    dead_letter_sink: RecordingSink,
    admin_api: client.ApiClient,
    served: Callable[[str], ServedFunction],
) -> None:
    namespace = project_broker
    deploy = served("deploy")
    refusals_before = len(REFUSED_FOR_GOOD.findall(deploy.log()))
    event = _deploy_event(namespace, "never")
    message = to_binary_event(event)
    # Declared JSON, not JSON: kserve-deploy cannot take it and answers 422.
    answer = httpx.post(
        eventing.ingress_url(namespace, BROKER),
        content=b"{not json",
        headers=message.headers,
        timeout=30,
    )

    assert answer.status_code == 202, answer.text
    [dead] = wait_for(
        lambda: dead_letter_sink.events() or None,
        timeout=30,
        what="the event at the dead-letter sink",
    )
    assert (dead.type, dead.id) == (DEPLOY, event.get_id())
    time.sleep(QUIET_SECONDS)
    assert len(dead_letter_sink.events()) == 1
    # Delivered once: a 4xx is final for the Broker, not retried.
    assert len(REFUSED_FOR_GOOD.findall(deploy.log())) == refusals_before + 1
    assert _inference_service(admin_api, namespace, "never") is None


def test_a_harbor_push_through_the_broker_rolls_the_opted_in_model(
    eventing: Eventing,
    project_broker: str,
    admin_api: client.ApiClient,
    served: Callable[[str], ServedFunction],
) -> None:
    namespace = project_broker
    tracked = "harbor.example.com/team/app:v1"
    for name, auto in (("follower", True), ("opted-out", False)):
        body = {"name": name, "image": tracked, "namespace": namespace, "autoUpdate": auto}
        created = httpx.post(f"{served('deploy').url}/deploy", json=body, timeout=30)
        assert created.status_code == 201, created.text
    push = CloudEvent(
        attributes={
            "type": "harbor.artifact.pushed",
            "source": "/projects/3/webhook/policies/7",
            "id": uuid.uuid4().hex,
            "datacontenttype": "application/json",
            "operator": "robot$ci",
        },
        data={
            "resources": [{"digest": DIGEST, "tag": "v1", "resource_url": tracked}],
            "repository": {"name": "app", "namespace": "team", "repo_full_name": "team/app"},
        },
    )
    # Harbor sends structured CloudEvents; the Broker delivers them in binary mode.
    message = to_structured_event(push)

    answer = httpx.post(
        eventing.ingress_url(namespace, BROKER),
        content=message.body,
        headers=message.headers,
        timeout=30,
    )

    assert answer.status_code == 202, answer.text
    pinned = f"harbor.example.com/team/app@{DIGEST}"
    wait_for(
        lambda: True if _image(admin_api, namespace, "follower") == pinned else None,
        timeout=30,
        what="the opted-in model rolled to the pushed digest",
    )
    assert _image(admin_api, namespace, "opted-out") == tracked


def _image(admin_api: client.ApiClient, namespace: str, name: str) -> str:
    image: str = read_inference_service(admin_api, namespace, name)["spec"]["predictor"][
        "containers"
    ][0]["image"]
    return image
