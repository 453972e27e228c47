"""Container-registry push notifications, read as the image pushes they announce.

Three registries tell us about pushes, each in its own shape (DESIGN §5, FACTS
"Registry push payloads"): Harbor's ``harbor.artifact.pushed`` CloudEvent, Azure
Container Registry's ``Microsoft.ContainerRegistry.ImagePushed`` through Event
Grid, and Docker Distribution's notification envelope. This module turns each into
one list of ``ImagePush`` — host, repository, tag, digest — so the code that rolls
models sees one shape and never a registry's.

It is pure: plain decoded JSON in, frozen values out, no I/O, clock or SDK object,
so every rule can be tested on literal payloads. The input comes from the network
and may be anything, hence:

* All or nothing. Every relevant entry is validated before anything is returned;
  one invalid entry rejects the whole notification with ``errors.Invalid`` naming
  each bad field by its JSON path. A caller therefore never rolls half of a
  notification and then fails, and a registry's retry replays the same decision.
* Bounded work. The number of raw entries is checked before any is read
  (``MAX_ENVELOPE_EVENTS``), and the number of pushes handed on is capped
  (``MAX_PUSHES``), because each push costs the caller apiserver round trips.
* Irrelevant entries are ignored silently: layer (blob) uploads, pulls, and pushes
  by digest only. A model tracks ``repo:tag``; without a tag nothing can match.
* Values are checked against the OCI grammars (distribution/reference, in
  ``grammar``), so the ``pinned`` reference a model rolls to is one the kubelet
  can pull.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from kserve_functions.core import errors, grammar
from kserve_functions.core.models import ValidationIssue

# Each push makes the caller list the models tracking it and apply each one: a
# few apiserver round trips per push. Real notifications announce a handful of
# manifests at most (ACR sends one per event, Harbor one artifact with its tags,
# Distribution batches of recent events), so 100 leaves ample room while keeping
# one event's work well inside a Knative request timeout and a Broker's delivery
# timeout. Beyond it the notification is refused whole (422), not cut short, so
# no push is silently dropped.
MAX_PUSHES = 100

# Raw entries (Distribution ``events``, Harbor ``resources``) are counted before
# any is read. A 1 MiB body (the default MAX_BODY_BYTES) holds ~300,000 minimal
# ``{}`` entries; real events are ~1 KB each, so 1,000 is about a full body of
# genuine ones, a tenfold margin over MAX_PUSHES for ignored layer/pull events.
MAX_ENVELOPE_EVENTS = 1_000

# How many invalid fields a 422 lists: enough to act on, while a body of 1,000
# broken events does not become a problem document of thousands of entries.
MAX_REPORTED_ISSUES = 20

# What Distribution reports for manifest uploads; blobs (layers, configs) carry
# other types and no tag. Schema 1 manifests are gone from current registries.
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)

# The messages of the grammar's checks. Only sha256 and sha512 digests are taken:
# a digest of any other algorithm could not be pulled reliably, so the push is
# refused rather than rolled.
_REPOSITORY_RULE = (
    "must be an OCI repository name: lowercase letters and digits, separated by "
    "'.', '_', '__' or '-' within a component and '/' between components"
)
_TAG_RULE = (
    "must be an OCI tag: 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
)
_DIGEST_RULE = "must be sha256: and 64 lowercase hex digits (or sha512: and 128)"
_HOST_RULE = "must be a registry host[:port] such as registry.example.com or registry.local:5000"


@dataclass(frozen=True)
class ImagePush:
    """One tagged manifest pushed to a registry: ``repository:tag`` now is ``digest``."""

    host: str
    repository: str
    tag: str
    digest: str

    @property
    def tagged(self) -> str:
        """The reference models track, ``host/repository:tag``."""
        return f"{self.host}/{self.repository}:{self.tag}"

    @property
    def pinned(self) -> str:
        """The reference models roll to, ``host/repository@digest``."""
        return f"{self.host}/{self.repository}@{self.digest}"


class _Issues:
    """The invalid fields found so far in one notification."""

    def __init__(self) -> None:
        self.items: list[ValidationIssue] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, field: str, message: str) -> None:
        # One shared field (Harbor's repo_full_name) can fail for many entries; once is enough.
        if (field, message) not in self._seen:
            self._seen.add((field, message))
            self.items.append(ValidationIssue(field=field, message=message))

    def merge(self, other: _Issues) -> None:
        for item in other.items:
            self.add(item.field, item.message)


def harbor_pushes(data: object) -> list[ImagePush]:
    """The pushes in the data of a Harbor ``harbor.artifact.pushed`` CloudEvent.

    The host is the part of each resource's ``resource_url`` before its first
    "/" (Harbor sends it nowhere else); the repository is
    ``repository.repo_full_name``, or the rest of ``resource_url`` without its
    ``:tag`` / ``@digest`` when that is absent. Resources without a tag (pushes by
    digest) are skipped.

    Returns:
        The pushes in input order, duplicates collapsed; empty when none is tagged.

    Raises:
        errors.PayloadTooLarge: more than ``MAX_ENVELOPE_EVENTS`` resources.
        errors.Invalid: any tagged resource is invalid (none is returned then), or
            more than ``MAX_PUSHES`` distinct pushes.
    """
    source = "Harbor push event"
    body, resources = _listing(source, data, where="data", key="resources", field="data.resources")

    # data.repository only matters to tagged resources: its faults are reported
    # when one is present, like any other field of a relevant push.
    repository_issues = _Issues()
    full_name = _harbor_repository(body.get("repository"), repository_issues)
    issues = _Issues()
    pushes: list[ImagePush] = []
    for index, item in enumerate(resources):
        path = f"data.resources[{index}]"
        resource = _object(item)
        if resource is None:
            issues.add(path, "must be an object")
            continue
        tag = _tag(resource, f"{path}.tag", issues)
        if tag is None:
            continue
        issues.merge(repository_issues)
        digest = _text(resource, path, "digest", issues)
        url = _text(resource, path, "resource_url", issues)
        if url is None:
            continue
        host, slash, rest = url.partition("/")
        if not slash:
            issues.add(f"{path}.resource_url", "must be host/repository:tag")
            continue
        repository, repository_field = full_name, "data.repository.repo_full_name"
        if repository is None:
            repository, repository_field = _strip_reference(rest), f"{path}.resource_url"
        push = _push(
            issues,
            host=(host, f"{path}.resource_url"),
            repository=(repository, repository_field),
            tag=(tag, f"{path}.tag"),
            digest=(digest, f"{path}.digest"),
        )
        if push is not None:
            pushes.append(push)
    return _finish(source, "data.resources", pushes, issues)


def acr_pushes(data: object) -> list[ImagePush]:
    """The push in the data of an Event Grid ``Microsoft.ContainerRegistry.ImagePushed`` event.

    The event type already says a manifest was pushed (ACR raises it for
    manifests only), so ``action`` and ``mediaType`` are not consulted.

    Returns:
        The one push, or an empty list when the target has no tag.

    Raises:
        errors.Invalid: the data is not an object, or the tagged push is invalid.
    """
    source = "ACR push event"
    body = _object(data)
    if body is None:
        raise _invalid(source, [ValidationIssue(field="data", message="must be an object")])
    issues = _Issues()
    target = _member_object(body, "target", "data.target", issues)
    if target is None:
        raise _invalid(source, issues.items)
    tag = _tag(target, "data.target.tag", issues)
    if tag is None:
        if issues.items:
            raise _invalid(source, issues.items)
        return []
    repository = _text(target, "data.target", "repository", issues)
    digest = _text(target, "data.target", "digest", issues)
    request = _member_object(body, "request", "data.request", issues)
    host = None if request is None else _text(request, "data.request", "host", issues)
    push = _push(
        issues,
        host=(host, "data.request.host"),
        repository=(repository, "data.target.repository"),
        tag=(tag, "data.target.tag"),
        digest=(digest, "data.target.digest"),
    )
    return _finish(source, "data", [] if push is None else [push], issues)


def distribution_pushes(envelope: object) -> list[ImagePush]:
    """The pushes in a Docker Distribution notification envelope (the whole body).

    Relevant events have ``action`` "push", a manifest or index ``mediaType``
    (``MANIFEST_MEDIA_TYPES``) and a tag; blob uploads, pulls and untagged
    manifest pushes are ignored. The host is ``request.host``, or the host of
    ``target.url`` when the request carries none.

    Returns:
        The pushes in input order, duplicates collapsed; empty when none is relevant.

    Raises:
        errors.PayloadTooLarge: more than ``MAX_ENVELOPE_EVENTS`` events (checked
            before any event is read).
        errors.Invalid: any event is malformed or a relevant one invalid (none is
            returned then), or more than ``MAX_PUSHES`` distinct pushes.
    """
    source = "Distribution notification"
    _, events = _listing(source, envelope, where="body", key="events", field="events")

    issues = _Issues()
    pushes: list[ImagePush] = []
    for index, item in enumerate(events):
        push = _distribution_push(item, f"events[{index}]", issues)
        if push is not None:
            pushes.append(push)
    return _finish(source, "events", pushes, issues)


def _distribution_push(item: object, path: str, issues: _Issues) -> ImagePush | None:
    """The push one envelope event announces; None when irrelevant or invalid."""
    event = _object(item)
    if event is None:
        issues.add(path, "must be an object")
        return None
    # The fields that decide relevance must be readable, or "ignored" and
    # "broken" could not be told apart.
    action = _text(event, path, "action", issues)
    if action != "push":
        return None
    target = _member_object(event, "target", f"{path}.target", issues)
    if target is None:
        return None
    media_type = _text(target, f"{path}.target", "mediaType", issues)
    if media_type is None or not _is_manifest(media_type):
        return None
    tag = _tag(target, f"{path}.target.tag", issues)
    if tag is None:
        return None
    repository = _text(target, f"{path}.target", "repository", issues)
    digest = _text(target, f"{path}.target", "digest", issues)
    host, host_field = _distribution_host(event, target, path, issues)
    return _push(
        issues,
        host=(host, host_field),
        repository=(repository, f"{path}.target.repository"),
        tag=(tag, f"{path}.target.tag"),
        digest=(digest, f"{path}.target.digest"),
    )


def _distribution_host(
    event: Mapping[str, object], target: Mapping[str, object], path: str, issues: _Issues
) -> tuple[str | None, str]:
    """The registry host of an event and the field it came from.

    ``request.host`` is the Host header the pusher used; ``target.url`` is built
    by the registry from the same header, so it is only the fallback.
    """
    request = _member_object(event, "request", f"{path}.request", issues, required=False)
    host = None if request is None else request.get("host")
    if host is not None:
        return _text_value(host, f"{path}.request.host", issues), f"{path}.request.host"
    url_field = f"{path}.target.url"
    url = target.get("url")
    if url is None:
        issues.add(f"{path}.request.host", f"required (or a host in {url_field})")
        return None, url_field
    text = _text_value(url, url_field, issues)
    if text is None:
        return None, url_field
    try:
        netloc = urlsplit(text).netloc
    except ValueError:
        netloc = ""
    # Userinfo is never part of a registry host; a URL carrying it is not trusted for one.
    if not netloc or "@" in netloc:
        issues.add(url_field, "must be an absolute URL of the registry")
        return None, url_field
    return netloc, url_field


def _is_manifest(media_type: str) -> bool:
    # Media types may carry parameters ("; charset=..."), and compare case-insensitively.
    return media_type.split(";", 1)[0].strip().lower() in MANIFEST_MEDIA_TYPES


def _harbor_repository(value: object, issues: _Issues) -> str | None:
    """``repository.repo_full_name`` when sent, else None (resource URLs name it then)."""
    if value is None:
        return None
    repository = _object(value)
    if repository is None:
        issues.add("data.repository", "must be an object")
        return None
    full_name = repository.get("repo_full_name")
    if full_name is None:
        return None
    return _text_value(full_name, "data.repository.repo_full_name", issues)


def _strip_reference(path: str) -> str:
    """``team/app`` from ``team/app:v1``, ``team/app@sha256:…`` or both."""
    name = path.partition("@")[0]
    # A ":" after the last "/" starts the tag; repository names contain none.
    head, _, last = name.rpartition("/")
    last = last.partition(":")[0]
    return f"{head}/{last}" if head else last


def _push(
    issues: _Issues,
    *,
    host: tuple[str | None, str],
    repository: tuple[str | None, str],
    tag: tuple[str, str],
    digest: tuple[str | None, str],
) -> ImagePush | None:
    """A push from checked values (each with its field path); None if any is invalid.

    ``None`` values were already reported missing by the caller.
    """
    before = len(issues.items)
    host_value, host_field = host
    repository_value, repository_field = repository
    tag_value, tag_field = tag
    digest_value, digest_field = digest
    if host_value is not None and not grammar.is_registry_host(host_value):
        issues.add(host_field, _HOST_RULE)
    if repository_value is not None:
        if not grammar.is_repository(repository_value):
            issues.add(repository_field, _REPOSITORY_RULE)
        elif host_value is not None and (
            len(host_value) + 1 + len(repository_value) > grammar.NAME_TOTAL_LENGTH_MAX
        ):
            issues.add(
                repository_field,
                f"host/repository must be at most {grammar.NAME_TOTAL_LENGTH_MAX} characters",
            )
    if not grammar.is_tag(tag_value):
        issues.add(tag_field, _TAG_RULE)
    if digest_value is not None and not grammar.is_registered_digest(digest_value):
        issues.add(digest_field, _DIGEST_RULE)
    if (
        len(issues.items) > before
        or host_value is None
        or repository_value is None
        or digest_value is None
    ):
        return None
    return ImagePush(
        host=host_value, repository=repository_value, tag=tag_value, digest=digest_value
    )


def _finish(source: str, field: str, pushes: list[ImagePush], issues: _Issues) -> list[ImagePush]:
    """The collapsed pushes, or the notification's rejection."""
    if issues.items:
        raise _invalid(source, issues.items)
    # Equal pushes (same tagged reference and digest) roll the same models to the
    # same digest; once is enough. dict keeps the first occurrence's position.
    unique = list(dict.fromkeys(pushes))
    if len(unique) > MAX_PUSHES:
        message = (
            f"{len(unique)} image pushes in one notification; at most {MAX_PUSHES} are handled"
        )
        raise errors.Invalid(
            f"{source}: {message}", errors=[ValidationIssue(field=field, message=message)]
        )
    return unique


