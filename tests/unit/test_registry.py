"""Registry push notifications read as image pushes (``kserve_functions.cloudevents.registry``).

The payloads are written the way each registry sends them, extra fields and all,
so the tests also show which fields are read and which are ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from kserve_functions.cloudevents import registry
from kserve_functions.core import errors, grammar
from kserve_functions.core.models import ValidationIssue

DIGEST = "sha256:2d4b9a7f3c1e8f6a5b0d9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a"
OTHER_DIGEST = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
LAYER_DIGEST = "sha256:8e3ba11ec2a2b39ab372c60c16b421536e50e5ce64a0bc81765c2e38381bcff6"
SHA512_DIGEST = "sha512:" + "0123456789abcdef" * 8

Parser = Callable[[object], list[registry.ImagePush]]

# A Harbor CloudEvent (webhook policy in "CloudEvents" format); the function gets its data.
HARBOR_EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "4b2f89a6-548d-4c12-9993-a1f5790b97d2",
    "requestid": "2eedfab8-61d3-4f3c-8ec3-8f82d1ec4c84",
    "source": "/projects/2/webhook/policies/7",
    "type": "harbor.artifact.pushed",
    "datacontenttype": "application/json",
    "time": "2026-03-06T06:08:43Z",
    "operator": "robot$team+ci",
    "data": {
        "resources": [
            {
                "digest": DIGEST,
                "tag": "v1",
                "resource_url": "harbor.example.com/team/app:v1",
            },
            # A push by digest only (e.g. a signature or an index's child): no tag.
            {
                "digest": OTHER_DIGEST,
                "resource_url": f"harbor.example.com/team/app@{OTHER_DIGEST}",
            },
        ],
        "repository": {
            "date_created": 1772777323,
            "name": "app",
            "namespace": "team",
            "repo_full_name": "team/app",
            "repo_type": "private",
        },
    },
}

# An Event Grid event in the CloudEvents 1.0 schema; the function gets its data.
ACR_EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "831e1650-001e-001b-66ab-eeb76e069631",
    "source": (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/models"
        "/providers/Microsoft.ContainerRegistry/registries/myreg"
    ),
    "subject": "team/app:v1",
    "type": "Microsoft.ContainerRegistry.ImagePushed",
    "time": "2026-04-25T21:39:47.6549614Z",
    "data": {
        "id": "31c51664-e5bd-416a-a5df-e5206bc47ed0",
        "timestamp": "2026-04-25T21:39:47.276585742Z",
        "action": "push",
        "location": "westeurope",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 3023,
            "digest": DIGEST,
            "length": 3023,
            "repository": "team/app",
            "tag": "v1",
        },
        "request": {
            "id": "7c66f28b-de19-40a4-821c-6f5f6c0003a4",
            "host": "myreg.azurecr.io",
            "method": "PUT",
            "useragent": "docker/27.3.1 go/go1.22.7 git-commit/41ca978 os/linux arch/amd64",
        },
        "actor": {},
        "source": {},
    },
}


def _distribution_event(
    event_id: str,
    *,
    action: str,
    media_type: str,
    digest: str,
    tag: str | None,
    method: str,
) -> dict[str, Any]:
    """One event as Distribution writes it (tag omitted when empty, as Go's omitempty does)."""
    target: dict[str, Any] = {
        "mediaType": media_type,
        "size": 7143,
        "digest": digest,
        "length": 7143,
        "repository": "library/test",
        "url": f"http://registry.local:5000/v2/library/test/manifests/{digest}",
    }
    if tag is not None:
        target["tag"] = tag
    return {
        "id": event_id,
        "timestamp": "2026-05-05T10:12:52.416214384Z",
        "action": action,
        "target": target,
        "request": {
            "id": "ba4a4d41-0a52-4fb4-9e57-2ae6e1b2d0f4",
            "addr": "10.244.0.1:53712",
            "host": "registry.local:5000",
            "method": method,
            "useragent": "containerd/v2.0.2",
        },
        "actor": {},
        "source": {"addr": "registry-6d5f7b8c9-x2x7q:5000", "instanceID": "0e1b7a59-e3b7"},
    }


MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# A real push sends its layers first, then the manifest; pulls arrive on the same endpoint.
DISTRIBUTION_ENVELOPE: dict[str, Any] = {
    "events": [
        _distribution_event(
            "e0", action="push", media_type=LAYER, digest=LAYER_DIGEST, tag=None, method="PUT"
        ),
        _distribution_event(
            "e1", action="push", media_type=MANIFEST_V2, digest=OTHER_DIGEST, tag=None, method="PUT"
        ),
        _distribution_event(
            "e2", action="pull", media_type=MANIFEST_V2, digest=DIGEST, tag="latest", method="GET"
        ),
        _distribution_event(
            "e3", action="push", media_type=MANIFEST_V2, digest=DIGEST, tag="latest", method="PUT"
        ),
    ]
}

MISSING = object()


def _changed(payload: dict[str, Any], path: tuple[str | int, ...], value: object) -> Any:
    """A deep copy of ``payload`` with the value at ``path`` replaced (or removed: MISSING)."""
    changed = copy.deepcopy(payload)
    parent: Any = changed
    for key in path[:-1]:
        parent = parent[key]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


def _issues(error: errors.ApiError) -> list[tuple[str, str]]:
    return [(issue.field, issue.message) for issue in error.errors]


def test_harbor_push_skips_the_resource_without_a_tag() -> None:
    assert registry.harbor_pushes(HARBOR_EVENT["data"]) == [
        registry.ImagePush(
            host="harbor.example.com", repository="team/app", tag="v1", digest=DIGEST
        )
    ]


@pytest.mark.parametrize(
    ("resource_url", "host", "repository"),
    [
        ("harbor.example.com/team/app:v1", "harbor.example.com", "team/app"),
        ("harbor.example.com:8443/team/sub/app:v1", "harbor.example.com:8443", "team/sub/app"),
        (f"harbor.example.com/team/app:v1@{DIGEST}", "harbor.example.com", "team/app"),
        ("10.0.0.7:5000/library/app:v1", "10.0.0.7:5000", "library/app"),
    ],
)
@pytest.mark.parametrize(
    "repository_path",
    [("data", "repository"), ("data", "repository", "repo_full_name")],
    ids=["no-repository", "no-repo-full-name"],
)
def test_harbor_repository_falls_back_to_the_resource_url(
    resource_url: str, host: str, repository: str, repository_path: tuple[str, ...]
) -> None:
    event = _changed(HARBOR_EVENT, repository_path, MISSING)
    event = _changed(event, ("data", "resources", 0, "resource_url"), resource_url)

    assert registry.harbor_pushes(event["data"]) == [
        registry.ImagePush(host=host, repository=repository, tag="v1", digest=DIGEST)
    ]


def test_harbor_faults_of_untagged_resources_and_repository_are_ignored() -> None:
    event = _changed(HARBOR_EVENT, ("data", "resources", 0), HARBOR_EVENT["data"]["resources"][1])
    event = _changed(event, ("data", "resources", 1, "digest"), "not-a-digest")
    event = _changed(event, ("data", "repository"), "not an object")

    assert registry.harbor_pushes(event["data"]) == []


def test_acr_push() -> None:
    assert registry.acr_pushes(ACR_EVENT["data"]) == [
        registry.ImagePush(host="myreg.azurecr.io", repository="team/app", tag="v1", digest=DIGEST)
    ]


@pytest.mark.parametrize("tag", [MISSING, None, ""], ids=["absent", "null", "empty"])
def test_acr_push_without_a_tag_is_no_push(tag: object) -> None:
    event = _changed(ACR_EVENT, ("data", "target", "tag"), tag)
    # Nothing else of an untagged push is read, so its faults do not matter.
    event = _changed(event, ("data", "target", "digest"), "sha1:abc")

    assert registry.acr_pushes(event["data"]) == []


def test_distribution_keeps_only_the_tagged_manifest_push() -> None:
    assert registry.distribution_pushes(DISTRIBUTION_ENVELOPE) == [
        registry.ImagePush(
            host="registry.local:5000", repository="library/test", tag="latest", digest=DIGEST
        )
    ]


def test_distribution_ignored_events_are_not_validated() -> None:
    envelope = _changed(DISTRIBUTION_ENVELOPE, ("events", 0, "target", "digest"), "junk")
    envelope = _changed(envelope, ("events", 1, "target", "repository"), "Not/Valid")
    envelope = _changed(envelope, ("events", 2, "request", "host"), "not a host")

    assert [push.digest for push in registry.distribution_pushes(envelope)] == [DIGEST]


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.OCI.image.index.v1+json; charset=utf-8",
    ],
)
def test_distribution_manifest_and_index_pushes_count(media_type: str) -> None:
    envelope = _changed(DISTRIBUTION_ENVELOPE, ("events", 3, "target", "mediaType"), media_type)

    assert len(registry.distribution_pushes(envelope)) == 1


