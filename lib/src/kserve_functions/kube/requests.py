"""Every request the project makes to the apiserver, built as a plain value.

Pure: no client, no I/O. Each builder returns a ``KubeRequest`` (method, path,
query, body, content type, and what it touches, for error messages), so a unit
test can assert the exact request an operation sends, and the least-privilege
test can replay the same values as each function's ServiceAccount. One sender
(``kube.transport``) turns them into HTTP. Learnt from lightkube's
``BasicRequest`` and kopf's ``Resource.get_url``: the URL comes from the
resource's coordinates, never from positional client arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

from kserve_functions.core import fields, merging
from kserve_functions.core.resources import (
    CONTROLLER_REVISION,
    CUSTOM_RESOURCE_DEFINITION,
    DEPLOYMENT,
    EVENT,
    INFERENCE_SERVICE,
    KSERVE_CONTAINER,
    MODEL_LABEL,
    NAMESPACE,
    POD,
    REVISION_NUMBER_LABEL,
    REVISION_OF_LABEL,
    STOP_ANNOTATION,
    ApiResource,
)

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"
FIELD_MANAGER = "kserve-functions"
"""Who owns the fields a deploy sets (server-side apply)."""

NOTIFY_FIELD_MANAGER = "kserve-functions-notify"
"""Who writes the notify function's record of the events it sent. Not ``FIELD_MANAGER``:
a deploy's forced apply then never owns the record, so never removes it."""

ADMISSION_PROBE_NAME = "kserve-functions-admission-probe"
"""The InferenceService ``admission_probe`` dry-runs (GET /health): never stored."""
ADMISSION_PROBE_IMAGE = "kserve-functions/admission-probe:1"

Query = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KubeRequest:
    """One apiserver call as data.

    ``path`` is the URL path below the apiserver's address; ``query`` the
    parameters in order; ``body`` a JSON-serialisable value (None: no body),
    sent as ``content_type``. ``what`` names what the call reads or writes,
    for the error a failure becomes. ``watch_seconds`` is the server-side
    duration of a watch (0 for a plain call), which the sender adds to its
    own timeout. The body is left out of ``repr``: a TokenReview's holds a token.
    """

    method: str
    path: str
    what: str
    query: Query = ()
    body: object = field(default=None, repr=False)
    content_type: str = JSON
    watch_seconds: int = 0

    @property
    def is_watch(self) -> bool:
        """Whether the answer is a stream of watch events rather than one object."""
        return ("watch", "true") in self.query


_VERBS = {"POST": "create", "PATCH": "patch", "PUT": "update"}


def verb_and_resource(request: KubeRequest) -> tuple[str, str]:
    """The Kubernetes verb and resource of ``request``, as metrics label it.

    The resource is the plural (``inferenceservices``; with its subresource:
    ``pods/log``) or ``version``; the verb as RBAC names it (a GET of a
    collection is ``list``, or ``watch`` with ``watch=true``; a DELETE of one is
    ``delete``, of a collection ``deletecollection``). Both come from the
    path's shape, never its names, so they take few values.
    """
    return _verb_and_resource(request.method, request.path, request.is_watch)


# Every apiserver call asks (for its metrics): the recent paths' answers are kept, as
# a function calls the same few paths again and again (its models, its lists).
@functools.lru_cache(maxsize=1024)
def _verb_and_resource(method: str, path: str, is_watch: bool) -> tuple[str, str]:
    segments = [s for s in path.split("/") if s]
    if segments[:1] == ["api"]:
        rest = segments[2:]  # /api/v1/...
    elif segments[:1] == ["apis"]:
        rest = segments[3:]  # /apis/<group>/<version>/...
    else:
        return method.lower(), segments[0] if segments else "root"
    if len(rest) > 2 and rest[0] == "namespaces":  # noqa: PLR2004 - namespaces/<ns>/...
        rest = rest[2:]
    if not rest:
        return method.lower(), "root"
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")  # noqa: PLR2004
    named = len(rest) > 1
    if method == "GET":
        verb = "get" if named else ("watch" if is_watch else "list")
    elif method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return verb, resource


