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

CANARY_PREDICTOR_NAME = "canary"
"""``predictor.name`` of the project's Standard-mode canary (``spec.canary[0]``, KServe
v0.20): KServe names its Deployment and Service ``{model}-canary-predictor``."""

AUTO_PROMOTE_ANNOTATION = "kserve-functions.dev/auto-promote-after-seconds"
"""In the canary entry's ``predictor.annotations``: promote the canary once it has been
Ready this many seconds, abort it if its pods fail (the notify function decides)."""

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

CONTROLLER_REVISION = ApiResource(
    group="apps", version="v1", plural="controllerrevisions", kind="ControllerRevision"
)
"""A model's history (``history``): one ControllerRevision per change made through the API."""

REVISION_OF_LABEL = "kserve-functions.dev/revision-of"
"""On a model's ControllerRevisions: the model's name (how its history is listed)."""

REVISION_NUMBER_LABEL = "kserve-functions.dev/revision"
"""On a model's ControllerRevisions: the revision's number (how the oldest are pruned at once)."""

STOP_ANNOTATION = "serving.kserve.io/stop"
"""KServe's stop switch: ``"true"`` deletes the predictor's workloads and sets ``Stopped``."""


EVENT = ApiResource(group="events.k8s.io", version="v1", plural="events", kind="Event")
CORE_EVENT = ApiResource(group="", version="v1", plural="events", kind="Event")
"""Events as ``kubectl events`` lists them (the core group): what a caller of
``/events`` needs ``list`` on."""


@dataclass(frozen=True)
class Right:
    """One thing a function's own identity must be allowed to do: ``verb`` on
    ``resource`` (its ``subresource``, e.g. pods' ``log``), in every namespace."""

    verb: str
    resource: ApiResource = INFERENCE_SERVICE
    subresource: str | None = None

    def __str__(self) -> str:
        """As RBAC writes it: ``get pods/log``."""
        suffix = f"/{self.subresource}" if self.subresource else ""
        return f"{self.verb} {self.resource.plural}{suffix}"