@pytest.mark.parametrize(
    "media_type",
    [
        "application/octet-stream",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.docker.container.image.v1+json",
    ],
)
def test_distribution_blob_pushes_are_ignored_even_with_a_tag(media_type: str) -> None:
    envelope = _changed(DISTRIBUTION_ENVELOPE, ("events", 3, "target", "mediaType"), media_type)

    assert registry.distribution_pushes(envelope) == []


def test_distribution_host_falls_back_to_the_target_url() -> None:
    envelope = _changed(DISTRIBUTION_ENVELOPE, ("events", 3, "request", "host"), MISSING)
    envelope = _changed(
        envelope,
        ("events", 3, "target", "url"),
        f"https://mirror.example.com:8443/v2/library/test/manifests/{DIGEST}",
    )

    assert [push.host for push in registry.distribution_pushes(envelope)] == [
        "mirror.example.com:8443"
    ]


def test_sha512_digests_are_accepted() -> None:
    event = _changed(ACR_EVENT, ("data", "target", "digest"), SHA512_DIGEST)

    assert [push.pinned for push in registry.acr_pushes(event["data"])] == [
        f"myreg.azurecr.io/team/app@{SHA512_DIGEST}"
    ]


def test_tagged_and_pinned_references() -> None:
    push = registry.ImagePush(
        host="registry.local:5000", repository="team/app", tag="v1.2_rc-3", digest=DIGEST
    )

    assert push.tagged == "registry.local:5000/team/app:v1.2_rc-3"
    assert push.pinned == f"registry.local:5000/team/app@{DIGEST}"
    # Both must be images a deploy request would accept.
    assert grammar.is_image_reference(push.tagged)
    assert grammar.is_image_reference(push.pinned)


