"""Who may call the API, and what they may do (DESIGN §6).

With ``AUTH_MODE=kubernetes`` every operation needs ``Authorization: Bearer
<token>``: the token is verified with a TokenReview (once per request, by the
function object before the route's handler: ``authenticated``, the open routes
such as ``/health`` excepted), and the exact operation is authorized with a
SubjectAccessReview for that caller on ``inferenceservices.serving.kserve.io``
in the target namespace. Both answers
are cached briefly (``AUTH_CACHE_TTL_SECONDS``, at most ``AUTH_CACHE_SIZE``
entries each), so steady traffic adds no apiserver round trips and a revoked
permission stops working within the TTL. Tokens are cached only by their
SHA-256 and never appear in a log line, an answer or an exception message.

Events (``EVENT_AUTH=oidc``) carry a Knative OIDC token for the function's
audience, verified and authorized the same way; ``EVENT_AUTH=trust-broker``
accepts events without one. Registry webhooks cannot carry Kubernetes tokens:
they are accepted with the shared secret in ``X-Registry-Secret``.

Allowlists (``ALLOWED_NAMESPACES``, ``ALLOWED_IMAGES``) apply in every mode,
before any write; ``allowlists`` decides them. The reviews are ``kube``'s named
operations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import cachetools

from kserve_functions.auth import allowlists, permissions
from kserve_functions.config import AuthMode, EventAuth, Settings
from kserve_functions.core import errors
from kserve_functions.core.models import DeployRequest
from kserve_functions.core.resources import INFERENCE_SERVICE, ApiResource
from kserve_functions.http.asgi import Request
from kserve_functions.kube import Caller, Kube
from kserve_functions.telemetry import metrics

log = logging.getLogger("kserve_functions")

RESOURCE = f"{INFERENCE_SERVICE.plural}.{INFERENCE_SERVICE.group}"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kserve-functions"'}
# SubjectAccessReviews in flight at once when filtering namespaces for namespace=*.
REVIEW_CONCURRENCY = 16


# -- pure decisions ------------------------------------------------------------


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


def token_key(token: str, audiences: Sequence[str] | None = None) -> str:
    """The cache key of a token (its SHA-256, with the audiences asked for): never the token."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape"))
    digest.update(b"\0" + "\0".join(audiences or ()).encode())
    return digest.hexdigest()


_T = TypeVar("_T")


async def _counted(kind: str, review: Awaitable[_T]) -> _T:
    """``review``'s answer; a review that failed (no answer) is counted as ``error``."""
    try:
        return await review
    except errors.ApiError:
        metrics.AUTH_REVIEWS.labels(kind, "error").inc()
        raise


# -- the authorizer ------------------------------------------------------------


