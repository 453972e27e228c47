"""Pure parts of the launcher's Knative Eventing: routes, environments, overlays, cache keys."""

from __future__ import annotations

import copy
import json
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from controlplane import binaries, eventing, project_eventing
from controlplane.eventing_launch import Eventing, not_ready
from controlplane.hostproxy import Routes, parse_pairs

ROUTES = Routes(
    exact={"broker-ingress.knative-eventing.svc.cluster.local": 1001, "10.0.0.7": 1003},
    suffixes={".svc.cluster.local": 1002, ".team.svc.cluster.local": 1004},
)


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("broker-ingress.knative-eventing.svc.cluster.local", 1001),
        ("Broker-Ingress.knative-eventing.svc.cluster.local:80", 1001),
        ("broker-ingress.knative-eventing.svc.cluster.local.", 1001),
        ("10.0.0.7:443", 1003),
        ("default-kne-trigger-kn-channel.ns.svc.cluster.local", 1002),
        ("x-kn-channel.team.svc.cluster.local", 1004),  # the longest suffix wins
        ("example.com", None),
        ("10.0.0.8:443", None),
    ],
)
def test_proxy_routes_a_host_by_exact_name_then_longest_suffix(host: str, port: int | None) -> None:
    assert ROUTES.port_for(host) == port


@pytest.mark.parametrize("pair", ["name", "name=", "=80", "name=eighty"])
def test_proxy_refuses_a_malformed_route(pair: str) -> None:
    with pytest.raises(ValueError, match="NAME=PORT"):
        parse_pairs([pair])


def test_proxy_routes_parse_lowercased() -> None:
    assert parse_pairs(["Broker.SVC=80", "b=81"]) == {"broker.svc": 80, "b": 81}


def test_running_eventing_routes_every_service_and_webhook_cluster_ip() -> None:
    running = Eventing(
        proxy_port=1, ingress_port=2, filter_port=3, webhook_port=4, imc_webhook_port=5,
        dispatcher_port=6,
    )  # fmt: skip
    routes = running.routes(
        {"eventing-webhook": "10.0.0.9", "inmemorychannel-webhook": "10.0.0.10"}
    )
    assert routes == {
        "10.0.0.9": 4,
        "10.0.0.10": 5,
        "broker-ingress.knative-eventing.svc.cluster.local": 2,
        "broker-filter.knative-eventing.svc.cluster.local": 3,
        "imc-dispatcher.knative-eventing.svc.cluster.local": 6,
        "eventing-webhook.knative-eventing.svc": 4,
        "inmemorychannel-webhook.knative-eventing.svc": 5,
    }
    assert running.ingress_url("ns", "default") == "http://127.0.0.1:2/ns/default"
    assert eventing.broker_url("ns", "default") == (
        "http://broker-ingress.knative-eventing.svc.cluster.local/ns/default"
    )


DEPLOYMENT = yaml.safe_load(
    """
metadata: {name: mt-broker-filter, namespace: knative-eventing}
spec:
  template:
    spec:
      serviceAccountName: mt-broker-filter
      containers:
      - name: other
        env: [{name: IGNORED, value: "1"}]
      - name: filter
        env:
        - {name: SYSTEM_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: FILTER_PORT, value: "8080"}
        - {name: IMAGE, valueFrom: {configMapKeyRef: {name: images, key: filter}}}
        - {name: FROM_SECRET, valueFrom: {secretKeyRef: {name: s, key: k}}}
"""
)


def test_a_process_gets_the_environment_its_deployment_container_declares() -> None:
    assert eventing.container_env(DEPLOYMENT, "filter", pod_name="broker-filter-local") == {
        "SYSTEM_NAMESPACE": "knative-eventing",
        "POD_NAME": "broker-filter-local",
        "FILTER_PORT": "8080",
        "IMAGE": eventing.IMAGE_NOT_RUN,
    }


