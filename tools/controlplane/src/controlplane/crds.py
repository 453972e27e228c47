"""Install the project's third-party CRDs and wait until they are served.

The CRDs are the real upstream manifests (``../shared/crds/``): KServe,
Knative Serving and Eventing, Gateway API. They go in by server-side apply,
because the InferenceService CRD (about 2 MB) is too large for client-side
apply's last-applied annotation. ``install_documents`` applies others the
same way (the launcher's copy of kwok's ``Logs`` CRD).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controlplane.errors import ControlPlaneError

# The folders of ../shared/crds/ the project needs, each one upstream project.
CRD_FOLDERS = ("kserve", "knative-serving", "knative-eventing", "gateway-api")
FIELD_MANAGER = "kserve-functions-controlplane"


@dataclass(frozen=True)
class ServedResource:
    """The storage version of one CRD, where its objects can be listed."""

    name: str
    group: str
    version: str
    plural: str


def default_crd_dir(repo_root: Path) -> Path:
    """``../shared/crds`` beside the repository, where the project keeps them."""
    return repo_root.parent / "shared" / "crds"


def check_crd_dir(crd_dir: Path) -> None:
    """Fail early, before any process starts, when the CRD folder is unusable.

    Raises:
        ControlPlaneError: the folder or one of ``CRD_FOLDERS`` is missing.
    """
    if not crd_dir.is_dir():
        raise ControlPlaneError(
            f"CRD folder {crd_dir} does not exist: set CRD_DIR to the folder holding "
            f"{', '.join(CRD_FOLDERS)} (the project's ../shared/crds)"
        )
    missing = [name for name in CRD_FOLDERS if not (crd_dir / name).is_dir()]
    if missing:
        raise ControlPlaneError(
            f"CRD folder {crd_dir} lacks {', '.join(missing)}: set CRD_DIR to the folder "
            "holding the upstream CRDs (the project's ../shared/crds)"
        )


def load_crds(crd_dir: Path) -> Iterator[dict[str, Any]]:
    """Yield every CustomResourceDefinition document under the CRD folders."""
    for folder in CRD_FOLDERS:
        for path in sorted((crd_dir / folder).glob("*.yaml")):
            with path.open() as stream:
                for document in yaml.safe_load_all(stream):
                    if isinstance(document, dict) and (
                        document.get("kind") == "CustomResourceDefinition"
                    ):
                        yield document


def _storage_version(crd: Mapping[str, Any]) -> str:
    versions = crd["spec"]["versions"]
    for version in versions:
        if version.get("storage"):
            return str(version["name"])
    return str(versions[0]["name"])


def install(api_client: client.ApiClient, crd_dir: Path) -> list[ServedResource]:
    """Server-side apply every CRD under ``crd_dir``; return what to wait for.

    Raises:
        ControlPlaneError: the apiserver refused a CRD, or the folders hold none.
    """
    served = install_documents(api_client, load_crds(crd_dir))
    if not served:
        raise ControlPlaneError(f"no CustomResourceDefinition found under {crd_dir}")
    return served


def install_documents(
    api_client: client.ApiClient, documents: Iterable[dict[str, Any]]
) -> list[ServedResource]:
    """Server-side apply each CustomResourceDefinition of ``documents``; return what to wait for.

    Raises:
        ControlPlaneError: the apiserver refused a CRD.
    """
    extensions = client.ApiextensionsV1Api(api_client)
    served: list[ServedResource] = []
    for crd in documents:
        name = crd["metadata"]["name"]
        try:
            extensions.patch_custom_resource_definition(
                name,
                crd,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
            )
        except ApiException as e:
            raise ControlPlaneError(
                f"the apiserver refused CRD {name} ({e.status} {e.reason})",
                details=str(e.body)[:2000],
            ) from e
        served.append(
            ServedResource(
                name=name,
                group=crd["spec"]["group"],
                version=_storage_version(crd),
                plural=crd["spec"]["names"]["plural"],
            )
        )
    return served


def wait_served(
    api_client: client.ApiClient, resources: list[ServedResource], *, timeout: float
) -> None:
    """Return once objects of every resource can be listed.

    "Established" on the CRD is not enough: the apiserver's handler for a new
    CRD appears moments later, and a test's first request must not get 404.

    Raises:
        ControlPlaneError: some resource is still not served after ``timeout`` seconds.
    """
    custom = client.CustomObjectsApi(api_client)
    pending = list(resources)
    deadline = time.monotonic() + timeout
    while pending:
        still: list[ServedResource] = []
        for resource in pending:
            try:
                custom.list_cluster_custom_object(
                    resource.group, resource.version, resource.plural, limit=1
                )
            except ApiException as e:
                if e.status != 404:  # noqa: PLR2004 - "not served yet" is exactly 404
                    raise ControlPlaneError(
                        f"listing {resource.plural}.{resource.group} failed ({e.status} {e.reason})"
                    ) from e
                still.append(resource)
        pending = still
        if pending and time.monotonic() > deadline:
            names = ", ".join(r.name for r in pending)
            raise ControlPlaneError(f"CRDs not served within {timeout:.0f}s: {names}")
        if pending:
            time.sleep(0.1)