class Authorizer:
    """Authentication and authorization of callers, with the reviews cached."""

    def __init__(
        self,
        settings: Settings,
        kube: Kube,
        *,
        audience: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._kube = kube
        self.event_audience = settings.event_audience or audience
        # LRU caches whose entries expire ``ttl`` seconds after they were stored, so
        # a revoked token or permission stops working within the TTL. cachetools is
        # not thread-safe; only the one event loop uses them.
        ttl, size = settings.auth_cache_ttl_seconds, settings.auth_cache_size
        # A token's caller, or None: a token the cluster refused stays refused for
        # the TTL too, so a client retrying a bad token costs no TokenReview each time.
        self._tokens: cachetools.TTLCache[str, Caller | None] = cachetools.TTLCache(
            maxsize=size, ttl=ttl, timer=clock
        )
        self._reviews: cachetools.TTLCache[tuple[object, ...], bool] = cachetools.TTLCache(
            maxsize=size, ttl=ttl, timer=clock
        )

    @property
    def enabled(self) -> bool:
        """Whether callers are authenticated (``AUTH_MODE=kubernetes``)."""
        return self._settings.auth_mode is AuthMode.KUBERNETES

    async def authenticate(
        self, request: Request, *, audiences: Sequence[str] | None = None
    ) -> Caller | None:
        """The caller of ``request``; None when authentication is off.

        Raises:
            errors.Unauthorized: no bearer token, or one the cluster does not accept.
        """
        if not self.enabled:
            return None
        token = bearer_token(request.header("authorization"))
        if token is None:
            raise errors.Unauthorized(
                "this operation needs an Authorization: Bearer <token> header "
                "with a Kubernetes token",
                headers=CHALLENGE,
            )
        key = token_key(token, audiences)
        try:
            caller = self._tokens[key]
            metrics.AUTH_CACHE_HITS.labels("token").inc()
        except KeyError:  # never stored, or expired (a stored None is a cached refusal)
            caller = await _counted("token", self._kube.review_token(token, audiences))
            metrics.AUTH_REVIEWS.labels("token", "denied" if caller is None else "allowed").inc()
            self._tokens[key] = caller
        if caller is None:
            log.info("refused a bearer token the cluster did not accept")
            raise errors.Unauthorized(
                "the bearer token was not accepted by the cluster", headers=CHALLENGE
            )
        return caller

    async def authenticated(self, request: Request) -> Request:
        """``request`` with its caller (``Request.caller``, from ``authenticate``);
        ``request`` itself when authentication is off.

        Raises:
            errors.Unauthorized: no bearer token, or one the cluster does not accept.
        """
        caller = await self.authenticate(request)
        return request if caller is None else dataclasses.replace(request, caller=caller)

    async def authenticate_event(self, request: Request) -> Caller | None:
        """The sender of an event: None when authentication is off or the broker is trusted.

        Raises:
            errors.Unauthorized: ``EVENT_AUTH=oidc`` and no valid token for our audience.
        """
        if not self.enabled or self._settings.event_auth is EventAuth.TRUST_BROKER:
            return None
        return await self.authenticate(request, audiences=[self.event_audience])

    def check_registry_secret(self, request: Request) -> None:
        """Accept a registry webhook only with the shared secret (``AUTH_MODE=kubernetes``).

        Raises:
            errors.Unauthorized: no secret configured, or the header is missing or wrong.
        """
        if not self.enabled:
            return
        header = self._settings.registry_secret_header
        secret = self._settings.registry_secret
        if secret is None:
            raise errors.Unauthorized(
                "registry webhooks are refused: no REGISTRY_SECRET_FILE or REGISTRY_SECRET "
                "is configured"
            )
        given = request.header(header) or ""
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode()):
            log.info("refused a registry webhook without the right %s", header)
            raise errors.Unauthorized(f"the {header} header is missing or wrong")

    async def allowed(
        self,
        caller: Caller,
        verb: str,
        namespace: str,
        *,
        resource: ApiResource = INFERENCE_SERVICE,
        subresource: str | None = None,
    ) -> bool:
        """Whether RBAC lets ``caller`` ``verb`` ``resource`` (models by default;
        ``subresource``) in ``namespace`` ("" = everywhere)."""
        key = (
            caller.user,
            caller.uid,
            caller.groups,
            caller.extra,
            verb,
            namespace,
            resource.group,
            resource.plural,
            subresource,
        )
        answer = self._reviews.get(key)
        if answer is None:
            answer = await _counted(
                "access",
                self._kube.subject_can(
                    caller, verb, namespace, resource=resource, subresource=subresource
                ),
            )
            metrics.AUTH_REVIEWS.labels("access", "allowed" if answer else "denied").inc()
            self._reviews[key] = answer
        else:
            metrics.AUTH_CACHE_HITS.labels("access").inc()
        return answer

    async def authorize(
        self,
        caller: Caller | None,
        verbs: Sequence[str],
        namespace: str,
        *,
        resource: ApiResource = INFERENCE_SERVICE,
        subresource: str | None = None,
    ) -> None:
        """Allow ``verbs`` on ``resource`` (models by default; ``subresource``) in
        ``namespace`` for ``caller``, or refuse.

        The namespace allowlist applies in every mode; RBAC when there is a caller.

        Raises:
            errors.Forbidden: naming the rule or the verb, resource and namespace.
        """
        allowlists.check_namespace(self._settings, namespace)
        if caller is None:
            return
        answers = await asyncio.gather(
            *(
                self.allowed(caller, v, namespace, resource=resource, subresource=subresource)
                for v in verbs
            )
        )
        named = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
        if subresource:
            named += f"/{subresource}"
        for verb, allowed in zip(verbs, answers, strict=True):
            if not allowed:
                log.info("denied: %s may not %s %s", caller.user, verb, named)
                where = f"in namespace {namespace}" if namespace else "in every namespace"
                raise errors.Forbidden(f"{caller.user} may not {verb} {named} {where}")

    async def authorize_for(
        self, caller: Caller | None, permission: permissions.Permission, namespace: str
    ) -> None:
        """Allow what ``permission`` needs in ``namespace`` for ``caller``, or refuse,
        review by review (as ``authorize``).

        Raises:
            errors.Forbidden: by the allowlist or the first review that said no.
        """
        for needs in permission:
            await self.authorize(
                caller,
                needs.verbs,
                namespace,
                resource=needs.resource,
                subresource=needs.subresource,
            )

    async def authorize_deploy(self, caller: Caller | None, request: DeployRequest) -> None:
        """A deploy needs create and patch (a server-side apply may do either), allowed images.

        Raises:
            errors.Forbidden: by an allowlist or RBAC, before anything is written.
        """
        allowlists.check_namespace(self._settings, request.namespace)
        allowlists.check_image(self._settings, request.image)
        await self.authorize_for(caller, permissions.DEPLOY, request.namespace)

    async def listable_namespaces(self, caller: Caller | None) -> list[str] | None:
        """The namespaces whose models ``caller`` may list; None means all of them.

        Allowed namespaces when there is an allowlist; else every namespace when
        the caller may list cluster-wide; else each namespace the function sees
        that a SubjectAccessReview allows.
        """
        allowlist = self._settings.allowed_namespaces
        if caller is None:
            return sorted(allowlist) if allowlist is not None else None
        if allowlist is not None:
            return await self._filter(caller, sorted(allowlist))
        if await self.allowed(caller, "list", ""):
            return None
        names: list[str] = []
        async for page in self._kube.namespace_pages(page_size=self._settings.list_page_size):
            names.extend(await self._filter(caller, page.items))
        return names

    async def _filter(self, caller: Caller, namespaces: Sequence[str]) -> list[str]:
        limit = asyncio.Semaphore(REVIEW_CONCURRENCY)

        async def may_list(namespace: str) -> bool:
            async with limit:
                return await self.allowed(caller, "list", namespace)

        answers = await asyncio.gather(*(may_list(ns) for ns in namespaces))
        return [ns for ns, ok in zip(namespaces, answers, strict=True) if ok]