def test_duplicates_collapse_in_input_order() -> None:
    manifest = DISTRIBUTION_ENVELOPE["events"][3]
    other = _changed(manifest, ("target", "tag"), "v2")
    envelope = {"events": [manifest, other, manifest, other, manifest]}

    assert [push.tagged for push in registry.distribution_pushes(envelope)] == [
        "registry.local:5000/library/test:latest",
        "registry.local:5000/library/test:v2",
    ]


def test_harbor_duplicates_collapse() -> None:
    tagged = HARBOR_EVENT["data"]["resources"][0]
    event = _changed(HARBOR_EVENT, ("data", "resources"), [tagged, tagged])

    assert len(registry.harbor_pushes(event["data"])) == 1


REPOSITORY_RULE = (
    "must be an OCI repository name: lowercase letters and digits, separated by "
    "'.', '_', '__' or '-' within a component and '/' between components"
)
TAG_RULE = (
    "must be an OCI tag: 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
)
DIGEST_RULE = "must be sha256: and 64 lowercase hex digits (or sha512: and 128)"
HOST_RULE = "must be a registry host[:port] such as registry.example.com or registry.local:5000"

HARBOR_CASES: list[tuple[tuple[str | int, ...], object, str, str]] = [
    (("data", "resources"), MISSING, "data.resources", "required"),
    (("data", "resources"), {"digest": DIGEST}, "data.resources", "must be a list"),
    (
        ("data", "resources", 0),
        "harbor.example.com/team/app:v1",
        "data.resources[0]",
        "must be an object",
    ),
    (("data", "resources", 0, "digest"), MISSING, "data.resources[0].digest", "required"),
    (("data", "resources", 0, "digest"), DIGEST.upper(), "data.resources[0].digest", DIGEST_RULE),
    (("data", "resources", 0, "digest"), "sha256:abc", "data.resources[0].digest", DIGEST_RULE),
    (
        ("data", "resources", 0, "digest"),
        "md5:" + "a" * 32,
        "data.resources[0].digest",
        DIGEST_RULE,
    ),
    (
        ("data", "resources", 0, "resource_url"),
        42,
        "data.resources[0].resource_url",
        "must be a string",
    ),
    (
        ("data", "resources", 0, "resource_url"),
        "harbor.example.com",
        "data.resources[0].resource_url",
        "must be host/repository:tag",
    ),
    (
        ("data", "resources", 0, "resource_url"),
        "https://harbor.example.com/team/app:v1",
        "data.resources[0].resource_url",
        HOST_RULE,
    ),
    (("data", "resources", 0, "tag"), "-v1", "data.resources[0].tag", TAG_RULE),
    (("data", "resources", 0, "tag"), "v" * 129, "data.resources[0].tag", TAG_RULE),
    (("data", "resources", 0, "tag"), 7, "data.resources[0].tag", "must be a string"),
    (
        ("data", "repository", "repo_full_name"),
        "Team/App",
        "data.repository.repo_full_name",
        REPOSITORY_RULE,
    ),
    (
        ("data", "repository", "repo_full_name"),
        ["team", "app"],
        "data.repository.repo_full_name",
        "must be a string",
    ),
    (("data", "repository"), "team/app", "data.repository", "must be an object"),
]

