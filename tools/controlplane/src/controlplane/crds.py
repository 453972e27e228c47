"""Install the project's third-party CRDs and wait until they are served.

The CRDs are the real upstream manifests, read from the Go modules the project
pins (``upstream``): KServe's from ``github.com/kserve/kserve``, the version
its controller is built from; Knative Serving's, Knative Eventing's and Gateway
API's from the modules ``gomod/upstream-crds/`` requires. ``UPSTREAM_CRDS``
names each file. ``CRD_DIR`` replaces them all with a folder of one subfolder
per upstream project (``CRD_FOLDERS``). They go in by server-side apply,
because the InferenceService CRD (about 2 MB) is too large for client-side
apply's last-applied annotation. ``install_documents`` applies others the same
way (the launcher's copy of kwok's ``Logs`` CRD).
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

from controlplane import upstream
from controlplane.errors import ControlPlaneError

FIELD_MANAGER = "kserve-functions-controlplane"
# libyaml's safe loader when PyYAML has it: the same documents, parsed five times
# faster (the InferenceService CRD: 0.6 s instead of 3.6 s on a loaded 2-core machine).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class UpstreamCrds:
    """One upstream project's CRDs the cluster installs: files of a pinned Go module.

    ``folder`` is the project's subfolder in a ``CRD_DIR``; ``files`` are paths
    inside ``module``'s tree, each one file of CRDs.
    """

    folder: str
    module: upstream.GoModule
    files: tuple[str, ...]


def _under(folder: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{folder}/{name}" for name in names)


# Every CRD the KServe controller watches (it logs errors without one), and of
# Knative Serving, Knative Eventing and Gateway API the kinds of the objects the
# project's manifests (k8s/), the API and the tests create or read, with the
# ones they refer to; each further CRD would only cost start-up time.
UPSTREAM_CRDS = (
    UpstreamCrds(
        "kserve",
        upstream.KSERVE,
        _under(
            "config/crd/full",
            "serving.kserve.io_clusterservingruntimes.yaml",
            "serving.kserve.io_inferencegraphs.yaml",
            "serving.kserve.io_inferenceservices.yaml",
            "serving.kserve.io_servingruntimes.yaml",
            "serving.kserve.io_trainedmodels.yaml",
            "clusterstoragecontainer/serving.kserve.io_clusterstoragecontainers.yaml",
            "localmodel/serving.kserve.io_localmodelcaches.yaml",
            "localmodel/serving.kserve.io_localmodelnamespacecaches.yaml",
            "localmodel/serving.kserve.io_localmodelnodegroups.yaml",
            "localmodel/serving.kserve.io_localmodelnodes.yaml",
        ),
    ),
    UpstreamCrds(
        "knative-serving",
        upstream.KNATIVE_SERVING,
        _under(
            "config/core/300-resources",
            "configuration.yaml",
            "domain-mapping.yaml",
            "revision.yaml",
            "route.yaml",
            "service.yaml",
        ),
    ),
    UpstreamCrds(
        "knative-eventing",
        upstream.KNATIVE_EVENTING,
        _under(
            "config/core/resources",
            "apiserversource.yaml",
            "broker.yaml",
            "containersource.yaml",
            "eventtype.yaml",
            "sinkbindings.yaml",
            "trigger.yaml",
        ),
    ),
    UpstreamCrds(
        "gateway-api",
        upstream.GATEWAY_API,
        _under(
            "config/crd/standard",
            "gateway.networking.k8s.io_gatewayclasses.yaml",
            "gateway.networking.k8s.io_gateways.yaml",
            "gateway.networking.k8s.io_httproutes.yaml",
            "gateway.networking.k8s.io_referencegrants.yaml",
        ),
    ),
)
# The subfolders of a CRD_DIR, one per upstream project.
CRD_FOLDERS = tuple(project.folder for project in UPSTREAM_CRDS)


@dataclass(frozen=True)
class ServedResource:
    """The storage version of one CRD, where its objects can be listed."""

    name: str
    group: str
    version: str
    plural: str


def crd_files(
    crd_dir: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, list[Path]]:
    """The files of CRDs to install, by upstream project (``CRD_FOLDERS``).

    ``crd_dir`` None (the default): the ``UPSTREAM_CRDS`` files in the Go module
    cache, each module downloaded first if it is not there yet. Otherwise every
    ``*.yaml`` of each project's subfolder of ``crd_dir`` (``CRD_DIR``).

    Raises:
        ControlPlaneError: a module cannot be downloaded or lacks a file, or
            ``crd_dir`` or one of its subfolders is missing.
    """
    if crd_dir is not None:
        check_crd_dir(crd_dir)
        return {folder: sorted((crd_dir / folder).glob("*.yaml")) for folder in CRD_FOLDERS}
    files: dict[str, list[Path]] = {}
    for project in UPSTREAM_CRDS:
        root = upstream.module_dir(project.module, environ=environ)
        missing = [name for name in project.files if not (root / name).is_file()]
        if missing:
            raise ControlPlaneError(
                f"Go module {project.module.path} {project.module.version()} has no "
                f"{', '.join(missing)}: its layout changed; update controlplane.crds."
                f"UPSTREAM_CRDS (or the version in {project.module.wrapper_dir / 'go.mod'})"
            )
        files[project.folder] = [root / name for name in project.files]
    return files


def crd_file(folder: str, name: str, crd_dir: Path | None = None) -> Path:
    """The file called ``name`` among ``folder``'s CRD files (``crd_files``).

    Raises:
        ControlPlaneError: as ``crd_files``, or ``folder`` has no file of that name.
    """
    for path in crd_files(crd_dir).get(folder, []):
        if path.name == name:
            return path
    raise ControlPlaneError(f"no CRD file {name} among the {folder} CRDs")


def check_crd_dir(crd_dir: Path) -> None:
    """Fail early, before any process starts, when a ``CRD_DIR`` folder is unusable.

    Raises:
        ControlPlaneError: the folder or one of ``CRD_FOLDERS`` is missing.
    """
    if not crd_dir.is_dir():
        raise ControlPlaneError(
            f"CRD folder {crd_dir} does not exist: set CRD_DIR to a folder holding "
            f"{', '.join(CRD_FOLDERS)}, or unset it to use the pinned Go modules' CRDs"
        )
    missing = [name for name in CRD_FOLDERS if not (crd_dir / name).is_dir()]
    if missing:
        raise ControlPlaneError(
            f"CRD folder {crd_dir} lacks {', '.join(missing)}: set CRD_DIR to a folder "
            "holding the upstream CRDs, or unset it to use the pinned Go modules' CRDs"
        )


def load_crds(crd_dir: Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield every CustomResourceDefinition document of ``crd_files(crd_dir)``."""
    for paths in crd_files(crd_dir).values():
        for path in paths:
            with path.open() as stream:
                for document in yaml.load_all(stream, Loader=_LOADER):
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


def install(api_client: client.ApiClient, crd_dir: Path | None = None) -> list[ServedResource]:
    """Server-side apply every CRD of ``crd_files(crd_dir)``; return what to wait for.

    Raises:
        ControlPlaneError: as ``crd_files``; the apiserver refused a CRD, or the
            files hold none.
    """
    served = install_documents(api_client, load_crds(crd_dir))
    if not served:
        where = crd_dir or "the pinned Go modules' CRD files"
        raise ControlPlaneError(f"no CustomResourceDefinition found in {where}")
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