def test_every_process_spec_names_an_upstream_deployment_and_its_service_account(
    tmp_path: Path,
) -> None:
    # The module's layout, reduced to the one Deployment file each spec reads.
    specs = (
        eventing.CONTROLLER,
        eventing.IMC_CONTROLLER,
        eventing.WEBHOOK,
        eventing.INGRESS,
        eventing.FILTER,
        eventing.DISPATCHER,
    )
    for spec in specs:
        for relative, name, container in spec.containers:
            document = {
                **copy.deepcopy(DEPLOYMENT),
                "kind": "Deployment",
                "metadata": {"name": name},
            }
            pod = document["spec"]["template"]["spec"]
            pod["containers"] = [{**pod["containers"][1], "name": container}]
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(document))
        assert eventing.service_account(spec, tmp_path) == "mt-broker-filter"
        assert eventing.process_env(spec, tmp_path)["POD_NAME"] == f"{spec.name}-local"


@pytest.mark.parametrize(
    ("status", "seen"),
    [
        ({}, "no Ready condition yet"),
        ({"conditions": [{"type": "Ready", "status": "True"}]}, None),
        (
            {"conditions": [{"type": "Ready", "status": "False", "reason": "R", "message": "m"}]},
            "R: m",
        ),
    ],
)
def test_not_ready_names_the_ready_condition_reason(
    status: dict[str, object], seen: str | None
) -> None:
    assert not_ready({"status": status}) == seen


def test_make_dev_overlay_points_every_trigger_at_the_api_and_changes_nothing_else(
    tmp_path: Path,
) -> None:
    folder = project_eventing.overlay(tmp_path / "overlay", "http://127.0.0.1:8080/")
    kustomization = json.loads((folder / "kustomization.yaml").read_text())
    [base] = kustomization["resources"]
    assert (folder / base).resolve() == project_eventing.EVENTING_DIR
    [patch] = kustomization["patches"]
    assert patch["target"] == {"kind": "Trigger"}
    assert json.loads(patch["patch"]) == [
        {"op": "replace", "path": "/spec/subscriber", "value": {"uri": "http://127.0.0.1:8080/"}}
    ]


def test_make_dev_curl_sends_a_binary_deploy_event_to_the_ingress() -> None:
    words = shlex.split(project_eventing.curl_example("http://127.0.0.1:9/default/default", "ns"))
    assert words[:3] == ["curl", "-i", "http://127.0.0.1:9/default/default"]
    headers = [words[i + 1] for i, word in enumerate(words) if word == "-H"]
    assert "Ce-Type: dev.kserve-functions.model.deploy" in headers
    assert "Ce-Specversion: 1.0" in headers
    assert json.loads(words[words.index("-d") + 1])["namespace"] == "ns"


def test_a_component_of_the_projects_own_code_is_cached_by_a_digest_of_it(
    tmp_path: Path,
) -> None:
    wrapper = tmp_path / "wrapper"
    shutil.copytree(binaries.EVENTING_CONTROLLER.module_dir, wrapper)
    before = binaries.wrapper_digest(wrapper)
    assert before == binaries.wrapper_digest(wrapper)
    main = wrapper / "cmd" / "eventing-controller" / "main.go"
    main.write_text(main.read_text() + "\n// changed\n")
    assert binaries.wrapper_digest(wrapper) != before
    cached = binaries.cached_path(binaries.EVENTING_CONTROLLER, tmp_path)
    digest = binaries.wrapper_digest(binaries.EVENTING_CONTROLLER.module_dir)
    assert cached.name == f"eventing-controller-{binaries.EVENTING_CONTROLLER.version()}-{digest}"
    assert binaries.cached_path(binaries.EVENTING_INGRESS, tmp_path).name == (
        f"eventing-broker-ingress-{binaries.EVENTING_INGRESS.version()}"
    )


def test_the_dispatcher_patch_adds_a_file_of_the_wrapper() -> None:
    [patch] = binaries.EVENTING_DISPATCHER.patches
    added = binaries.EVENTING_DISPATCHER.module_dir / patch.add
    assert added.read_text().startswith("// Added to knative.dev/eventing/pkg/reconciler/")
    assert "package dispatcher" in added.read_text()
    assert "httpPort" in patch.remove
    assert "httpsPort" in patch.remove
