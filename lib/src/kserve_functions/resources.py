"""Coordinates of the Kubernetes resources this project reads and writes.

Kept in one place so the request builders (``kube.requests``), the manifest
builders and the RBAC manifests' tests cannot drift apart on a group, version
or plural.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiResource:
    """A resource type of the Kubernetes API: its group ("" = the core group), version,
    plural, kind, and whether its objects live in a namespace."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` field of an object of this type."""
        return f"{self.group}/{self.version}" if self.group else self.version


DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
"""KServe's annotation choosing Standard (raw Deployment), Knative or ModelMesh."""

KSERVE_CONTAINER = "kserve-container"
"""KServe recognises a custom predictor's serving container by this name."""

RESTART_TOKEN_ANNOTATION = "kserve-functions.dev/restart-token"  # noqa: S105 - a key, no secret
"""In ``spec.predictor.annotations``: a new value rolls a new revision. KServe
copies it into the predictor's pod template, where a roll-out can be matched
against the model's spec."""

STORAGE_URI_ENV = "STORAGE_URI"
"""KServe's storage initializer fetches a custom container's model from this env var
(the predictor has no storageUri field of its own outside ``model``)."""

INFERENCE_SERVICE = ApiResource(
    group="serving.kserve.io",
    version="v1beta1",
    plural="inferenceservices",
    kind="InferenceService",
)

DEPLOYMENT = ApiResource(group="apps", version="v1", plural="deployments", kind="Deployment")
"""KServe's Standard-mode predictor runs as the Deployment ``<model>-predictor``."""

POD = ApiResource(group="", version="v1", plural="pods", kind="Pod")

REPORTED_STATE_ANNOTATION = "kserve-functions.dev/reported-state"
"""In ``metadata.annotations``: the last status-change event the notify function sent
for the model (``transitions``). KServe copies a model's annotations onto its pods
unless its ``serviceAnnotationDisallowedList`` names them, so installations list
this key there: a change of it must not roll the model."""

MODEL_LABEL = "serving.kserve.io/inferenceservice"
"""KServe labels every object it makes for a model (pods included) with the model's name."""

NAMESPACE = ApiResource(
    group="", version="v1", plural="namespaces", kind="Namespace", namespaced=False
)

CUSTOM_RESOURCE_DEFINITION = ApiResource(
    group="apiextensions.k8s.io",
    version="v1",
    plural="customresourcedefinitions",
    kind="CustomResourceDefinition",
    namespaced=False,
)