def resource_path(
    resource: ApiResource, namespace: str | None = None, name: str | None = None
) -> str:
    """The URL path of ``resource``'s collection (``name`` None) or of one object.

    ``namespace`` None addresses a namespaced resource across all namespaces.
    Path segments are percent-encoded, so no value can change the path's shape.
    """
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    if resource.namespaced and namespace is not None:
        prefix += f"/namespaces/{quote(namespace, safe='')}"
    path = f"{prefix}/{resource.plural}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


def _model(namespace: str, name: str) -> str:
    return f"model {namespace}/{name}"


def _dry_run(dry_run: bool) -> Query:
    return (("dryRun", "All"),) if dry_run else ()


# -- InferenceServices ---------------------------------------------------------


def apply_model(manifest: Mapping[str, Any], *, dry_run: bool) -> KubeRequest:
    """Server-side apply of an InferenceService manifest, forcing our field ownership.

    One round trip that creates or updates (201 or 200); ``force`` takes over
    fields another manager set, because the API's request is the desired state.

    ``fieldValidation=Ignore``: the apiserver's default (``Warn``) refuses
    nothing either; it only re-reads the body strictly, for duplicate and
    unknown fields, and names them in a Warning header no one here reads. A
    body from ``manifests`` has neither (a dict has no duplicate keys;
    ``DeployRequest`` refuses unknown fields with 422 before anything is sent,
    and the builder's output is checked against KServe's CRD schema), so the
    check is a second, strict YAML decode of every apply for nothing (profiled:
    0.13 ms of the apply's 6 ms of apiserver CPU, about 0.4 ms with its garbage).
    """
    metadata = manifest["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    return KubeRequest(
        "PATCH",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        query=(
            ("fieldManager", FIELD_MANAGER),
            ("force", "true"),
            ("fieldValidation", "Ignore"),
            *_dry_run(dry_run),
        ),
        body=dict(manifest),
        content_type=APPLY_PATCH,
    )


def get_model(namespace: str, name: str) -> KubeRequest:
    """Read one InferenceService."""
    return KubeRequest(
        "GET", resource_path(INFERENCE_SERVICE, namespace, name), _model(namespace, name)
    )


def list_objects(
    resource: ApiResource,
    namespace: str | None,
    *,
    limit: int,
    continue_token: str | None,
    label_selector: str | None = None,
    name: str | None = None,
    what: str,
    from_cache: bool = False,
) -> KubeRequest:
    """One page of ``resource``'s objects (``namespace`` None: every namespace).

    ``name`` narrows it to one object by field selector (the re-list of a watched one).
    ``from_cache``: ``resourceVersion=0``, the apiserver's watch cache as it is, for
    reads that may lag a moment. Without it the list is consistent, and since
    Kubernetes 1.31 the apiserver serves that from its cache too, once the cache
    has caught up with etcd's newest revision: after a write to anything else, a
    consistent list of a resource that did not change waits for etcd's next
    progress notification (measured here: 60-100 ms, against 1-2 ms with
    ``resourceVersion=0``). The watch cache may ignore ``limit``.
    """
    query: Query = (("limit", str(limit)),)
    if from_cache:
        query += (("resourceVersion", "0"),)
    if name is not None:
        query += (("fieldSelector", f"metadata.name={name}"),)
    if label_selector:
        query += (("labelSelector", label_selector),)
    if continue_token:
        query += (("continue", continue_token),)
    return KubeRequest("GET", resource_path(resource, namespace), what, query=query)


def list_models(
    namespace: str | None,
    *,
    label_selector: str | None,
    limit: int,
    continue_token: str | None,
    name: str | None = None,
) -> KubeRequest:
    """One page of InferenceServices (``list_objects``)."""
    return list_objects(
        INFERENCE_SERVICE,
        namespace,
        limit=limit,
        continue_token=continue_token,
        label_selector=label_selector,
        name=name,
        what="the model list",
    )


