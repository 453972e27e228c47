"""The seed's design, written the conventional way: the baseline the benches measure against.

One FastAPI service served by uvicorn that manages KServe InferenceServices
through the official synchronous ``kubernetes`` client, with exactly the API
of the service the project replaces (the seed):

- ``POST /deploy``: create the model, or update it: a GET, then a PUT of the
  whole object carrying the resourceVersion read (an annotation with the
  current time changes the pod template, so KServe restarts the pods and
  ``imagePullPolicy: Always`` pulls the image again);
- ``GET /models?namespace=default``: the namespace's models, each with its URL
  and whether it is Ready;
- ``GET /models/{namespace}/{name}``: one model with its spec and status;
- ``DELETE /models/{namespace}/{name}``;
- ``GET /health``.

Its handlers are synchronous, so FastAPI runs each in its thread pool, as the
seed's did. It is not part of the project: ``bench/contenders.py`` runs it from
a virtual environment of its own (``requirements.txt``, pinned) with ``PORT``
set, against the cluster of ``KUBECONFIG`` (in a pod: its ServiceAccount).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
# The seed's ingress domain: a model's URL is http://<name>.<namespace>.<DOMAIN>.
DOMAIN = "calvinruntime.net"
# Set to the time of each deploy, so that every deploy restarts the model's pods.
RESTARTED_AT_ANNOTATION = "kserve-api/restartedAt"


class DeployRequest(BaseModel):
    """The body of ``POST /deploy``: the model's name, image, environment and namespace."""

    name: str
    image: str
    envs: dict[str, str] | None = None
    namespace: str = "default"


def _custom_objects() -> client.CustomObjectsApi:
    """The client, configured in a pod by its ServiceAccount, elsewhere by the kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


api = _custom_objects()
app = FastAPI(title="KServe Model Management API")


def url_of(name: str, namespace: str) -> str:
    """The URL the seed reports for a model."""
    return f"http://{name}.{namespace}.{DOMAIN}"


def manifest(request: DeployRequest) -> dict[str, Any]:
    """The InferenceService a deploy writes: one predictor container running the image."""
    env = [{"name": key, "value": value} for key, value in (request.envs or {}).items()]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {
            "name": request.name,
            "namespace": request.namespace,
            "annotations": {RESTARTED_AT_ANNOTATION: datetime.now(UTC).isoformat()},
        },
        "spec": {
            "predictor": {
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": request.image,
                        "imagePullPolicy": "Always",
                        "env": env,
                    }
                ]
            }
        },
    }


def is_ready(obj: dict[str, Any]) -> bool:
    """Whether the InferenceService's ``Ready`` condition is ``True``."""
    for condition in obj.get("status", {}).get("conditions", []):
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _object(value: object) -> dict[str, Any]:
    """The JSON object the apiserver answered (the client types it as ``object``)."""
    if not isinstance(value, dict):
        raise TypeError(f"the apiserver answered {type(value).__name__}, not an object")
    return value


def _refused(error: ApiException) -> HTTPException:
    """The apiserver's refusal, passed on with its status and reason."""
    return HTTPException(status_code=error.status, detail=error.reason)


@app.post("/deploy")
def deploy(request: DeployRequest) -> dict[str, str]:
    """Create the model, or replace it: a GET, then a PUT with the resourceVersion read."""
    body = manifest(request)
    try:
        existing = _object(
            api.get_namespaced_custom_object(
                GROUP, VERSION, request.namespace, PLURAL, request.name
            )
        )
        body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        api.replace_namespaced_custom_object(
            GROUP, VERSION, request.namespace, PLURAL, request.name, body
        )
        action = "updated"
    except ApiException as e:
        if e.status != HTTPStatus.NOT_FOUND:
            raise _refused(e) from e
        api.create_namespaced_custom_object(GROUP, VERSION, request.namespace, PLURAL, body)
        action = "created"
    return {
        "name": request.name,
        "namespace": request.namespace,
        "action": action,
        "status": "success",
        "url": url_of(request.name, request.namespace),
    }


@app.get("/models")
def list_models(namespace: str = "default") -> dict[str, Any]:
    """The namespace's models, each with its URL and readiness."""
    listed = _object(api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    models = [
        {
            "name": item["metadata"]["name"],
            "namespace": namespace,
            "url": url_of(item["metadata"]["name"], namespace),
            "ready": is_ready(item),
        }
        for item in listed["items"]
    ]
    return {"models": models, "count": len(models)}


@app.get("/models/{namespace}/{name}")
def get_model(namespace: str, name: str) -> dict[str, Any]:
    """One model: its URL, readiness, spec and status."""
    try:
        obj = _object(api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
    except ApiException as e:
        raise _refused(e) from e
    return {
        "name": name,
        "namespace": namespace,
        "url": url_of(name, namespace),
        "ready": is_ready(obj),
        "spec": obj.get("spec"),
        "status": obj.get("status"),
    }


@app.delete("/models/{namespace}/{name}")
def delete_model(namespace: str, name: str) -> dict[str, str]:
    """Delete the model."""
    try:
        api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as e:
        raise _refused(e) from e
    return {"name": name, "namespace": namespace, "status": "deleted"}


@app.get("/health")
def health() -> dict[str, str]:
    """Always healthy while it serves."""
    return {"status": "healthy"}


def main() -> None:
    """Serve on 127.0.0.1, port ``PORT`` (8000 unless set)."""
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))


if __name__ == "__main__":
    main()
