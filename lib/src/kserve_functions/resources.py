"""Coordinates of the Kubernetes resources this project manages.

Kept in one place so the client module, the manifest builders, the RBAC
manifests' tests and the test stand-in for the KServe controller cannot drift
apart on a group, version or plural.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CustomResource:
    """A namespaced custom resource type, as the custom-objects API addresses it."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` field of an object of this type."""
        return f"{self.group}/{self.version}"


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

INFERENCE_SERVICE = CustomResource(
    group="serving.kserve.io",
    version="v1beta1",
    plural="inferenceservices",
    kind="InferenceService",
)
