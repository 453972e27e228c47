"""k8s/eventing/ and the func.yaml subscriptions against the event contract and the real CRDs.

The kustomize base is rendered by the project's kubectl (``kubectl kustomize``)
and applied as documented, ``kubectl apply -k k8s/eventing -n NS``, with
``--dry-run=server --validate=strict`` into a fresh namespace: the apiserver
validates every object against the installed Knative Eventing CRDs, and Knative
Eventing's own webhook (``eventing``: the real one, running) defaults and
validates it, and nothing is persisted. The Triggers ``func deploy`` would
create from each func.yaml's ``deploy.subscriptions`` go through a server-side
dry run too, and both sets must route the same event types to the same
functions.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from controlplane import binaries
from controlplane.cluster import ControlPlane
from controlplane.errors import ControlPlaneError
from controlplane.eventing_launch import Eventing
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support import kubectl
from support.func_cli import cli_environment
from support.functions import REPO_ROOT
from support.objects import as_dict, documents
from support.workloads import MODEL_LABEL

pytestmark = pytest.mark.integration

EVENTING_DIR = REPO_ROOT / "k8s" / "eventing"
BROKER = "default"
BROKER_CLASS = "MTChannelBasedBroker"
GROUP = "eventing.knative.dev"
KSVC_API_VERSION = "serving.knative.dev/v1"

# The event contract (DESIGN §5): the types each function's Knative Service consumes…
DEPLOY_TYPES = frozenset(
    {
        "dev.kserve-functions.model.deploy",
        "harbor.artifact.pushed",
        "Microsoft.ContainerRegistry.ImagePushed",
    }
)
DELETE_TYPES = frozenset({"dev.kserve-functions.model.delete"})
# What the notify function takes: its ApiServerSource's events (Resource mode).
NOTIFY_TYPES = frozenset(
    f"dev.knative.apiserver.resource.{change}" for change in ("add", "update", "delete")
)
CONSUMED: dict[str, frozenset[str]] = {
    "kserve-deploy": DEPLOY_TYPES,
    "kserve-delete": DELETE_TYPES,
    "kserve-notify": NOTIFY_TYPES,
}
# Filters besides `type`: the extension the ApiServerSource's ceOverrides set, so
# notify takes no other ApiServerSource's events.
FEED_EXTENSION = {"kservefunctions": "model-watch"}
EXTRA_FILTERS: dict[str, dict[str, str]] = {"kserve-notify": FEED_EXTENSION}
# … and the reply types they produce back into the Broker …
PRODUCED = frozenset(
    {
        "dev.kserve-functions.model.deployed",
        "dev.kserve-functions.model.deleted",
        "dev.kserve-functions.model.failed",
    }
)
# … and the status-change events notify sends to its K_SINK, the Broker (two share
# their names with replies: their source tells them apart).
NOTIFY_SOURCE = "/kserve-functions/notify"
STATUS = frozenset(
    f"dev.kserve-functions.model.{change}"
    # promoted, aborted: a canary's automatic promotion or abort (canary.autoPromote).
    for change in ("ready", "unready", "failed", "deleted", "promoted", "aborted")
)
NOTIFY_SERVICE_ACCOUNT = "kserve-notify-source"
# The base's cluster-scoped kinds (the notify feed's RBAC): no namespace anywhere.
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}
# Each func.yaml, by the Knative Service `func deploy` makes of it, and what it subscribes to.
FUNC_YAMLS: dict[str, Path] = {
    "kserve-deploy": REPO_ROOT / "functions" / "deploy" / "func.yaml",
    "kserve-delete": REPO_ROOT / "functions" / "delete" / "func.yaml",
    "kserve-notify": REPO_ROOT / "functions" / "notify" / "func.yaml",
    "kserve-api": REPO_ROOT / "func.yaml",
}
SUBSCRIBED: dict[str, frozenset[str]] = {**CONSUMED, "kserve-api": DEPLOY_TYPES | DELETE_TYPES}

_PLURALS = {"Broker": "brokers", "Trigger": "triggers", "EventType": "eventtypes"}


# -- rendering ----------------------------------------------------------------


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def _subscriptions(service: str) -> list[dict[str, Any]]:
    (func_yaml,) = documents(FUNC_YAMLS[service])
    assert func_yaml["name"] == service
    subscriptions = func_yaml["deploy"]["subscriptions"]
    assert isinstance(subscriptions, list)
    return subscriptions


def func_deploy_triggers(service: str, uid: str) -> list[dict[str, Any]]:
    """The Triggers ``func deploy`` creates for func.yaml's subscriptions.

    As knative.dev/func v0.49.2 ``pkg/knative/deployer.go`` ``createTriggers``
    builds them: one per subscription, broker = ``source``, exact-match attribute
    filter = ``filters``, the function's Knative Service as subscriber and owner.
    """
    return [
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Trigger",
            "metadata": {
                "name": f"{service}-function-trigger-{index}",
                "ownerReferences": [
                    {"apiVersion": KSVC_API_VERSION, "kind": "Service", "name": service, "uid": uid}
                ],
            },
            "spec": {
                "broker": subscription["source"],
                "subscriber": {
                    "ref": {"apiVersion": KSVC_API_VERSION, "kind": "Service", "name": service}
                },
                "filter": {"attributes": dict(subscription.get("filters", {}))},
            },
        }
        for index, subscription in enumerate(_subscriptions(service))
    ]


def _trigger_route(trigger: dict[str, Any]) -> tuple[str, str]:
    """(subscriber Knative Service, the one `type` it filters on) of a Trigger."""
    spec = trigger["spec"]
    ref = spec["subscriber"]["ref"]
    assert (ref["apiVersion"], ref["kind"]) == (KSVC_API_VERSION, "Service"), trigger
    attributes = dict(spec["filter"]["attributes"])
    event_type = attributes.pop("type")
    # Exact matches on `type`, and on the feed's extension for notify: nothing else.
    assert attributes == EXTRA_FILTERS.get(ref["name"], {}), trigger["metadata"]["name"]
    return ref["name"], event_type


def _dry_run_create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create ``body`` with a server-side dry run (unknown fields refused); return the answer.

    For objects no kustomize base holds: the Triggers ``func deploy`` creates
    (client-go Create calls, made here as the same POST) and deliberately broken
    ones, whose refusal is checked by the apiserver's status code, which kubectl
    would only report as text.
    """
    group, version = body["apiVersion"].split("/")
    created, status, headers = client.CustomObjectsApi(
        api
    ).create_namespaced_custom_object_with_http_info(
        group,
        version,
        namespace,
        _PLURALS[body["kind"]],
        body,
        dry_run="All",
        field_validation="Strict",
    )
    assert status == 201, f"{body['kind']} {body['metadata']['name']}: {status}"
    # A deprecated version or a dropped field would come back as a Warning header.
    warning = (headers or {}).get("Warning")
    assert warning is None, f"{body['kind']} {body['metadata']['name']}: {warning}"
    return as_dict(created)