def _listing(
    source: str, value: object, *, where: str, key: str, field: str
) -> tuple[Mapping[str, object], list[object]]:
    """``value`` as an object, and its list ``key``: where each notification format
    carries its pushes (``where`` and ``field`` name the two in a problem).

    Raises:
        errors.Invalid: ``value`` is not an object, or its ``key`` is missing or no list.
        errors.PayloadTooLarge: the list has more than ``MAX_ENVELOPE_EVENTS`` entries.
    """
    body = _object(value)
    if body is None:
        raise _invalid(source, [ValidationIssue(field=where, message="must be an object")])
    listed = body.get(key)
    if not isinstance(listed, list):
        message = "required" if listed is None else "must be a list"
        raise _invalid(source, [ValidationIssue(field=field, message=message)])
    _check_count(source, field, len(listed))
    return body, cast("list[object]", listed)


def _check_count(source: str, field: str, count: int) -> None:
    if count > MAX_ENVELOPE_EVENTS:
        raise errors.PayloadTooLarge(
            f"{source}: {field} has {count} entries; at most {MAX_ENVELOPE_EVENTS} are accepted"
        )


def _invalid(source: str, issues: list[ValidationIssue]) -> errors.Invalid:
    shown = issues[:MAX_REPORTED_ISSUES]
    fields = ", ".join(dict.fromkeys(issue.field for issue in shown))
    more = len(issues) - len(shown)
    suffix = f" and {more} more" if more else ""
    return errors.Invalid(f"invalid {source}: {fields}{suffix}", errors=shown)