def watch_objects(
    resource: ApiResource,
    namespace: str | None,
    *,
    resource_version: str,
    timeout_seconds: int,
    name: str | None = None,
    label_selector: str | None = None,
    what: str,
) -> KubeRequest:
    """Watch ``resource``'s objects from ``resource_version`` for ``timeout_seconds``.

    With bookmarks, so a quiet watch still learns how far the apiserver got;
    ``name`` narrows it to one object by field selector.
    """
    query: Query = (
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", resource_version),
        ("timeoutSeconds", str(timeout_seconds)),
    )
    if name is not None:
        query += (("fieldSelector", f"metadata.name={name}"),)
    if label_selector:
        query += (("labelSelector", label_selector),)
    return KubeRequest(
        "GET", resource_path(resource, namespace), what, query=query, watch_seconds=timeout_seconds
    )


def watch_models(
    namespace: str | None,
    *,
    resource_version: str,
    timeout_seconds: int,
    name: str | None = None,
    label_selector: str | None = None,
) -> KubeRequest:
    """Watch InferenceServices (``watch_objects``): one model by ``name``, or a selection."""
    what = (
        f"a watch of {_model(namespace, name)}"
        if namespace is not None and name is not None
        else "a watch of the models"
    )
    return watch_objects(
        INFERENCE_SERVICE,
        namespace,
        resource_version=resource_version,
        timeout_seconds=timeout_seconds,
        name=name,
        label_selector=label_selector,
        what=what,
    )


def stream_models(
    namespace: str | None, *, label_selector: str | None, timeout_seconds: int
) -> KubeRequest:
    """Every InferenceService as a watch's initial events, then one bookmark: a streamed list.

    Kubernetes' streaming list (``sendInitialEvents``): the apiserver sends each
    object from its watch cache, consistent as a list without ``resourceVersion``
    (``NotOlderThan`` the newest revision), and ends the initial events with a
    bookmark annotated ``k8s.io/initial-events-end``.
    """
    query: Query = (
        ("watch", "true"),
        ("sendInitialEvents", "true"),
        ("resourceVersionMatch", "NotOlderThan"),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", str(timeout_seconds)),
    )
    if label_selector:
        query += (("labelSelector", label_selector),)
    return KubeRequest(
        "GET",
        resource_path(INFERENCE_SERVICE, namespace),
        "the model list",
        query=query,
        watch_seconds=timeout_seconds,
    )


def replace_container_image(
    namespace: str,
    name: str,
    *,
    index: int,
    expected: str,
    image: str,
    annotations: Mapping[str, str] | None = None,
    has_annotations: bool = True,
) -> KubeRequest:
    """Point predictor container ``index`` at ``image``, only if it still runs ``expected``.

    A JSON patch whose ``test`` operation makes the apiserver refuse it (422)
    when the container changed meanwhile. (A server-side apply cannot do this:
    the containers list is atomic, so a partial apply would replace it whole.)
    ``annotations`` are set too, one key at a time when the object already has
    annotations (``has_annotations``), else as the new map.
    """
    path = f"/spec/predictor/containers/{index}/image"
    operations: list[dict[str, Any]] = [
        {"op": "test", "path": path, "value": expected},
        {"op": "replace", "path": path, "value": image},
    ]
    if annotations and has_annotations:
        operations += [
            {"op": "add", "path": f"/metadata/annotations/{pointer(key)}", "value": value}
            for key, value in annotations.items()
        ]
    elif annotations:
        operations.append(
            {"op": "add", "path": "/metadata/annotations", "value": dict(annotations)}
        )
    return KubeRequest(
        "PATCH",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        body=operations,
        content_type=JSON_PATCH,
    )


def pointer(key: str) -> str:
    """``key`` as one JSON Pointer segment (RFC 6901: ``~`` is ``~0``, ``/`` is ``~1``)."""
    return key.replace("~", "~0").replace("/", "~1")


def create_event(event: Mapping[str, Any]) -> KubeRequest:
    """Create an ``events.k8s.io/v1`` Event (``audit.event``) in its namespace."""
    namespace = str(event["metadata"]["namespace"])
    return KubeRequest(
        "POST",
        f"/apis/events.k8s.io/v1/namespaces/{quote(namespace, safe='')}/events",
        f"an Event in namespace {namespace}",
        body=dict(event),
    )