ACR_CASES: list[tuple[tuple[str | int, ...], object, str, str]] = [
    (("data", "target"), MISSING, "data.target", "required"),
    (("data", "target"), "team/app:v1", "data.target", "must be an object"),
    (("data", "target", "digest"), MISSING, "data.target.digest", "required"),
    (("data", "target", "digest"), "sha256:" + "g" * 64, "data.target.digest", DIGEST_RULE),
    (("data", "target", "repository"), MISSING, "data.target.repository", "required"),
    (("data", "target", "repository"), "team//app", "data.target.repository", REPOSITORY_RULE),
    (("data", "target", "repository"), "team/app-", "data.target.repository", REPOSITORY_RULE),
    (
        ("data", "target", "repository"),
        "a/" * 120 + "app",
        "data.target.repository",
        "host/repository must be at most 255 characters",
    ),
    (("data", "target", "tag"), 1.0, "data.target.tag", "must be a string"),
    (("data", "request"), MISSING, "data.request", "required"),
    (("data", "request", "host"), MISSING, "data.request.host", "required"),
    (("data", "request", "host"), "", "data.request.host", "must not be empty"),
    (("data", "request", "host"), "my reg.azurecr.io", "data.request.host", HOST_RULE),
    (("data", "request", "host"), "myreg.azurecr.io:70000", "data.request.host", HOST_RULE),
    (("data", "request", "host"), "-myreg.azurecr.io", "data.request.host", HOST_RULE),
]

DISTRIBUTION_CASES: list[tuple[tuple[str | int, ...], object, str, str]] = [
    (("events",), MISSING, "events", "required"),
    (("events",), {"0": {}}, "events", "must be a list"),
    (("events", 0), None, "events[0]", "must be an object"),
    (("events", 0, "action"), MISSING, "events[0].action", "required"),
    (("events", 3, "target"), MISSING, "events[3].target", "required"),
    (("events", 3, "target", "mediaType"), MISSING, "events[3].target.mediaType", "required"),
    (("events", 3, "target", "repository"), MISSING, "events[3].target.repository", "required"),
    (
        ("events", 3, "target", "repository"),
        "Library/Test",
        "events[3].target.repository",
        REPOSITORY_RULE,
    ),
    (("events", 3, "target", "digest"), DIGEST[:-1], "events[3].target.digest", DIGEST_RULE),
    (("events", 3, "target", "tag"), ".hidden", "events[3].target.tag", TAG_RULE),
    (("events", 3, "request"), "registry.local:5000", "events[3].request", "must be an object"),
    (("events", 3, "request", "host"), "", "events[3].request.host", "must not be empty"),
    (("events", 3, "request", "host"), "registry.local:", "events[3].request.host", HOST_RULE),
    (("events", 3, "request", "host"), "[::1]:0", "events[3].request.host", HOST_RULE),
]