def _object(value: object) -> Mapping[str, object] | None:
    # Decoded JSON objects are dicts; their keys are always strings.
    return cast("Mapping[str, object]", value) if isinstance(value, dict) else None


def _member_object(
    parent: Mapping[str, object],
    key: str,
    field: str,
    issues: _Issues,
    *,
    required: bool = True,
) -> Mapping[str, object] | None:
    """``parent[key]`` as an object; a missing optional one is None without an issue."""
    value = parent.get(key)
    if value is None:
        if required:
            issues.add(field, "required")
        return None
    member = _object(value)
    if member is None:
        issues.add(field, "must be an object")
    return member


def _text(parent: Mapping[str, object], path: str, key: str, issues: _Issues) -> str | None:
    """The required non-empty string ``parent[key]`` (at ``path``); None, reported, otherwise."""
    field = f"{path}.{key}"
    value = parent.get(key)
    if value is None:
        issues.add(field, "required")
        return None
    return _text_value(value, field, issues)


def _text_value(value: object, field: str, issues: _Issues) -> str | None:
    if not isinstance(value, str):
        issues.add(field, "must be a string")
        return None
    if not value:
        issues.add(field, "must not be empty")
        return None
    return value


def _tag(parent: Mapping[str, object], field: str, issues: _Issues) -> str | None:
    """The tag, or None when there is none (absent, null or empty: a push by digest)."""
    value = parent.get("tag")
    if value is None or value == "":
        return None
    return _text_value(value, field, issues)
