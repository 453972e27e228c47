"""Pure parts of the launcher's ApiServerSource adapter glue (``controlplane.source_adapters``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from controlplane.source_adapters import CONTAINER, adapter_env, wanted

# An adapter Deployment as the ApiServerSource controller makes it (its
# resources.MakeReceiveAdapter), reduced to what the glue reads.
ADAPTER: dict[str, Any] = {
    "metadata": {
        "name": "apiserversource-models-0123",
        "namespace": "team",
        "uid": "u-1",
        "generation": 2,
        "labels": {"eventing.knative.dev/source": "apiserver-source-controller"},
    },
    "spec": {
        "template": {
            "spec": {
                "serviceAccountName": "kserve-notify-source",
                "containers": [
                    {
                        "name": CONTAINER,
                        "env": [
                            {"name": "K_SINK", "value": "http://broker-ingress/team/default"},
                            {"name": "K_SOURCE_CONFIG", "value": "{}"},
                            {
                                "name": "NAMESPACE",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                            },
                            {"name": "NAME", "value": "models"},
                        ],
                    }
                ],
            }
        }
    },
}


def test_an_adapter_deployment_gives_its_containers_environment_and_service_account() -> None:
    adapter = wanted(ADAPTER)

    assert (adapter.namespace, adapter.name, adapter.uid, adapter.generation) == (
        "team",
        "apiserversource-models-0123",
        "u-1",
        2,
    )
    assert adapter.service_account == "kserve-notify-source"
    assert adapter.env == {
        "K_SINK": "http://broker-ingress/team/default",
        "K_SOURCE_CONFIG": "{}",
        "NAMESPACE": "team",
        "NAME": "models",
    }


def test_a_deployment_without_the_adapter_container_is_no_adapter() -> None:
    other = {**ADAPTER, "spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}}

    with pytest.raises(StopIteration):
        wanted(other)


def test_the_glue_adds_its_kubeconfig_proxy_and_profiling_port_over_the_container() -> None:
    env = adapter_env(
        wanted(ADAPTER),
        base={"PATH": "/bin", "KUBECONFIG": "/home/me/.kube/config", "HTTP_PROXY": "corp"},
        kubeconfig_path=Path("/work/sa.kubeconfig"),
        proxy_url="http://127.0.0.1:7000",
        profiling_port=7001,
    )

    assert env["PATH"] == "/bin"
    assert env["K_SINK"] == "http://broker-ingress/team/default"
    assert env["KUBECONFIG"] == "/work/sa.kubeconfig"
    assert env["HTTP_PROXY"] == "http://127.0.0.1:7000"
    assert env["NO_PROXY"] == "127.0.0.1,localhost"
    assert env["PROFILING_PORT"] == "7001"