def _case_id(case: tuple[tuple[str | int, ...], object, str, str]) -> str:
    return f"{case[2]}={case[1]!r:.30}"


@pytest.mark.parametrize("case", HARBOR_CASES, ids=_case_id)
def test_invalid_harbor_push_names_the_field(
    case: tuple[tuple[str | int, ...], object, str, str],
) -> None:
    path, value, field, message = case
    event = _changed(HARBOR_EVENT, path, value)

    with pytest.raises(errors.Invalid) as caught:
        registry.harbor_pushes(event["data"])

    assert _issues(caught.value) == [(field, message)]
    assert caught.value.detail == f"invalid Harbor push event: {field}"


@pytest.mark.parametrize("case", ACR_CASES, ids=_case_id)
def test_invalid_acr_push_names_the_field(
    case: tuple[tuple[str | int, ...], object, str, str],
) -> None:
    path, value, field, message = case
    event = _changed(ACR_EVENT, path, value)

    with pytest.raises(errors.Invalid) as caught:
        registry.acr_pushes(event["data"])

    assert _issues(caught.value) == [(field, message)]
    assert caught.value.detail == f"invalid ACR push event: {field}"


@pytest.mark.parametrize("case", DISTRIBUTION_CASES, ids=_case_id)
def test_invalid_distribution_push_names_the_field(
    case: tuple[tuple[str | int, ...], object, str, str],
) -> None:
    path, value, field, message = case
    envelope = _changed(DISTRIBUTION_ENVELOPE, path, value)

    with pytest.raises(errors.Invalid) as caught:
        registry.distribution_pushes(envelope)

    assert _issues(caught.value) == [(field, message)]
    assert caught.value.detail == f"invalid Distribution notification: {field}"


@pytest.mark.parametrize(
    ("parser", "payload", "field"),
    [
        (registry.harbor_pushes, [HARBOR_EVENT["data"]], "data"),
        (registry.acr_pushes, "push", "data"),
        (registry.distribution_pushes, None, "body"),
    ],
)
def test_a_payload_that_is_not_an_object_is_invalid(
    parser: Parser, payload: object, field: str
) -> None:
    with pytest.raises(errors.Invalid) as caught:
        parser(payload)

    assert _issues(caught.value) == [(field, "must be an object")]


def test_distribution_host_needs_request_host_or_target_url() -> None:
    envelope = _changed(DISTRIBUTION_ENVELOPE, ("events", 3, "request"), MISSING)
    envelope = _changed(envelope, ("events", 3, "target", "url"), MISSING)

    with pytest.raises(errors.Invalid) as caught:
        registry.distribution_pushes(envelope)

    assert _issues(caught.value) == [
        ("events[3].request.host", "required (or a host in events[3].target.url)")
    ]


@pytest.mark.parametrize(
    "url",
    [
        "registry.local:5000/v2/library/test/manifests/latest",
        "http://user@registry.local:5000/v2/library/test/manifests/latest",
        "http://[::1/v2/",
    ],
)
def test_distribution_target_url_without_a_usable_host_is_invalid(url: str) -> None:
    envelope = _changed(DISTRIBUTION_ENVELOPE, ("events", 3, "request", "host"), MISSING)
    envelope = _changed(envelope, ("events", 3, "target", "url"), url)

    with pytest.raises(errors.Invalid) as caught:
        registry.distribution_pushes(envelope)

    assert _issues(caught.value) == [
        ("events[3].target.url", "must be an absolute URL of the registry")
    ]


