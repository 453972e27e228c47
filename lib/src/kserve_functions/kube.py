"""The one module that talks to the Kubernetes API.

Everything above it calls named operations (``apply``, ``get``, ``list_page``,
``delete``, ``can_i``, ``crd_served``, ``server_version``) and sees plain dicts
and the ``errors`` hierarchy, never the client's types or ``ApiException``.

It uses ``kubernetes.aio``, the asyncio port that ships inside the official
``kubernetes`` package (v37+), so no call blocks the event loop and no thread
pool is needed. The client is created on first use inside the running loop
(its aiohttp session must belong to that loop), from the configuration
``start`` validated: a kubeconfig file when ``KUBECONFIG`` names one, else the
in-cluster ServiceAccount, else ``~/.kube/config``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

import aiohttp
from kubernetes import client as sync_client
from kubernetes import config as sync_config
from kubernetes.aio import client, config, watch
from kubernetes.aio.client.exceptions import ApiException

from kserve_functions import errors
from kserve_functions.models import ValidationIssue
from kserve_functions.resources import INFERENCE_SERVICE, KSERVE_CONTAINER, CustomResource

FIELD_MANAGER = "kserve-functions"
APPLY_PATCH = "application/apply-patch+yaml"
CRD_NAME = f"{INFERENCE_SERVICE.plural}.{INFERENCE_SERVICE.group}"
# The InferenceService ``probe_admission`` dry-runs (GET /health): never stored.
ADMISSION_PROBE_NAME = "kserve-functions-admission-probe"
ADMISSION_PROBE_IMAGE = "kserve-functions/admission-probe:1"
# Kubernetes answers with a Status object whose message is for people; cap what
# we pass on, so a huge or odd body never floods a response or a log.
_MESSAGE_LIMIT = 500

_T = TypeVar("_T")


_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Page(Generic[_Item]):
    """One page of a list: the items, and the token for the next page ("" = last)."""

    items: list[_Item]
    continue_token: str


async def pages(
    fetch: Callable[[str | None], Awaitable[Page[_Item]]], *, continue_token: str | None = None
) -> AsyncIterator[Page[_Item]]:
    """Every page ``fetch`` returns, from ``continue_token`` on: the one continue-token loop.

    ``fetch`` gets the token of the page to read (None for the first) and
    returns it. Pages are read one at a time, as the caller asks for them, so a
    list of any length stays one page in memory.
    """
    token = continue_token
    while True:
        page = await fetch(token)
        yield page
        if not page.continue_token:
            return
        token = page.continue_token


@dataclass(frozen=True)
class Change:
    """One change a watch saw: ``ADDED``, ``MODIFIED`` or ``DELETED``, and the object."""

    type: str
    object: dict[str, Any]


@dataclass(frozen=True)
class Caller:
    """An identity a TokenReview vouched for (never the token itself)."""

    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


class KubeConfigError(Exception):
    """The Kubernetes client configuration cannot be loaded."""


def check_configuration(kubeconfig: str | None) -> str:
    """Validate the client configuration without any network call; describe it.

    Runs in ``start`` (synchronously, as func-python calls it) so a broken
    configuration fails readiness at once instead of the first request.

    Raises:
        KubeConfigError: naming the kubeconfig or in-cluster problem.
    """
    # A throw-away configuration object: loading must not touch the client's global default.
    scratch = sync_client.Configuration()
    try:
        if kubeconfig:
            sync_config.load_kube_config(
                config_file=kubeconfig, client_configuration=scratch, persist_config=False
            )
            return f"kubeconfig {kubeconfig}"
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            sync_config.load_incluster_config(client_configuration=scratch)
            return "in-cluster ServiceAccount"
        sync_config.load_kube_config(client_configuration=scratch, persist_config=False)
    except (sync_config.ConfigException, OSError, ValueError) as e:
        where = kubeconfig or "the in-cluster ServiceAccount or ~/.kube/config"
        raise KubeConfigError(f"cannot load Kubernetes configuration from {where}: {e}") from e
    return "kubeconfig ~/.kube/config"


class Kube:
    """Named operations on InferenceServices and the cluster, with errors mapped."""

    def __init__(
        self,
        *,
        kubeconfig: str | None,
        timeout_seconds: float,
        resource: CustomResource = INFERENCE_SERVICE,
    ) -> None:
        self._kubeconfig = kubeconfig
        self._timeout = timeout_seconds
        self._resource = resource
        self._api_client: client.ApiClient | None = None
        self._connecting = asyncio.Lock()

    async def _client(self) -> client.ApiClient:
        if self._api_client is not None:
            return self._api_client
        async with self._connecting:
            if self._api_client is None:
                configuration = client.Configuration()
                try:
                    if self._kubeconfig:
                        await config.load_kube_config(
                            config_file=self._kubeconfig,
                            client_configuration=configuration,
                            persist_config=False,
                        )
                    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                        config.load_incluster_config(client_configuration=configuration)
                    else:
                        await config.load_kube_config(
                            client_configuration=configuration, persist_config=False
                        )
                except (config.ConfigException, OSError, ValueError) as e:
                    raise errors.Unavailable(
                        "the function cannot load its Kubernetes configuration"
                    ) from e
                self._api_client = client.ApiClient(configuration)
        return self._api_client

    async def close(self) -> None:
        """Release the HTTP session; the next call reconnects."""
        api_client, self._api_client = self._api_client, None
        if api_client is not None:
            await api_client.close()

    # -- InferenceServices ---------------------------------------------------

    async def apply(
        self, manifest: Mapping[str, Any], *, dry_run: bool
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply ``manifest``; return the object and whether it was created.

        One round trip, no read-modify-write race: the apiserver answers 201
        when the apply created the object and 200 when it updated it.

        Raises:
            errors.Invalid: the apiserver's schema refused it (422, fields named).
            errors.Conflict, errors.Forbidden, errors.Unavailable: as the apiserver answered.
        """
        metadata = manifest["metadata"]
        custom = client.CustomObjectsApi(await self._client())
        response = await self._call(
            custom.patch_namespaced_custom_object_with_http_info(
                self._resource.group,
                self._resource.version,
                metadata["namespace"],
                self._resource.plural,
                metadata["name"],
                dict(manifest),
                field_manager=FIELD_MANAGER,
                force=True,
                dry_run="All" if dry_run else None,
                _content_type=APPLY_PATCH,
                _request_timeout=self._timeout,
            ),
            what=f"model {metadata['namespace']}/{metadata['name']}",
        )
        # The generated client decodes the body of a 200 only; read the raw bytes.
        applied = json.loads(response.raw_data)
        return applied, response.status_code == 201  # noqa: PLR2004 - 201 Created

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        """The InferenceService ``namespace/name``.

        Raises:
            errors.NotFound: it does not exist.
        """
        custom = client.CustomObjectsApi(await self._client())
        found = await self._call(
            custom.get_namespaced_custom_object(
                self._resource.group,
                self._resource.version,
                namespace,
                self._resource.plural,
                name,
                _request_timeout=self._timeout,
            ),
            what=f"model {namespace}/{name}",
        )
        return _as_object(found)

    async def next_change(
        self, namespace: str, name: str, *, resource_version: str, timeout_seconds: int
    ) -> Change | None:
        """The model's first change after ``resource_version``, or None if none came.

        One watch (``fieldSelector=metadata.name=<name>``, with bookmarks) for at
        most ``timeout_seconds``; bookmarks only move it along. None also when
        the apiserver no longer has ``resource_version`` (410 Gone): the caller
        then reads the model again, which is what a re-list would do.

        Raises:
            errors.Unavailable: the watch could not be opened or broke off.
        """
        custom = client.CustomObjectsApi(await self._client())
        r = self._resource
        stream = watch.Watch().stream(
            custom.list_namespaced_custom_object,
            r.group,
            r.version,
            namespace,
            r.plural,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds,
            # The server ends the watch after timeout_seconds; the client waits a little longer.
            _request_timeout=timeout_seconds + self._timeout,
        )
        try:
            async with stream:
                async for event in stream:
                    kind = str(event.get("type", ""))
                    if kind in {"ADDED", "MODIFIED", "DELETED"}:
                        return Change(type=kind, object=_as_object(event.get("raw_object")))
        except ApiException as e:
            if e.status == 410:  # noqa: PLR2004 - the resourceVersion is too old
                return None
            _raise_for_status(e, what=f"a watch of model {namespace}/{name}")
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise errors.Unavailable(
                f"the Kubernetes API did not answer ({type(e).__name__}) while watching "
                f"model {namespace}/{name}"
            ) from e
        return None

    async def predictor_deployment(self, namespace: str, model: str) -> dict[str, Any] | None:
        """KServe's Deployment ``<model>-predictor`` (Standard mode), or None while absent.

        Read through the custom-objects API, which addresses any group's
        resources by path (``/apis/apps/v1/.../deployments/...``) and returns
        the JSON as sent, like the InferenceServices.

        Raises:
            errors.Forbidden: this function may not read Deployments there.
        """
        custom = client.CustomObjectsApi(await self._client())
        name = f"{model}-predictor"
        try:
            found = await self._call(
                custom.get_namespaced_custom_object(
                    "apps", "v1", namespace, "deployments", name, _request_timeout=self._timeout
                ),
                what=f"Deployment {namespace}/{name}",
            )
        except errors.NotFound:
            return None
        return _as_object(found)

    async def list_page(
        self,
        namespace: str | None,
        *,
        label_selector: str | None,
        limit: int,
        continue_token: str | None,
    ) -> Page[dict[str, Any]]:
        """One page of InferenceServices (``namespace`` None = all namespaces).

        Raises:
            errors.Invalid: the apiserver refused the selector or token.
        """
        custom = client.CustomObjectsApi(await self._client())
        options: dict[str, Any] = {
            "limit": limit,
            "_request_timeout": self._timeout,
        }
        if label_selector:
            options["label_selector"] = label_selector
        if continue_token:
            options["_continue"] = continue_token
        r = self._resource
        if namespace is None:
            listing = custom.list_cluster_custom_object(r.group, r.version, r.plural, **options)
        else:
            listing = custom.list_namespaced_custom_object(
                r.group, r.version, namespace, r.plural, **options
            )
        result = _as_object(await self._call(listing, what="the model list"))
        items = [item for item in result.get("items", []) if isinstance(item, dict)]
        token = str((result.get("metadata") or {}).get("continue") or "")
        return Page(items=items, continue_token=token)

    async def set_container_image(
        self, namespace: str, name: str, *, index: int, expected: str, image: str
    ) -> dict[str, Any]:
        """Point container ``index`` of the predictor at ``image``; return the object.

        A JSON patch whose ``test`` operations make it apply only if that container
        still runs ``expected``: a deploy racing the rollout wins, the rollout
        answers Conflict instead of overwriting it. (A server-side apply cannot
        do this: the containers list is atomic, so a partial apply would replace
        the whole list.)

        Raises:
            errors.NotFound: the model is gone.
            errors.Conflict: the container no longer runs ``expected``.
        """
        path = f"/spec/predictor/containers/{index}/image"
        patch = [
            {"op": "test", "path": path, "value": expected},
            {"op": "replace", "path": path, "value": image},
        ]
        custom = client.CustomObjectsApi(await self._client())
        what = f"model {namespace}/{name}"
        try:
            patched = await self._call(
                custom.patch_namespaced_custom_object(
                    self._resource.group,
                    self._resource.version,
                    namespace,
                    self._resource.plural,
                    name,
                    patch,
                    _content_type="application/json-patch+json",
                    _request_timeout=self._timeout,
                ),
                what=what,
            )
        except errors.Invalid as e:
            # A failed `test` operation comes back as 422.
            raise errors.Conflict(f"{what} changed its image meanwhile") from e
        return _as_object(patched)

    async def delete(self, namespace: str, name: str) -> None:
        """Delete the InferenceService ``namespace/name`` (foreground cascade left to KServe).

        Raises:
            errors.NotFound: it does not exist.
        """
        custom = client.CustomObjectsApi(await self._client())
        await self._call(
            custom.delete_namespaced_custom_object(
                self._resource.group,
                self._resource.version,
                namespace,
                self._resource.plural,
                name,
                _request_timeout=self._timeout,
            ),
            what=f"model {namespace}/{name}",
        )

    # -- the cluster and this function's identity ----------------------------

    async def server_version(self) -> str:
        """The apiserver's version string (a cheap reachability check)."""
        version = client.VersionApi(await self._client())
        info = await self._call(
            version.get_code(_request_timeout=self._timeout), what="the apiserver version"
        )
        return str(info.git_version)

    async def crd_served(self) -> bool:
        """Whether the InferenceService CRD is installed and serves our version.

        Raises:
            errors.Forbidden: this function may not read CRDs (health reports it).
        """
        extensions = client.ApiextensionsV1Api(await self._client())
        try:
            crd = await self._call(
                extensions.read_custom_resource_definition(
                    CRD_NAME, _request_timeout=self._timeout
                ),
                what=f"CustomResourceDefinition {CRD_NAME}",
            )
        except errors.NotFound:
            return False
        return any(
            version.name == self._resource.version and version.served
            for version in crd.spec.versions
        )

    async def probe_admission(self, namespace: str) -> None:
        """Dry-run create a minimal InferenceService in ``namespace``: does admission pass?

        A server-side dry run (``dryRun=All``) runs everything a deploy's create
        runs — schema, KServe's defaulting and validating webhooks (they declare
        ``sideEffects: None``) — and stores nothing. Returns when admitted, also
        when an object of the probe's name already exists: the apiserver looks
        the name up only after both admission phases passed (AlreadyExists, 409).

        Raises:
            errors.Unavailable: an admission webhook could not be called (the
                detail says KServe's webhooks do not answer, with the apiserver's
                message), or the apiserver did not answer.
            errors.NotFound: no such namespace, or InferenceServices are not
                served (the detail is the apiserver's message).
            errors.Invalid: KServe or the schema refused the probe.
            errors.Forbidden: this identity may not create InferenceServices there.
        """
        probe = {
            "apiVersion": self._resource.api_version,
            "kind": self._resource.kind,
            "metadata": {"name": ADMISSION_PROBE_NAME, "namespace": namespace},
            "spec": {
                "predictor": {
                    "containers": [{"name": KSERVE_CONTAINER, "image": ADMISSION_PROBE_IMAGE}]
                }
            },
        }
        custom = client.CustomObjectsApi(await self._client())
        what = f"a dry-run InferenceService {namespace}/{ADMISSION_PROBE_NAME}"
        try:
            await self._call(
                custom.create_namespaced_custom_object(
                    self._resource.group,
                    self._resource.version,
                    namespace,
                    self._resource.plural,
                    probe,
                    dry_run="All",
                    _request_timeout=self._timeout,
                ),
                what=what,
            )
        except errors.Conflict:
            return  # AlreadyExists: decided after admission passed (see above)
        except (errors.NotFound, errors.Unavailable) as e:
            # The general mapping says "not found" or "a webhook did not answer";
            # for a health check the apiserver's own words are the point.
            cause = e.__cause__
            if not isinstance(cause, ApiException):
                raise  # no answer at all (connection, timeout)
            message = str(_status_body(cause).get("message") or cause.reason or "")
            message = message[:_MESSAGE_LIMIT]
            if isinstance(e, errors.NotFound):
                raise errors.NotFound(f"cannot create {what}: {message}") from cause
            if _WEBHOOK_CALL_FAILURE in message:
                raise errors.Unavailable(
                    f"KServe's admission webhooks do not answer: {message}"
                ) from cause
            raise

    async def can_i(self, verb: str, *, namespace: str | None = None) -> bool:
        """Whether this function's own identity may ``verb`` InferenceServices.

        Uses a SelfSubjectAccessReview, which every authenticated identity may create.
        """
        authorization = client.AuthorizationV1Api(await self._client())
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    group=self._resource.group,
                    resource=self._resource.plural,
                    verb=verb,
                    namespace=namespace,
                )
            )
        )
        answer = await self._call(
            authorization.create_self_subject_access_review(review, _request_timeout=self._timeout),
            what="a SelfSubjectAccessReview",
        )
        return bool(answer.status and answer.status.allowed)

    # -- callers: TokenReview and SubjectAccessReview -------------------------

    async def review_token(self, token: str, audiences: Sequence[str] | None) -> Caller | None:
        """The identity behind ``token`` (TokenReview), or None when the cluster rejects it.

        ``audiences`` None means the apiserver's own audiences.
        """
        authentication = client.AuthenticationV1Api(await self._client())
        review = client.V1TokenReview(
            spec=client.V1TokenReviewSpec(
                token=token, audiences=list(audiences) if audiences else None
            )
        )
        answer = await self._call(
            authentication.create_token_review(review, _request_timeout=self._timeout),
            what="a TokenReview",
        )
        status = answer.status
        if status is None or not status.authenticated or status.user is None:
            return None
        user = status.user
        extra = tuple(sorted((str(k), tuple(v or ())) for k, v in (user.extra or {}).items()))
        return Caller(
            user=str(user.username or ""),
            uid=str(user.uid or ""),
            groups=tuple(user.groups or ()),
            extra=extra,
        )

    async def subject_can(self, caller: Caller, verb: str, namespace: str) -> bool:
        """Whether ``caller`` may ``verb`` InferenceServices in ``namespace`` ("" = cluster-wide).

        A SubjectAccessReview for the caller's user, uid, groups and extra.
        """
        authorization = client.AuthorizationV1Api(await self._client())
        review = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=caller.user,
                uid=caller.uid or None,
                groups=list(caller.groups) or None,
                extra={key: list(values) for key, values in caller.extra} or None,
                resource_attributes=client.V1ResourceAttributes(
                    group=self._resource.group,
                    resource=self._resource.plural,
                    verb=verb,
                    namespace=namespace or None,
                ),
            )
        )
        answer = await self._call(
            authorization.create_subject_access_review(review, _request_timeout=self._timeout),
            what="a SubjectAccessReview",
        )
        return bool(answer.status and answer.status.allowed)

    def model_pages(
        self,
        namespace: str | None,
        *,
        label_selector: str | None,
        page_size: int,
        continue_token: str | None = None,
    ) -> AsyncIterator[Page[dict[str, Any]]]:
        """Every page of InferenceServices from ``continue_token`` on (``pages``)."""

        def fetch(token: str | None) -> Awaitable[Page[dict[str, Any]]]:
            return self.list_page(
                namespace, label_selector=label_selector, limit=page_size, continue_token=token
            )

        return pages(fetch, continue_token=continue_token)

    def namespace_pages(self, *, page_size: int) -> AsyncIterator[Page[str]]:
        """Every page of namespace names (``pages``)."""
        return pages(lambda token: self.namespace_page(limit=page_size, continue_token=token))

    async def namespace_page(self, *, limit: int, continue_token: str | None) -> Page[str]:
        """One page of namespace names, and the token for the next page ("" = last)."""
        core = client.CoreV1Api(await self._client())
        options: dict[str, Any] = {"limit": limit, "_request_timeout": self._timeout}
        if continue_token:
            options["_continue"] = continue_token
        listing = await self._call(core.list_namespace(**options), what="the namespace list")
        names = [str(item.metadata.name) for item in listing.items or () if item.metadata]
        token = str((listing.metadata.var_continue if listing.metadata else None) or "")
        return Page(items=names, continue_token=token)

    # -- error mapping, in one place -----------------------------------------

    async def _call(self, call: Awaitable[_T], *, what: str) -> _T:
        try:
            return await call
        except ApiException as e:
            _raise_for_status(e, what=what)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise errors.Unavailable(
                f"the Kubernetes API did not answer ({type(e).__name__}) while reading "
                f"or writing {what}"
            ) from e