def _stored(api: client.ApiClient, namespace: str, kind: str, version: str) -> list[Any]:
    listed = client.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, version, namespace, _PLURALS[kind]
    )
    items: list[Any] = as_dict(listed)["items"]
    return items


# -- the manifests against the contract -----------------------------------------


def test_base_holds_the_broker_the_triggers_and_the_event_types() -> None:
    rendered = kubectl.kustomize(EVENTING_DIR)

    assert Counter(obj["kind"] for obj in rendered) == {
        "Broker": 1,
        "Trigger": sum(len(types) for types in CONSUMED.values()),
        "EventType": len(DEPLOY_TYPES | DELETE_TYPES | NOTIFY_TYPES | PRODUCED) + len(STATUS),
        # notify's feed and its identity, and its sink.
        "ApiServerSource": 1,
        "ServiceAccount": 1,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "SinkBinding": 1,
    }
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in rendered]
    assert len(set(names)) == len(names), "names are unique per kind"
    for obj in rendered:
        # The base goes into the functions' namespace (kubectl apply -k … -n NS).
        assert "namespace" not in obj["metadata"], obj["metadata"]["name"]
    (broker,) = _of_kind(rendered, "Broker")
    assert broker["apiVersion"] == f"{GROUP}/v1"
    assert broker["metadata"]["name"] == BROKER
    assert broker["metadata"]["annotations"][f"{GROUP}/broker.class"] == BROKER_CLASS