def test_one_invalid_push_rejects_the_whole_envelope() -> None:
    broken = _changed(DISTRIBUTION_ENVELOPE["events"][3], ("target", "digest"), "sha256:")
    envelope = {"events": [*DISTRIBUTION_ENVELOPE["events"], broken]}

    with pytest.raises(errors.Invalid) as caught:
        registry.distribution_pushes(envelope)

    assert _issues(caught.value) == [("events[4].target.digest", DIGEST_RULE)]


def test_every_invalid_field_is_named() -> None:
    event = _changed(ACR_EVENT, ("data", "target", "digest"), "latest")
    event = _changed(event, ("data", "target", "tag"), "-")
    event = _changed(event, ("data", "request", "host"), "my_reg")

    with pytest.raises(errors.Invalid) as caught:
        registry.acr_pushes(event["data"])

    assert _issues(caught.value) == [
        ("data.request.host", HOST_RULE),
        ("data.target.tag", TAG_RULE),
        ("data.target.digest", DIGEST_RULE),
    ]
    assert caught.value.detail == (
        "invalid ACR push event: data.request.host, data.target.tag, data.target.digest"
    )


def test_a_shared_invalid_field_is_named_once() -> None:
    tagged = HARBOR_EVENT["data"]["resources"][0]
    event = _changed(HARBOR_EVENT, ("data", "resources"), [tagged, tagged, tagged])
    event = _changed(event, ("data", "repository", "repo_full_name"), "Team/App")

    with pytest.raises(errors.Invalid) as caught:
        registry.harbor_pushes(event["data"])

    assert _issues(caught.value) == [("data.repository.repo_full_name", REPOSITORY_RULE)]


def test_reported_issues_are_capped() -> None:
    envelope = {"events": [None] * 30}

    with pytest.raises(errors.Invalid) as caught:
        registry.distribution_pushes(envelope)

    assert caught.value.errors == [
        ValidationIssue(field=f"events[{index}]", message="must be an object")
        for index in range(registry.MAX_REPORTED_ISSUES)
    ]
    assert caught.value.detail.endswith("events[19] and 10 more")


def test_an_envelope_of_10000_events_is_too_large_before_any_is_read() -> None:
    # Entries that would each be invalid: reading even one would raise Invalid instead.
    envelope = {"events": [None] * 10_000}

    with pytest.raises(errors.PayloadTooLarge) as caught:
        registry.distribution_pushes(envelope)

    assert caught.value.detail == (
        "Distribution notification: events has 10000 entries; at most 1000 are accepted"
    )


def test_harbor_resources_are_capped_too() -> None:
    event = _changed(HARBOR_EVENT, ("data", "resources"), [None] * 1_001)

    with pytest.raises(errors.PayloadTooLarge) as caught:
        registry.harbor_pushes(event["data"])

    assert caught.value.detail == (
        "Harbor push event: data.resources has 1001 entries; at most 1000 are accepted"
    )


def test_the_event_cap_is_inclusive() -> None:
    layer = DISTRIBUTION_ENVELOPE["events"][0]

    assert registry.distribution_pushes({"events": [layer] * registry.MAX_ENVELOPE_EVENTS}) == []
    with pytest.raises(errors.PayloadTooLarge):
        registry.distribution_pushes({"events": [layer] * (registry.MAX_ENVELOPE_EVENTS + 1)})


def _tagged_pushes(count: int) -> dict[str, Any]:
    manifest = DISTRIBUTION_ENVELOPE["events"][3]
    return {"events": [_changed(manifest, ("target", "tag"), f"v{n}") for n in range(count)]}


def test_at_most_max_pushes_are_handled() -> None:
    assert len(registry.distribution_pushes(_tagged_pushes(registry.MAX_PUSHES))) == 100

    with pytest.raises(errors.Invalid) as caught:
        registry.distribution_pushes(_tagged_pushes(registry.MAX_PUSHES + 1))

    message = "101 image pushes in one notification; at most 100 are handled"
    assert _issues(caught.value) == [("events", message)]
    assert caught.value.detail == f"Distribution notification: {message}"


def test_duplicates_do_not_count_against_max_pushes() -> None:
    manifest = DISTRIBUTION_ENVELOPE["events"][3]

    assert len(registry.distribution_pushes({"events": [manifest] * 500})) == 1
