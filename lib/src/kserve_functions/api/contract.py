"""The API's contract, route by route: what each operation accepts and answers.

The OpenAPI document (``openapi.build_document``) is built from these
``Operation``s; the functions (``app``) attach them to their routes. A change
to what a route accepts or answers belongs here, next to its neighbours, so the
document stays exact.

Each parameter's schema is the one its parser enforces (``queries``,
``diagnostics``); each operation lists every problem status it can answer:

- 400: the request cannot be read (a malformed Content-Length, a query string
  that is not UTF-8, a body that is not JSON), or the cluster refused a value
  it alone checks (a continue token it did not hand out);
- 401 and 403: with authentication on, no valid token, or no right;
- 404: no such model (path parameters that cannot name one included);
- 413: a body over ``MAX_BODY_BYTES``, on any route (the body is read first);
- 415: a body that is not JSON, on routes that read one;
- 422: a parameter or body that is well-formed but invalid, naming each field;
- 503: the cluster cannot be reached (or the function is not configured),
  with ``Retry-After``.

Never 500: a failure inside the service is a bug, and the contract fuzz test
(schemathesis) fails on one. OpenAPI cannot say that one parameter excludes
another; the descriptions say so where the server refuses a combination.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kserve_functions.api.routing import Link, Operation, QueryParameter
from kserve_functions.core.models import (
    Access,
    DeleteResponse,
    DeployRequest,
    DeployResponse,
    HealthResponse,
    ModelDetail,
    ModelEvents,
    ModelList,
    ModelManifest,
    ModelRevisions,
    ModelSummary,
    RollbackRequest,
)
from kserve_functions.core.resources import KSERVE_CONTAINER
from kserve_functions.http import queries
from kserve_functions.operations import diagnostics

_DRY_RUN = QueryParameter(
    "dryRun", "true: validate with the cluster, change nothing", queries.FLAG_SCHEMA
)
_WAIT = (
    QueryParameter(
        "wait",
        "true: answer when the operation completed or the timeout passed",
        queries.FLAG_SCHEMA,
    ),
    QueryParameter(
        "timeout",
        "seconds to wait with wait=true (checked without it too)",
        queries.timeout_schema,
    ),
)
_IDEMPOTENCY_KEY = QueryParameter(
    "Idempotency-Key",
    "the same key on a retried request marks the same revision, so it restarts the model once",
    queries.IDEMPOTENCY_KEY_SCHEMA,
    location="header",
)
# Where a model an answer names can be used next (the fuzz test's stateful phase
# follows these: deploy, then read, stop, roll back and delete what it deployed).
_MODEL = {"namespace": "$response.body#/namespace", "name": "$response.body#/name"}
_MODEL_LINKS: Mapping[str, Link] = {
    "GetModel": Link("getModel", _MODEL),
    "GetModelRevisions": Link("getModelRevisions", _MODEL),
    "GetModelEvents": Link("getModelEvents", _MODEL),
    "GetModelLogs": Link("getModelLogs", _MODEL),
    "StopModel": Link("stopModel", _MODEL),
    "ResumeModel": Link("resumeModel", _MODEL),
    "RollbackModel": Link("rollbackModel", _MODEL),
    "PromoteCanary": Link("promoteCanary", _MODEL),
    "AbortCanary": Link("abortCanary", _MODEL),
    "DeleteModel": Link("deleteModel", _MODEL),
}
DEPLOY = Operation(
    operation_id="deployModel",
    summary="Create or update a model (one server-side apply; every update restarts it)",
    request_body=DeployRequest,
    responses={200: DeployResponse, 201: DeployResponse, 202: DeployResponse},
    query=(_DRY_RUN, *_WAIT, _IDEMPOTENCY_KEY),
    # 404: the request's namespace does not exist.
    problems=(400, 401, 403, 404, 409, 413, 415, 422, 503),
    links=_MODEL_LINKS,
)
PROMOTE = Operation(
    operation_id="promoteCanary",
    summary="Make the model's canary its stable predictor at 100 % (a guarded patch)",
    responses={200: ModelDetail},
    query=(_DRY_RUN,),
    problems=(400, 401, 403, 404, 409, 413, 422, 503),
)
ABORT = Operation(
    operation_id="abortCanary",
    summary="Remove the model's canary, leaving the stable predictor as it is",
    responses={200: ModelDetail},
    query=(_DRY_RUN,),
    problems=(400, 401, 403, 404, 409, 413, 422, 503),
)
ROLLBACK = Operation(
    operation_id="rollbackModel",
    summary="Re-apply a revision's request (default: the previous one) as a new revision",
    request_body=RollbackRequest,
    # No body (or an empty one): the previous revision.
    request_body_required=False,
    # 201: the model was deleted between reading its history and the apply, which
    # created it again.
    responses={200: DeployResponse, 201: DeployResponse, 202: DeployResponse},
    query=(_DRY_RUN, *_WAIT, _IDEMPOTENCY_KEY),
    problems=(400, 401, 403, 404, 409, 413, 415, 422, 503),
)
STOP = Operation(
    operation_id="stopModel",
    summary="Stop the model (serving.kserve.io/stop): KServe removes its pods, keeps the model",
    responses={200: ModelSummary, 202: ModelSummary},
    query=_WAIT,
    problems=(400, 401, 403, 404, 413, 422, 503),
)
RESUME = Operation(
    operation_id="resumeModel",
    summary="Resume a stopped model: KServe recreates its pods",
    responses={200: ModelSummary, 202: ModelSummary},
    query=_WAIT,
    problems=(400, 401, 403, 404, 413, 422, 503),
)
REVISIONS = Operation(
    operation_id="getModelRevisions",
    summary="The model's history: who changed it, when, how, and the request, newest first",
    responses={200: ModelRevisions},
    problems=(400, 401, 403, 404, 413, 503),
)
MANIFEST = Operation(
    operation_id="getModelManifest",
    summary="The model's InferenceService as the cluster stores it (without managedFields)",
    responses={200: ModelManifest},
    problems=(400, 401, 403, 404, 413, 503),
)
ACCESS = Operation(
    operation_id="getAccess",
    summary="Who the caller is, the namespaces they may list and, with namespace, "
    "which actions RBAC allows them there (and why not)",
    responses={200: Access},
    query=(
        QueryParameter(
            "namespace",
            "the namespace whose actions to check (none: only the caller and namespaces)",
            queries.MODEL_NAMESPACE_SCHEMA,
        ),
    ),
    # Refusals are answers here (ActionAccess.reason), never a 403.
    problems=(400, 401, 413, 422, 503),
)
_WATCH = QueryParameter(
    "watch",
    "true: a text/event-stream of what the API reports, from now on (resume with the "
    "Last-Event-ID header, an id the stream sent; 400 otherwise); the caller also needs watch",
    queries.FLAG_SCHEMA,
)
_STREAM = {
    200: {
        "text/event-stream": "with watch=true: Server-Sent Events model, deleted, synced, "
        "resync, error; each id is a resourceVersion"
    }
}
# One event of a watch stream (``streams``): in OpenAPI 3.1, the schema of a
# text/event-stream describes each event, as a reader of the stream parses it.
STREAM_EVENT: Mapping[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["model", "deleted", "synced", "resync", "error"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "model: the model's summary (ModelSummary); deleted: its namespace "
            "and name; synced, resync: {}; error: a Problem, and the stream ends",
        },
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}
LIST = Operation(
    operation_id="listModels",
    summary="List models of a namespace, or of all (namespace=*)",
    responses={200: ModelList},
    query=(
        QueryParameter("namespace", "a namespace, or * for all", queries.NAMESPACE_SCHEMA),
        QueryParameter(
            "labelSelector",
            "a Kubernetes label selector: requirements joined by ',' (key, !key, key=value, "
            "key!=value, key in (a, b), key notin (a), key>N, key<N)",
            queries.LABEL_SELECTOR_SCHEMA,
        ),
        QueryParameter(
            "limit",
            "page size; the answer then carries continue (not with watch=true: 422)",
            queries.bounded_schema(queries.MAX_LIST_LIMIT),
        ),
        QueryParameter(
            "continue",
            "the continue token of the previous page, as it was answered (400 for one the "
            "server did not hand out, 410 once expired; not with watch=true: 422)",
            queries.CONTINUE_SCHEMA,
        ),
        _WATCH,
    ),
    problems=(400, 401, 403, 410, 413, 422, 503),
    text=_STREAM,
    text_schemas={"text/event-stream": STREAM_EVENT},
    links={
        "NextPage": Link(
            "listModels",
            {
                "continue": "$response.body#/continue",
                "namespace": "$request.query.namespace",
                "labelSelector": "$request.query.labelSelector",
                "limit": "$request.query.limit",
            },
            "the next page of the same list",
        )
    },
)
GET = Operation(
    operation_id="getModel",
    summary="A model's detail: conditions, revisions, traffic, model status",
    responses={200: ModelDetail},
    query=(_WATCH,),
    problems=(400, 401, 403, 404, 413, 422, 503),
    text=_STREAM,
    text_schemas={"text/event-stream": STREAM_EVENT},
)
LOGS = Operation(
    operation_id="getModelLogs",
    summary="A container's log from the model's newest pod (the caller needs pods/log get)",
    responses={},
    query=(
        QueryParameter(
            "container",
            "the container",
            {**queries.CONTAINER_SCHEMA, "default": KSERVE_CONTAINER},
        ),
        QueryParameter(
            "pod",
            "one of the model's pods (default: the newest; 404 if not one of them)",
            queries.POD_SCHEMA,
        ),
        QueryParameter(
            "tailLines",
            "the last lines only",
            queries.bounded_schema(diagnostics.MAX_TAIL_LINES),
        ),
        QueryParameter(
            "sinceSeconds",
            "lines of the last seconds only",
            queries.bounded_schema(diagnostics.MAX_SINCE_SECONDS),
        ),
        QueryParameter(
            "follow", "true: stream lines as the container writes them", queries.FLAG_SCHEMA
        ),
        QueryParameter(
            "previous", "true: the log of the previous (crashed) container", queries.FLAG_SCHEMA
        ),
    ),
    # 409: the model has no pod yet, or its container no log yet.
    problems=(400, 401, 403, 404, 409, 413, 422, 503),
    text={200: {"text/plain": "the container's log, as the kubelet keeps it"}},
    headers={200: {"X-Pod": "the pod read", "X-Container": "the container read"}},
)
EVENTS = Operation(
    operation_id="getModelEvents",
    summary="Kubernetes Events of the model, its Deployment, ReplicaSets and Pods, newest first",
    responses={200: ModelEvents},
    query=(
        QueryParameter(
            "limit",
            "at most this many",
            queries.bounded_schema(diagnostics.MAX_EVENTS, default=diagnostics.DEFAULT_EVENTS),
        ),
    ),
    problems=(400, 401, 403, 404, 413, 422, 503),
)
DELETE = Operation(
    operation_id="deleteModel",
    summary="Delete a model",
    responses={200: DeleteResponse, 202: DeleteResponse},
    query=_WAIT,
    problems=(400, 401, 403, 404, 413, 422, 503),
)
# Open in every auth mode: it reports only the function's own reachability and
# rights, nothing about models. Its 503 is a HealthResponse, or a problem while
# the function is not configured.
HEALTH = Operation(
    operation_id="health",
    summary="Whether this function can reach the cluster and do its work (no auth needed)",
    responses={200: HealthResponse, 503: HealthResponse},
    problems=(400, 413, 503),
)