def test_each_consumed_type_has_exactly_one_trigger_per_consuming_function() -> None:
    triggers = _of_kind(kubectl.kustomize(EVENTING_DIR), "Trigger")

    routes = Counter(_trigger_route(trigger) for trigger in triggers)
    expected = Counter((service, t) for service, types in CONSUMED.items() for t in types)
    assert routes == expected
    for trigger in triggers:
        assert trigger["apiVersion"] == f"{GROUP}/v1"
        assert trigger["spec"]["broker"] == BROKER
        assert "brokerRef" not in trigger["spec"]
        service, event_type = _trigger_route(trigger)
        assert service in CONSUMED, f"{trigger['metadata']['name']} calls {service}"
        # A function's reply goes back into the Broker: a Trigger on it would loop.
        assert event_type not in PRODUCED


def test_event_types_declare_every_consumed_and_produced_type_at_the_broker() -> None:
    event_types = _of_kind(kubectl.kustomize(EVENTING_DIR), "EventType")

    declared = Counter((et["spec"]["type"], et["spec"].get("source")) for et in event_types)
    assert declared == Counter(
        [(t, None) for t in DEPLOY_TYPES | DELETE_TYPES | NOTIFY_TYPES | PRODUCED]
        + [(t, NOTIFY_SOURCE) for t in STATUS]
    )
    for event_type in event_types:
        spec = event_type["spec"]
        assert spec["reference"] == {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Broker",
            "name": BROKER,
        }
        assert spec["description"].strip(), event_type["metadata"]["name"]