def _as_object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.Unavailable("the Kubernetes API answered with an unexpected body")
    return value


def _status_body(e: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(e.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# The apiserver's wording (k8s.io/apiserver admission webhook errors) for a
# webhook's refusal and for a webhook it could not call.
_ADMISSION_DENIAL = "denied the request"
_WEBHOOK_CALL_FAILURE = "failed calling webhook"
# Without a hint from the apiserver, how long a caller should wait to retry.
DEFAULT_RETRY_AFTER_SECONDS = 5

# The apiserver's status codes, each with the error the API reports and its
# detail, from the operation (``what``) and the apiserver's message. A status
# not listed (5xx, timeouts) is Unavailable: worth retrying.
_STATUS_ERRORS: dict[int, tuple[type[errors.ApiError], str]] = {
    400: (errors.BadRequest, "the cluster refused {what}: {message}"),
    401: (errors.Unavailable, "the Kubernetes API refused this service's credentials"),
    403: (errors.Forbidden, "this service's own identity may not access {what}: {message}"),
    404: (errors.NotFound, "{what} not found"),
    409: (errors.Conflict, "{what}: {message}"),
    410: (errors.Gone, "{what}: the continue token has expired; list again without it"),
    422: (errors.Invalid, "the cluster refused {what}: {message}"),
    429: (errors.Unavailable, "the Kubernetes API is throttling requests for {what}"),
}
_OTHER_STATUS: tuple[type[errors.ApiError], str] = (
    errors.Unavailable,
    "the Kubernetes API failed on {what} ({status})",
)


def map_status(status: int, body: Mapping[str, Any], *, what: str) -> errors.ApiError:
    """The API's error for an apiserver answer ``status`` with Status ``body``.

    Pure: the table above, plus two answers told apart by the apiserver's
    message, because their status codes mean something else too: a webhook's
    refusal (controller-runtime answers KServe's validation failures with 403,
    "admission webhook ... denied the request") is the request's fault, so
    Invalid; a webhook the apiserver could not call (any status, "failed
    calling webhook") is Unavailable, nothing having been written. Every
    Unavailable carries the apiserver's ``details.retryAfterSeconds`` when it
    gave one.
    """
    message = str(body.get("message") or "")[:_MESSAGE_LIMIT]
    found = body.get("details")
    details: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if status == 403 and _ADMISSION_DENIAL in message:  # noqa: PLR2004
        return errors.Invalid(f"KServe refused {what}: {message}")
    error_class: type[errors.ApiError]
    if _WEBHOOK_CALL_FAILURE in message:
        error_class = errors.Unavailable
        template = "an admission webhook did not answer for {what}; try again later: {message}"
    else:
        error_class, template = _STATUS_ERRORS.get(status, _OTHER_STATUS)
    detail = template.format(what=what, message=message, status=status)
    if issubclass(error_class, errors.Unavailable):
        hint = details.get("retryAfterSeconds")
        retry_after = hint if isinstance(hint, int) and hint > 0 else DEFAULT_RETRY_AFTER_SECONDS
        return errors.Unavailable(detail, retry_after_seconds=retry_after)
    causes = details.get("causes") if issubclass(error_class, errors.Invalid) else None
    issues = [
        ValidationIssue(
            field=str(cause.get("field") or ""),
            message=str(cause.get("message") or "")[:_MESSAGE_LIMIT],
        )
        for cause in causes or ()
        if isinstance(cause, Mapping)
    ]
    return error_class(detail, errors=issues)


def _raise_for_status(e: ApiException, *, what: str) -> NoReturn:
    """Raise ``map_status`` of an apiserver answer (chained for the log, never shown)."""
    body = _status_body(e)
    if not body.get("message") and e.reason:
        body = {**body, "message": e.reason}
    raise map_status(int(e.status or 0), body, what=what) from e