def patch_model_if_unchanged(
    namespace: str,
    name: str,
    *,
    generation: int,
    operations: Sequence[Mapping[str, Any]],
    dry_run: bool = False,
) -> KubeRequest:
    """Apply the JSON patch ``operations`` to a model, only if its spec is as it was read.

    The first operation ``test``s ``metadata.generation``, which the apiserver
    bumps on every change of the spec and on nothing else: the apiserver applies
    all operations or none, and refuses (422) when the spec changed since it was
    read at ``generation``, so of several writers deciding on the same spec (two
    promotes, a promote and a deploy) exactly one wins and none leaves a
    half-applied change. KServe's status writes do not count (a resourceVersion
    guard would fail on each of them while a model starts). Written as
    ``FIELD_MANAGER``, the deploy's field manager.
    """
    return KubeRequest(
        "PATCH",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        query=(("fieldManager", FIELD_MANAGER), *_dry_run(dry_run)),
        body=[
            {"op": "test", "path": "/metadata/generation", "value": generation},
            *(dict(operation) for operation in operations),
        ],
        content_type=JSON_PATCH,
    )


def adopt_updated_fields(model: Mapping[str, Any]) -> KubeRequest | None:
    """Hand the fields our JSON patches wrote to our server-side apply; None if none.

    A JSON patch is an update: the apiserver records what it changed under a
    ``FIELD_MANAGER`` entry with ``operation: Update``, apart from the deploy's
    ``Apply`` entry, and a later apply removes only what its own entry holds,
    so fields a promotion wrote (an env var, resources) would outlive the next
    deploy that leaves them out. This merges the Update entry's fields into the
    Apply entry and drops it, as ``kubectl``'s client-side-apply upgrade does,
    guarded by ``model``'s resourceVersion (a managedFields rewrite must not
    overwrite another writer's).
    """
    entries = [dict(entry) for entry in fields.items(model, "metadata", "managedFields")]
    ours = [
        index
        for index, entry in enumerate(entries)
        if entry.get("manager") == FIELD_MANAGER and not entry.get("subresource")
    ]
    update = next((i for i in ours if entries[i].get("operation") == "Update"), None)
    apply = next((i for i in ours if entries[i].get("operation") == "Apply"), None)
    if update is None or apply is None:
        return None
    entries[apply]["fieldsV1"] = merging.merged(
        fields.mapping(entries[apply], "fieldsV1"), fields.mapping(entries[update], "fieldsV1")
    )
    del entries[update]
    namespace, name = fields.namespaced_name(model)
    return KubeRequest(
        "PATCH",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        body=[
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": fields.get(model, "metadata", "resourceVersion"),
            },
            {"op": "replace", "path": "/metadata/managedFields", "value": entries},
        ],
        content_type=JSON_PATCH,
    )


def json_pointer(*segments: str) -> str:
    """The JSON pointer (RFC 6901) of ``segments``: ``~`` as ``~0``, ``/`` as ``~1``.

    An annotation key such as ``kserve-functions.dev/x`` is one segment.
    """
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


def annotate_model_if_unchanged(
    namespace: str,
    name: str,
    *,
    resource_version: str,
    key: str,
    value: str | None,
    annotations_present: bool,
) -> KubeRequest:
    """Set annotation ``key`` of a model to ``value`` (None: remove it), only if unchanged.

    A compare-and-swap: the JSON patch's ``test`` of ``metadata.resourceVersion``
    makes the apiserver refuse it (422) when the model changed since it was read
    at ``resource_version``, so of several writers deciding on the same read,
    one wins. A JSON patch ``add`` needs the parent map: without any annotation
    (``annotations_present`` False) the map is added whole. Removing assumes the
    key is there (the caller read it).
    """
    path = json_pointer("metadata", "annotations", key)
    change: dict[str, Any]
    if value is None:
        change = {"op": "remove", "path": path}
    elif annotations_present:
        change = {"op": "add", "path": path, "value": value}
    else:
        change = {
            "op": "add",
            "path": json_pointer("metadata", "annotations"),
            "value": {key: value},
        }
    return KubeRequest(
        "PATCH",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        query=(("fieldManager", NOTIFY_FIELD_MANAGER),),
        body=[
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            change,
        ],
        content_type=JSON_PATCH,
    )