def test_notify_is_fed_by_an_api_server_source_of_models_and_their_pods() -> None:
    rendered = kubectl.kustomize(EVENTING_DIR)
    (source,) = _of_kind(rendered, "ApiServerSource")

    assert source["apiVersion"] == "sources.knative.dev/v1"
    spec = source["spec"]
    assert spec["mode"] == "Resource"  # the object as data, not a reference to it
    assert spec["namespaceSelector"] == {}  # every namespace
    assert spec["resources"] == [
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService"},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            # KServe labels a model's pods with it; other pods are none of notify's business.
            "selector": {"matchExpressions": [{"key": MODEL_LABEL, "operator": "Exists"}]},
        },
    ]
    assert spec["ceOverrides"] == {"extensions": FEED_EXTENSION}
    assert spec["sink"] == {"ref": {"apiVersion": f"{GROUP}/v1", "kind": "Broker", "name": BROKER}}
    # Its identity may get, list and watch what it watches (Knative's controller
    # checks exactly these verbs before it starts the adapter), and nothing else.
    assert spec["serviceAccountName"] == NOTIFY_SERVICE_ACCOUNT
    (account,) = _of_kind(rendered, "ServiceAccount")
    assert account["metadata"]["name"] == NOTIFY_SERVICE_ACCOUNT
    (role,) = _of_kind(rendered, "ClusterRole")
    grants = {
        (group, resource, verb, tuple(rule.get("resourceNames", ())))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    watched = (("serving.kserve.io", "inferenceservices"), ("", "pods"))
    assert grants == {(g, r, v, ()) for g, r in watched for v in ("get", "list", "watch")}
    (binding,) = _of_kind(rendered, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": NOTIFY_SERVICE_ACCOUNT, "namespace": "kserve-functions"}
    ]


def test_notify_sends_into_the_broker_through_a_sink_binding() -> None:
    (binding,) = _of_kind(kubectl.kustomize(EVENTING_DIR), "SinkBinding")

    assert binding["apiVersion"] == "sources.knative.dev/v1"
    assert binding["spec"] == {
        "subject": {"apiVersion": KSVC_API_VERSION, "kind": "Service", "name": "kserve-notify"},
        "sink": {"ref": {"apiVersion": f"{GROUP}/v1", "kind": "Broker", "name": BROKER}},
    }


def test_notifys_triggers_redeliver_what_it_answers_503() -> None:
    triggers = _of_kind(kubectl.kustomize(EVENTING_DIR), "Trigger")

    notify = [t for t in triggers if _trigger_route(t)[0] == "kserve-notify"]
    assert len(notify) == len(NOTIFY_TYPES)
    for trigger in notify:
        # A 503 (the apiserver or the Broker failed) leaves the event to redelivery.
        assert trigger["spec"]["delivery"]["retry"] >= 3, trigger["metadata"]["name"]


@pytest.mark.parametrize("service", sorted(FUNC_YAMLS))
def test_func_yaml_subscriptions_match_the_triggers(service: str) -> None:
    subscriptions = _subscriptions(service)

    for subscription in subscriptions:
        assert subscription == {
            "source": BROKER,
            "filters": {"type": subscription["filters"]["type"], **EXTRA_FILTERS.get(service, {})},
        }
    types = [subscription["filters"]["type"] for subscription in subscriptions]
    assert len(types) == len(set(types)), f"{service} subscribes twice to a type"
    assert set(types) == SUBSCRIBED[service]
    if service in CONSUMED:  # the split functions: the same routes as the base's Triggers
        triggers = _of_kind(kubectl.kustomize(EVENTING_DIR), "Trigger")
        routed = {t for s, t in map(_trigger_route, triggers) if s == service}
        assert set(types) == routed


# -- the manifests against the apiserver and the real CRDs ------------------------


def test_kubectl_apply_of_the_base_passes_a_server_side_dry_run(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str, eventing: Eventing
) -> None:
    rendered = kubectl.kustomize(EVENTING_DIR)
    crd = client.ApiextensionsV1Api(admin_api).read_custom_resource_definition(
        f"eventtypes.{GROUP}"
    )
    (storage,) = [v.name for v in crd.spec.versions if v.storage]
    for obj in _of_kind(rendered, "EventType"):
        # Stored as written: no conversion between what we wrote and what is kept.
        assert obj["apiVersion"] == f"{GROUP}/{storage}", obj["metadata"]["name"]

    dry_run = kubectl.dry_run_apply(control_plane, EVENTING_DIR, namespace=namespace)

    # Deprecated versions, or fields the apiserver dropped, come back as warnings.
    assert "Warning" not in dry_run.stderr, dry_run.stderr
    # Every rendered object was sent and answered, once, in the namespace given by -n
    # (the cluster-scoped RBAC of notify's feed in none).
    placed = [
        o
        if o["kind"] in CLUSTER_SCOPED
        else {**o, "metadata": {**o["metadata"], "namespace": namespace}}
        for o in rendered
    ]
    assert Counter(map(kubectl.identity, dry_run.objects)) == Counter(map(kubectl.identity, placed))
    answers = {kubectl.identity(o): o for o in dry_run.objects}
    for obj in placed:
        created = answers[kubectl.identity(obj)]
        # Knative's webhook may add defaults (a Broker's channel config), never change
        # or drop what we wrote; the schema prunes nothing.
        assert _holds(created.get("spec"), obj.get("spec")), kubectl.identity(obj)

    # Dry run: the apiserver validated everything and kept nothing.
    assert _stored(admin_api, namespace, "Trigger", "v1") == []
    assert _stored(admin_api, namespace, "Broker", "v1") == []
    assert _stored(admin_api, namespace, "EventType", storage) == []
    sources = client.CustomObjectsApi(admin_api).list_namespaced_custom_object(
        "sources.knative.dev", "v1", namespace, "apiserversources"
    )
    assert as_dict(sources)["items"] == []


def test_triggers_func_deploy_creates_pass_a_server_side_dry_run(
    admin_api: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(admin_api)
    for service in sorted(FUNC_YAMLS):
        # The Knative Service `func deploy` makes first: its uid is the Triggers' owner.
        ksvc = {
            "apiVersion": KSVC_API_VERSION,
            "kind": "Service",
            "metadata": {"name": service},
            "spec": {
                "template": {
                    "spec": {"containers": [{"image": f"registry.example.com/{service}:v1"}]}
                }
            },
        }
        made = as_dict(
            custom.create_namespaced_custom_object(
                "serving.knative.dev", "v1", namespace, "services", ksvc
            )
        )
        triggers = func_deploy_triggers(service, made["metadata"]["uid"])
        assert len(triggers) == len(SUBSCRIBED[service])
        for trigger in triggers:
            created = _dry_run_create(admin_api, namespace, trigger)
            assert created["spec"]["broker"] == BROKER
            assert created["metadata"]["ownerReferences"][0]["name"] == service
            assert _trigger_route(created)[0] == service

    assert _stored(admin_api, namespace, "Trigger", "v1") == []


def _holds(answer: object, sent: object) -> bool:
    """Whether ``answer`` has every field of ``sent`` with the same value (and maybe more)."""
    if isinstance(sent, dict):
        return isinstance(answer, dict) and all(
            key in answer and _holds(answer[key], value) for key, value in sent.items()
        )
    return answer == sent


def _valid_trigger() -> dict[str, Any]:
    (trigger, *_) = _of_kind(kubectl.kustomize(EVENTING_DIR), "Trigger")
    return trigger


def _broker_of_wrong_type(trigger: dict[str, Any]) -> None:
    trigger["spec"]["broker"] = 42


def _filter_attributes_of_wrong_type(trigger: dict[str, Any]) -> None:
    trigger["spec"]["filter"]["attributes"] = "type=dev.kserve-functions.model.deploy"


def _subscriber_of_wrong_type(trigger: dict[str, Any]) -> None:
    trigger["spec"]["subscriber"] = "kserve-deploy"


def _without_broker(trigger: dict[str, Any]) -> None:
    del trigger["spec"]["broker"]


@pytest.mark.parametrize(
    ("break_it", "named"),
    [
        (_broker_of_wrong_type, "spec.broker"),
        (_filter_attributes_of_wrong_type, "spec.filter.attributes"),
        (_subscriber_of_wrong_type, "spec.subscriber"),
        (_without_broker, "spec.broker"),
    ],
    ids=[
        "broker-not-a-string",
        "filter-attributes-not-an-object",
        "subscriber-not-an-object",
        "no-broker",
    ],
)
def test_an_invalid_trigger_is_refused_naming_its_field(
    admin_api: client.ApiClient,
    namespace: str,
    eventing: Eventing,
    break_it: Callable[[dict[str, Any]], None],
    named: str,
) -> None:
    # Knative's webhook refuses what it cannot decode (400) or validate (a missing
    # broker, which the CRD's schema lets through); the schema, behind it, refuses a
    # field of the wrong type too (422).
    trigger = _valid_trigger()
    break_it(trigger)

    with pytest.raises(ApiException) as refused:
        _dry_run_create(admin_api, namespace, trigger)

    assert refused.value.status in {400, 422}, refused.value.body
    assert named in str(refused.value.body), refused.value.body


# -- the func CLI reads the func.yaml files ----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("service", sorted(FUNC_YAMLS))
def test_func_cli_loads_the_subscriptions(service: str, tmp_path: Path) -> None:
    try:
        func = binaries.ensure(binaries.FUNC)
    except ControlPlaneError as e:
        pytest.fail(f"the func CLI could not be built: {e}", pytrace=False)
    # A copy: func writes .func/ and .gitignore beside the func.yaml it loads.
    shutil.copy2(FUNC_YAMLS[service], tmp_path / "func.yaml")

    done = subprocess.run(
        [str(func), "config", "envs", f"--path={tmp_path}"],
        env=cli_environment({}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # func decodes func.yaml strictly too (pkg/functions/function_migrations.go) and
    # warns on stderr about any field it cannot decode or does not know.
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
