"""The API's contract, route by route: what each operation accepts and answers.

The OpenAPI document (``openapi.build_document``) is built from these
``Operation``s; the functions (``app``) attach them to their routes. A change
to what a route accepts or answers belongs here, next to its neighbours, so the
document stays exact.
"""

from __future__ import annotations

from kserve_functions.models import (
    DeleteResponse,
    DeployRequest,
    DeployResponse,
    HealthResponse,
    ModelDetail,
    ModelEvents,
    ModelList,
    ModelRevisions,
    ModelSummary,
    RollbackRequest,
)
from kserve_functions.routing import Operation, QueryParameter

_WAIT = (
    QueryParameter("wait", "true: answer when the operation completed or the timeout passed"),
    QueryParameter("timeout", "seconds to wait with wait=true", "number"),
)
DEPLOY = Operation(
    operation_id="deployModel",
    summary="Create or update a model (one server-side apply; every update restarts it)",
    request_body=DeployRequest,
    responses={200: DeployResponse, 201: DeployResponse, 202: DeployResponse},
    query=(QueryParameter("dryRun", "true: validate with the cluster, change nothing"), *_WAIT),
    problems=(400, 401, 403, 409, 413, 415, 422, 503),
)
PROMOTE = Operation(
    operation_id="promoteCanary",
    summary="Make the model's canary its stable predictor at 100 % (a guarded patch)",
    responses={200: ModelDetail},
    query=(QueryParameter("dryRun", "true: validate with the cluster, change nothing"),),
    problems=(401, 403, 404, 409, 422, 503),
)
ABORT = Operation(
    operation_id="abortCanary",
    summary="Remove the model's canary, leaving the stable predictor as it is",
    responses={200: ModelDetail},
    query=(QueryParameter("dryRun", "true: validate with the cluster, change nothing"),),
    problems=(401, 403, 404, 409, 422, 503),
)
ROLLBACK = Operation(
    operation_id="rollbackModel",
    summary="Re-apply a revision's request (default: the previous one) as a new revision",
    request_body=RollbackRequest,
    responses={200: DeployResponse, 202: DeployResponse},
    query=(QueryParameter("dryRun", "true: validate with the cluster, change nothing"), *_WAIT),
    problems=(400, 401, 403, 404, 409, 413, 415, 422, 503),
)
STOP = Operation(
    operation_id="stopModel",
    summary="Stop the model (serving.kserve.io/stop): KServe removes its pods, keeps the model",
    responses={200: ModelSummary, 202: ModelSummary},
    query=_WAIT,
    problems=(401, 403, 404, 422, 503),
)
RESUME = Operation(
    operation_id="resumeModel",
    summary="Resume a stopped model: KServe recreates its pods",
    responses={200: ModelSummary, 202: ModelSummary},
    query=_WAIT,
    problems=(401, 403, 404, 422, 503),
)
REVISIONS = Operation(
    operation_id="getModelRevisions",
    summary="The model's history: who changed it, when, how, and the request, newest first",
    responses={200: ModelRevisions},
    problems=(401, 403, 404, 503),
)
_WATCH = QueryParameter(
    "watch",
    "true: a text/event-stream of what the API reports, from now on (resume with "
    "Last-Event-ID); the caller also needs watch",
)
_STREAM = {
    200: {
        "text/event-stream": "with watch=true: Server-Sent Events model, deleted, synced, "
        "resync, error; each id is a resourceVersion"
    }
}
LIST = Operation(
    operation_id="listModels",
    summary="List models of a namespace, or of all (namespace=*)",
    responses={200: ModelList},
    query=(
        QueryParameter("namespace", "a namespace, or * for all (default: default)"),
        QueryParameter("labelSelector", "a Kubernetes label selector"),
        QueryParameter("limit", "page size; the answer then carries continue", "integer"),
        QueryParameter("continue", "the continue token of the previous page"),
        _WATCH,
    ),
    problems=(400, 401, 403, 410, 422, 503),
    text=_STREAM,
)
GET = Operation(
    operation_id="getModel",
    summary="A model's detail: conditions, revisions, traffic, model status",
    responses={200: ModelDetail},
    query=(_WATCH,),
    problems=(400, 401, 403, 404, 422, 503),
    text=_STREAM,
)
LOGS = Operation(
    operation_id="getModelLogs",
    summary="A container's log from the model's newest pod (the caller needs pods/log get)",
    responses={},
    query=(
        QueryParameter("container", "the container (default: kserve-container)"),
        QueryParameter("pod", "one of the model's pods (default: the newest)"),
        QueryParameter("tailLines", "the last lines only (1-100000)", "integer"),
        QueryParameter("sinceSeconds", "lines of the last seconds only (1-2592000)", "integer"),
        QueryParameter("follow", "true: stream lines as the container writes them"),
        QueryParameter("previous", "true: the log of the previous (crashed) container"),
    ),
    problems=(401, 403, 404, 409, 422, 503),
    text={200: {"text/plain": "the container's log, as the kubelet keeps it"}},
)
EVENTS = Operation(
    operation_id="getModelEvents",
    summary="Kubernetes Events of the model, its Deployment, ReplicaSets and Pods, newest first",
    responses={200: ModelEvents},
    query=(QueryParameter("limit", "at most this many (1-1000, default 100)", "integer"),),
    problems=(401, 403, 404, 422, 503),
)
DELETE = Operation(
    operation_id="deleteModel",
    summary="Delete a model",
    responses={200: DeleteResponse, 202: DeleteResponse},
    query=_WAIT,
    problems=(401, 403, 404, 503),
)
# Open in every auth mode: it reports only the function's own reachability and
# rights, nothing about models.
HEALTH = Operation(
    operation_id="health",
    summary="Whether this function can reach the cluster and do its work (no auth needed)",
    responses={200: HealthResponse, 503: HealthResponse},
)
