"""What the launcher installs for KServe and kwok, and how it starts them (pure parts)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import binaries, controllers, kserve, kwok, pki, upstream
from controlplane.cluster import Settings
from controlplane.errors import ControlPlaneError
from kserve_functions.core.resources import REPORTED_STATE_ANNOTATION


@functools.cache
def _sources() -> kserve.Sources:
    """KServe's files as the launcher finds them: the pinned Go module's (or KSERVE_DIR's)."""
    return kserve.sources(Settings.from_environment().kserve_dir)


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]


def test_local_config_changes_exactly_the_four_documented_fields() -> None:
    [config] = _documents(_sources().config)

    local = kserve.local_config(config, domain="models.test")

    assert local["metadata"] == {"name": "inferenceservice-config", "namespace": "kserve"}
    changed = {key for key in config["data"] if local["data"][key] != config["data"][key]}
    assert changed == {"deploy", "ingress", "inferenceService"}
    isvc = json.loads(local["data"]["inferenceService"])
    before_isvc = json.loads(config["data"]["inferenceService"])
    disallowed = list(kserve.NOT_PROPAGATED_ANNOTATIONS)
    assert isvc == {**before_isvc, "serviceAnnotationDisallowedList": disallowed}
    # notify's record changes with every event: copied onto the pods, it would roll them.
    assert REPORTED_STATE_ANNOTATION in disallowed
    assert json.loads(local["data"]["deploy"]) == {"defaultDeploymentMode": "Standard"}
    ingress, before = json.loads(local["data"]["ingress"]), json.loads(config["data"]["ingress"])
    assert {k for k in ingress if ingress[k] != before[k]} == {
        "disableIngressCreation",
        "ingressDomain",
    }
    assert (ingress["disableIngressCreation"], ingress["ingressDomain"]) == (True, "models.test")
    # KServe's Standard-mode host rule, which the API's URL prediction mirrors.
    assert ingress["domainTemplate"] == "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"


def test_local_config_leaves_the_upstream_document_alone() -> None:
    [config] = _documents(_sources().config)
    snapshot = json.dumps(config, sort_keys=True)

    kserve.local_config(config, domain="example.com")

    assert json.dumps(config, sort_keys=True) == snapshot


def test_local_webhooks_call_the_local_server_with_the_ca_and_keep_the_rest() -> None:
    configurations = _documents(_sources().webhooks)

    local = kserve.local_webhooks(
        configurations, base_url="https://127.0.0.1:9443", ca_bundle="Q0E="
    )

    assert [c["metadata"]["name"] for c in local] == [c["metadata"]["name"] for c in configurations]
    for before, after in zip(configurations, local, strict=True):
        for old, new in zip(before["webhooks"], after["webhooks"], strict=True):
            path = old["clientConfig"]["service"]["path"]
            assert new["clientConfig"] == {
                "url": f"https://127.0.0.1:9443{path}",
                "caBundle": "Q0E=",
            }
            assert {k: v for k, v in new.items() if k != "clientConfig"} == {
                k: v for k, v in old.items() if k != "clientConfig"
            }
    paths = {w["clientConfig"]["url"] for c in local for w in c["webhooks"]}
    assert "https://127.0.0.1:9443/mutate-pods" in paths  # the pod mutator too


def test_a_kserve_folder_without_its_files_is_named_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / kserve.WEBHOOKS_FILE).write_text("")

    with pytest.raises(ControlPlaneError) as missing:
        kserve.check_kserve_dir(tmp_path)

    assert missing.value.message == (
        f"KServe folder {tmp_path} lacks inferenceservice-config.yaml, "
        "cluster-serving-runtimes.yaml: set KSERVE_DIR to a folder holding KServe "
        "v0.20.0's configuration, or unset it to use the pinned Go module's"
    )


def test_kserve_files_come_from_the_module_the_controller_is_built_from() -> None:
    if Settings.from_environment().kserve_dir is not None:
        pytest.skip("KSERVE_DIR replaces the Go module's files")
    root = upstream.module_dir(upstream.KSERVE)

    assert upstream.KSERVE.version() == binaries.KSERVE_CONTROLLER.version()
    assert upstream.KSERVE.wrapper_dir == binaries.KSERVE_CONTROLLER.module_dir
    assert _sources() == kserve.Sources(
        config=root / "config/configmap/inferenceservice.yaml",
        webhooks=root / "config/webhook/manifests.yaml",
        runtimes=root / "config/runtimes",
    )


def test_kserve_has_fourteen_cluster_serving_runtimes_with_their_images() -> None:
    # The module's kustomization, rendered by the project's kubectl; a KSERVE_DIR's file.
    kubectl = binaries.ensure(binaries.KUBECTL) if _sources().runtimes.is_dir() else None

    runtimes = kserve.load(_sources(), kubectl=kubectl).runtimes

    assert len(runtimes) == 14
    assert {r["kind"] for r in runtimes} == {"ClusterServingRuntime"}
    [sklearn] = [r for r in runtimes if r["metadata"]["name"] == "kserve-sklearnserver"]
    # The kustomization's `images` put the real image in place of the placeholder.
    assert sklearn["spec"]["containers"][0]["image"] == "kserve/sklearnserver:latest"