def delete_model(namespace: str, name: str) -> KubeRequest:
    """Delete one InferenceService; the garbage collector removes what KServe made.

    ``Background`` (the apiserver's default for custom resources, stated so it
    cannot change under us): the model goes as soon as KServe's finalizer ran,
    its Deployment, Service and pods after it.
    """
    return KubeRequest(
        "DELETE",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"},
    )


def admission_probe(namespace: str) -> KubeRequest:
    """Dry-run create of a minimal InferenceService: does admission (KServe's webhooks) pass?"""
    probe = {
        "apiVersion": INFERENCE_SERVICE.api_version,
        "kind": INFERENCE_SERVICE.kind,
        "metadata": {"name": ADMISSION_PROBE_NAME, "namespace": namespace},
        "spec": {
            "predictor": {
                "containers": [{"name": KSERVE_CONTAINER, "image": ADMISSION_PROBE_IMAGE}]
            }
        },
    }
    return KubeRequest(
        "POST",
        resource_path(INFERENCE_SERVICE, namespace),
        f"a dry-run InferenceService {namespace}/{ADMISSION_PROBE_NAME}",
        query=_dry_run(True),
        body=probe,
    )


# -- what KServe made, and the cluster -----------------------------------------


def predictor_deployment_name(model: str) -> str:
    """The name of KServe's Standard-mode predictor Deployment of ``model``."""
    return f"{model}-predictor"


def get_predictor_deployment(namespace: str, model: str) -> KubeRequest:
    """Read KServe's Deployment ``<model>-predictor`` (Standard mode)."""
    name = predictor_deployment_name(model)
    return KubeRequest(
        "GET", resource_path(DEPLOYMENT, namespace, name), f"Deployment {namespace}/{name}"
    )


def list_predictor_deployment(namespace: str, model: str) -> KubeRequest:
    """The list holding just ``<model>-predictor`` (the re-list of its watch)."""
    name = predictor_deployment_name(model)
    return list_objects(
        DEPLOYMENT,
        namespace,
        limit=1,
        continue_token=None,
        name=name,
        what=f"Deployment {namespace}/{name}",
    )


def watch_predictor_deployment(
    namespace: str, model: str, *, resource_version: str, timeout_seconds: int
) -> KubeRequest:
    """Watch ``<model>-predictor``: a roll-out can finish with no change to the model."""
    name = predictor_deployment_name(model)
    return watch_objects(
        DEPLOYMENT,
        namespace,
        resource_version=resource_version,
        timeout_seconds=timeout_seconds,
        name=name,
        what=f"a watch of Deployment {namespace}/{name}",
    )


def list_model_pods(namespace: str, model: str, *, limit: int) -> KubeRequest:
    """The pods KServe made for ``model`` (its label), at most ``limit`` of them.

    From the watch cache (``list_objects``' ``from_cache``): a GET of the model
    shows its pods' state, which a few milliseconds of lag cannot mislead, and a
    consistent list would add up to 100 ms to every GET.
    """
    return list_objects(
        POD,
        namespace,
        limit=limit,
        continue_token=None,
        label_selector=f"{MODEL_LABEL}={model}",
        what=f"the pods of {_model(namespace, model)}",
        from_cache=True,
    )


def list_events(namespace: str, *, limit: int, continue_token: str | None) -> KubeRequest:
    """One page of the Events of ``namespace`` (``events.k8s.io/v1``)."""
    return list_objects(
        EVENT,
        namespace,
        limit=limit,
        continue_token=continue_token,
        what=f"the Events of namespace {namespace}",
    )


class LogOptions(TypedDict, total=False):
    """Which of a container's log to read (``pods/log``'s query); each may be left out."""

    # The last this many lines.
    tail_lines: int | None
    # The lines of the last this many seconds.
    since_seconds: int | None
    # Keep the answer open, adding lines as the container writes them.
    follow: bool
    # The log of the container's previous run (before its last restart).
    previous: bool
    # At most this many bytes (the kubelet cuts the log there).
    limit_bytes: int | None


