"""How the local cluster serves kwok pods' container logs (pure parts of ``controlplane``)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import yaml
from controlplane import kwok, pki, pod_logs
from controlplane.pod_logs import LogLine
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.UTC)
# The CRI log format, as the kubelet's reader (k8s.io/cri-client/pkg/logs) parses it.
CRI_LINE = re.compile(r"^(\S+) (stdout|stderr) F (.*)$")


def _logs_crd() -> dict[str, Any]:
    [crd] = kwok.crd_documents()
    return crd


def _schema_properties(schema: dict[str, Any], *path: str) -> set[str]:
    for key in path:
        schema = schema["properties"][key]
        schema = schema.get("items", schema)
    return set(schema["properties"])


def test_each_container_has_its_own_current_and_previous_file(tmp_path: Path) -> None:
    current = pod_logs.container_log_path(tmp_path, "ns", "pod-1", "kserve-container")
    previous = pod_logs.container_log_path(
        tmp_path, "ns", "pod-1", "kserve-container", previous=True
    )

    assert current == tmp_path / "ns" / "pod-1" / "kserve-container.log"
    assert previous == tmp_path / "ns" / "pod-1" / "kserve-container.previous.log"
    assert pod_logs.container_log_path(tmp_path, "ns", "pod-1", "queue-proxy") != current
    assert pod_logs.container_log_path(tmp_path, "other", "pod-1", "kserve-container") != current


def test_a_pods_logs_object_maps_every_container_to_its_files(tmp_path: Path) -> None:
    logs = pod_logs.logs_manifest(tmp_path, "ns", "pod-1", ["storage-initializer", "server"])

    assert logs["metadata"] == {"name": "pod-1", "namespace": "ns"}
    assert logs["spec"]["logs"] == [
        {
            "containers": [name],
            "logsFile": str(pod_logs.container_log_path(tmp_path, "ns", "pod-1", name)),
            "previousLogsFile": str(
                pod_logs.container_log_path(tmp_path, "ns", "pod-1", name, previous=True)
            ),
        }
        for name in ["storage-initializer", "server"]
    ]


def test_the_logs_object_is_of_the_crd_kwok_watches_and_uses_only_its_fields(
    tmp_path: Path,
) -> None:
    crd = _logs_crd()
    logs = pod_logs.logs_manifest(tmp_path, "ns", "pod-1", ["server"])
    [version] = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]

    assert crd["metadata"]["name"] == "logs.kwok.x-k8s.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert logs["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
    assert logs["kind"] == crd["spec"]["names"]["kind"] == kwok.LOGS_KIND
    assert set(logs["spec"]) <= _schema_properties(schema, "spec")
    for entry in logs["spec"]["logs"]:
        assert set(entry) <= _schema_properties(schema, "spec", "logs")


def test_every_container_defaults_to_an_empty_log_and_no_previous_one(tmp_path: Path) -> None:
    config = tmp_path / "kwok" / "cluster-logs.yaml"
    empty = tmp_path / "kwok" / "no-output.log"

    pod_logs.write_kwok_config(config, empty)

    [document] = list(yaml.safe_load_all(config.read_text()))
    assert document == {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        # No selector: every pod; no container list: every container.
        "metadata": {"name": pod_logs.CLUSTER_LOGS_NAME},
        "spec": {
            "logs": [
                {
                    "logsFile": str(empty),
                    "previousLogsFile": str(
                        tmp_path / "kwok" / "no-previous-run-of-this-container.log"
                    ),
                }
            ]
        },
    }
    assert empty.read_text() == ""
    # No previous run: kwok's answer to previous=true is that this file is missing.
    assert not (tmp_path / "kwok" / pod_logs.NO_PREVIOUS_RUN).exists()


def test_lines_are_written_in_the_cri_log_format() -> None:
    written = pod_logs.cri_lines(
        [
            "plain",
            LogLine("to stderr", stream="stderr"),
            LogLine("earlier", at=NOW - datetime.timedelta(hours=1)),
        ],
        now=NOW,
    )

    assert written == (
        "2026-03-04T05:06:07.890123Z stdout F plain\n"
        "2026-03-04T05:06:07.890123Z stderr F to stderr\n"
        "2026-03-04T04:06:07.890123Z stdout F earlier\n"
    )
    assert all(CRI_LINE.match(line) for line in written.splitlines())


def test_a_text_with_line_breaks_is_several_lines_of_one_time() -> None:
    written = pod_logs.cri_lines(["a\nb", "c\n", ""], now=NOW)

    parsed = [CRI_LINE.fullmatch(line) for line in written.splitlines()]
    assert [(m.group(1), m.group(3)) if m else None for m in parsed] == [
        ("2026-03-04T05:06:07.890123Z", "a"),
        ("2026-03-04T05:06:07.890123Z", "b"),
        ("2026-03-04T05:06:07.890123Z", "c"),
        # An empty text is one empty line, as a container may print.
        ("2026-03-04T05:06:07.890123Z", ""),
    ]


def test_timestamps_are_utc_whatever_the_zone_given() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))

    assert pod_logs.cri_timestamp(NOW.astimezone(plus_two)) == "2026-03-04T05:06:07.890123Z"
    assert pod_logs.cri_timestamp(NOW.replace(tzinfo=None)) == "2026-03-04T05:06:07.890123Z"


def test_the_apiserver_dials_kubelets_by_internal_ip_and_verifies_them() -> None:
    flags = kwok.apiserver_kubelet_flags(
        ca_cert=Path("/ca.crt"), client_cert=Path("/c.crt"), client_key=Path("/c.key")
    )

    assert flags == [
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-certificate-authority=/ca.crt",
        "--kubelet-client-certificate=/c.crt",
        "--kubelet-client-key=/c.key",
    ]


def test_the_readiness_probe_pod_skips_the_scheduler_and_mounts_no_token() -> None:
    probe = kwok.probe_pod_manifest("kwok-cpu-1")

    assert probe["metadata"] == {"name": kwok.PROBE_POD, "namespace": kwok.PROBE_NAMESPACE}
    assert probe["spec"]["nodeName"] == "kwok-cpu-1"
    assert probe["spec"]["automountServiceAccountToken"] is False


def test_the_apiservers_kubelet_client_certificate_is_of_the_ca_for_clients_only(
    tmp_path: Path,
) -> None:
    credentials = pki.write_credentials(tmp_path, users={"admin": []})

    issued = credentials.issue_client_certificate(
        tmp_path / "kubelet-client", "kube-apiserver-kubelet-client"
    )

    ca = x509.load_pem_x509_certificate(credentials.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "kube-apiserver-kubelet-client"
    )
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert issued.key.stat().st_mode & 0o077 == 0