def test_runtimes_to_render_without_kubectl_are_refused(tmp_path: Path) -> None:
    found = kserve.Sources(config=tmp_path / "c", webhooks=tmp_path / "w", runtimes=tmp_path)

    with pytest.raises(ControlPlaneError, match=r"rendering .* needs kubectl"):
        kserve.load(found, kubectl=None)


def test_a_failed_render_names_the_kustomization(tmp_path: Path) -> None:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\necho 'error: no kustomization file' >&2\nexit 1\n")
    kubectl.chmod(0o755)

    with pytest.raises(ControlPlaneError) as failed:
        kserve.render_runtimes(tmp_path, kubectl=kubectl)

    assert failed.value.message == (
        f"kubectl kustomize {tmp_path} failed (exit 1): error: no kustomization file"
    )


def test_manager_listens_on_loopback_without_leader_election() -> None:
    argv = kserve.manager_argv(Path("/b/m"), webhook_port=1, probe_port=2, metrics_port=3)
    assert argv == [
        "/b/m",
        "--webhook-port=1",
        "--health-probe-addr=127.0.0.1:2",
        "--metrics-addr=127.0.0.1:3",
        "--leader-elect=false",
    ]


def test_fake_nodes_carry_capacity_and_the_kwok_annotation() -> None:
    gpu = kwok.node_manifest(kwok.NodeShape("g", cpu="8", memory="32Gi", gpus=2))
    cpu = kwok.node_manifest(kwok.NodeShape("c", cpu="4", memory="8Gi"))

    assert gpu["metadata"]["annotations"] == {"kwok.x-k8s.io/node": "fake"}
    assert gpu["status"]["capacity"] == {
        "cpu": "8",
        "memory": "32Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": "2",
    }
    assert gpu["status"]["allocatable"] == gpu["status"]["capacity"]
    assert "nvidia.com/gpu" not in cpu["status"]["capacity"]


def test_exactly_one_default_node_has_gpus() -> None:
    assert [shape.gpus for shape in kwok.DEFAULT_NODES if shape.gpus] == [8]


def test_kwok_manages_only_the_annotated_nodes_and_serves_on_loopback() -> None:
    argv = kwok.argv(
        Path("/b/kwok"),
        kubeconfig=Path("/k"),
        server_port=7,
        tls_cert=Path("/c"),
        tls_key=Path("/key"),
        logs_config=Path("/w/kwok/cluster-logs.yaml"),
    )
    assert "--manage-all-nodes=false" in argv
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in argv
    assert "--server-address=127.0.0.1:7" in argv
    # Nodes advertise that server as their kubelet endpoint: 127.0.0.1 and its port.
    assert [a for a in argv if a.startswith(("--node-ip=", "--node-port="))] == [
        "--node-ip=127.0.0.1",
        "--node-port=7",
    ]
    assert [a for a in argv if a.startswith("--tls-")] == [
        "--tls-cert-file=/c",
        "--tls-private-key-file=/key",
    ]
    # The Stages and the default log of every container are config; pods' own logs are CRs.
    assert [a for a in argv if a.startswith("--config=")] == [
        f"--config={kwok.STAGES_FILE}",
        "--config=/w/kwok/cluster-logs.yaml",
    ]
    assert "--enable-crds=Logs" in argv


def test_the_stages_cover_nodes_pods_and_the_two_ways_to_fail() -> None:
    with kwok.STAGES_FILE.open() as stream:
        stages = [doc for doc in yaml.safe_load_all(stream) if doc]
    assert [(s["metadata"]["name"], s["spec"]["resourceRef"]["kind"]) for s in stages] == [
        ("node-ready", "Node"),
        ("node-heartbeat", "Node"),
        ("pod-running", "Pod"),
        ("pod-crash-loop", "Pod"),
        ("pod-crash-loop-restart", "Pod"),
        ("pod-delete", "Pod"),
    ]


def test_controllers_run_without_leader_election_on_loopback(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, users={"admin": []})
    certificate = pki.ServingCertificate(cert=Path("/c"), key=Path("/k"))

    manager = controllers.controller_manager_argv(
        Path("/kcm"),
        kubeconfig=Path("/kc"),
        port=5,
        certificate=certificate,
        credentials=credentials,
    )
    scheduler = controllers.scheduler_argv(
        Path("/ks"), kubeconfig=Path("/kc"), port=6, certificate=certificate
    )

    for argv, port in ((manager, 5), (scheduler, 6)):
        assert "--leader-elect=false" in argv
        assert "--bind-address=127.0.0.1" in argv
        assert f"--secure-port={port}" in argv
    assert "--use-service-account-credentials=true" in manager
    assert f"--service-account-private-key-file={credentials.service_account_key}" in manager