def pod_log(
    namespace: str, pod: str, *, container: str, **options: Unpack[LogOptions]
) -> KubeRequest:
    """A container's log (``pods/log``): the kubelet's answer, passed through as text."""
    query: Query = (("container", container),)
    if (tail_lines := options.get("tail_lines")) is not None:
        query += (("tailLines", str(tail_lines)),)
    if (since_seconds := options.get("since_seconds")) is not None:
        query += (("sinceSeconds", str(since_seconds)),)
    if options.get("follow"):
        query += (("follow", "true"),)
    if options.get("previous"):
        query += (("previous", "true"),)
    if (limit_bytes := options.get("limit_bytes")) is not None:
        query += (("limitBytes", str(limit_bytes)),)
    return KubeRequest(
        "GET",
        resource_path(POD, namespace, pod) + "/log",
        f"the log of container {container} of pod {namespace}/{pod}",
        query=query,
    )


def list_namespaces(*, limit: int, continue_token: str | None) -> KubeRequest:
    """One page of namespaces."""
    query: Query = (("limit", str(limit)),)
    if continue_token:
        query += (("continue", continue_token),)
    return KubeRequest("GET", resource_path(NAMESPACE), "the namespace list", query=query)


CRD_NAME = f"{INFERENCE_SERVICE.plural}.{INFERENCE_SERVICE.group}"


def get_model_crd() -> KubeRequest:
    """Read the InferenceService CustomResourceDefinition."""
    return KubeRequest(
        "GET",
        resource_path(CUSTOM_RESOURCE_DEFINITION, name=CRD_NAME),
        f"CustomResourceDefinition {CRD_NAME}",
    )


def get_version() -> KubeRequest:
    """The apiserver's version (a cheap reachability check)."""
    return KubeRequest("GET", "/version", "the apiserver version")


# -- identities: reviews ---------------------------------------------------------

_AUTHORIZATION = "authorization.k8s.io/v1"


def _attributes(
    verb: str,
    namespace: str | None,
    resource: ApiResource = INFERENCE_SERVICE,
    subresource: str | None = None,
) -> dict[str, str]:
    attributes = {"group": resource.group, "resource": resource.plural, "verb": verb}
    if subresource:
        attributes["subresource"] = subresource
    if namespace:
        attributes["namespace"] = namespace
    return attributes


def self_access_review(
    verb: str,
    *,
    namespace: str | None = None,
    resource: ApiResource = INFERENCE_SERVICE,
    subresource: str | None = None,
) -> KubeRequest:
    """May this function's own identity ``verb`` ``resource`` (InferenceServices;
    ``subresource``, e.g. pods' ``log``) in ``namespace`` (None: every namespace)?

    Every authenticated identity may create a SelfSubjectAccessReview.
    """
    return KubeRequest(
        "POST",
        f"/apis/{_AUTHORIZATION}/selfsubjectaccessreviews",
        "a SelfSubjectAccessReview",
        body={
            "apiVersion": _AUTHORIZATION,
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": _attributes(verb, namespace, resource, subresource)},
        },
    )


def access_review(
    *,
    user: str,
    uid: str,
    groups: Sequence[str],
    extra: Mapping[str, Sequence[str]],
    verb: str,
    namespace: str,
    resource: ApiResource = INFERENCE_SERVICE,
    subresource: str | None = None,
) -> KubeRequest:
    """May this caller ``verb`` ``resource`` (InferenceServices; ``subresource``, e.g.
    pods' ``log``) in ``namespace`` ("" = cluster-wide)?

    A SubjectAccessReview for the caller's whole identity (user, uid, groups,
    extra), as the apiserver's own authorizer would see the caller.
    """
    attributes = _attributes(verb, namespace, resource, subresource)
    spec: dict[str, Any] = {"user": user, "resourceAttributes": attributes}
    if uid:
        spec["uid"] = uid
    if groups:
        spec["groups"] = list(groups)
    if extra:
        spec["extra"] = {key: list(values) for key, values in extra.items()}
    return KubeRequest(
        "POST",
        f"/apis/{_AUTHORIZATION}/subjectaccessreviews",
        "a SubjectAccessReview",
        body={"apiVersion": _AUTHORIZATION, "kind": "SubjectAccessReview", "spec": spec},
    )


def token_review(token: str, audiences: Sequence[str] | None) -> KubeRequest:
    """Who is behind ``token`` (``audiences`` None: the apiserver's own)?"""
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    return KubeRequest(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "a TokenReview",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
    )


# -- a model's history: ControllerRevisions --------------------------------------


def create_revision(revision: Mapping[str, Any]) -> KubeRequest:
    """Create a ControllerRevision (``history.revision``) in its namespace.

    A plain create: its name carries the revision number, so two writers that
    picked the same number meet as 409 AlreadyExists and one picks the next.
    """
    metadata = revision["metadata"]
    namespace, name = str(metadata["namespace"]), str(metadata["name"])
    return KubeRequest(
        "POST",
        resource_path(CONTROLLER_REVISION, namespace),
        f"ControllerRevision {namespace}/{name}",
        body=dict(revision),
    )


def list_revisions(
    namespace: str,
    model: str,
    *,
    limit: int = 500,
    continue_token: str | None = None,
    from_cache: bool = False,
) -> KubeRequest:
    """One page of ``model``'s ControllerRevisions, by the project's label.

    ``from_cache``: from the watch cache (``list_objects``), for a writer whose
    create fails on a number already taken and then re-reads consistently.
    """
    return list_objects(
        CONTROLLER_REVISION,
        namespace,
        limit=limit,
        continue_token=continue_token,
        label_selector=f"{REVISION_OF_LABEL}={model}",
        what=f"the revisions of {_model(namespace, model)}",
        from_cache=from_cache,
    )


def list_namespace_revisions(
    namespace: str, *, limit: int = 500, continue_token: str | None = None
) -> KubeRequest:
    """One page of every model's ControllerRevisions in ``namespace`` (the project's label).

    For a writer about to record changes of many models there: the apiserver
    filters a label selector by scanning every revision of the namespace, so
    one such list costs what a list of one model's revisions costs.
    """
    return list_objects(
        CONTROLLER_REVISION,
        namespace,
        limit=limit,
        continue_token=continue_token,
        label_selector=REVISION_OF_LABEL,
        what=f"the revisions of the models in namespace {namespace}",
    )


def delete_revision(namespace: str, name: str) -> KubeRequest:
    """Delete one ControllerRevision (pruning a model's oldest)."""
    return KubeRequest(
        "DELETE",
        resource_path(CONTROLLER_REVISION, namespace, name),
        f"ControllerRevision {namespace}/{name}",
    )


def delete_revisions(namespace: str, model: str, numbers: Collection[int]) -> KubeRequest:
    """Delete ``model``'s revisions ``numbers`` at once (pruning: a deletecollection).

    Selected by both labels (``REVISION_OF_LABEL`` and ``REVISION_NUMBER_LABEL``
    with ``in``): exactly those, never a revision written meanwhile.
    """
    listed = ",".join(str(n) for n in sorted(numbers))
    return KubeRequest(
        "DELETE",
        resource_path(CONTROLLER_REVISION, namespace),
        f"the revisions {listed} of {_model(namespace, model)}",
        query=(
            ("labelSelector", f"{REVISION_OF_LABEL}={model},{REVISION_NUMBER_LABEL} in ({listed})"),
        ),
    )


LIFECYCLE_FIELD_MANAGER = "kserve-functions-lifecycle"
"""Who owns ``serving.kserve.io/stop`` (stop and resume). Not ``FIELD_MANAGER``: a
deploy's forced apply never owned the key, so never removes it."""
MERGE_PATCH = "application/merge-patch+json"


def set_model_stopped(
    namespace: str, name: str, *, stopped: bool, annotations: Mapping[str, str]
) -> KubeRequest:
    """Set (``stopped``) or remove KServe's ``serving.kserve.io/stop: "true"``, and ``annotations``.

    A JSON merge patch, not an apply: it answers 404 for a missing model (an
    apply would create one), and ``null`` removes the key whoever set it.
    """
    changes: dict[str, str | None] = {**annotations, STOP_ANNOTATION: "true" if stopped else None}
    return KubeRequest(
        "PATCH",
        resource_path(INFERENCE_SERVICE, namespace, name),
        _model(namespace, name),
        query=(("fieldManager", LIFECYCLE_FIELD_MANAGER),),
        body={"metadata": {"annotations": changes}},
        content_type=MERGE_PATCH,
    )
