"""schemathesis hooks of the contract fuzz test (``tests/integration/test_contract_fuzz.py``).

Loaded by the schemathesis CLI (``hooks`` in the run's config file). They keep
the fuzzer's requests to what the document can promise and the shared cluster
can take; they change no answer. Each rule below is one the document states in
words because OpenAPI and JSON Schema cannot state it, and the server refuses a
request that breaks it with 422 naming the field:

- ``continue`` is a token the server hands out: a made-up one matches the
  parameter's schema but is refused (400), so a positive case carries one only
  when a link took it from a previous answer (the stateful phase);
- ``limit`` and ``continue`` exclude ``watch=true`` (one parameter excluding
  another);
- a deploy's ``name`` and ``namespace`` together make KServe's host label, at
  most 63 characters; ``maxReplicas`` is at least ``minReplicas``; a canary
  changes something of the stable predictor; a label key's prefix has at most
  253 characters (JSON Schema cannot compare two values or bound a part of a
  pattern's match);
- a deploy without ``deploymentMode`` runs in the cluster's default mode
  (Standard here), whose scale metrics are cpu and memory: the document cannot
  know a cluster's default.

And a deploy goes to the test's own namespace (``CONTRACT_FUZZ_NAMESPACE``,
under a ResourceQuota), or is a dry run when the model's name is too long for
that namespace, so it never writes elsewhere; a negative case too, unless its
namespace is the invalid part (the server ignores an unknown query parameter, so
such a case can write).

A 503 is the documented answer when the cluster does not answer in time (on a
loaded 2-core machine, KServe's webhook can take its 10 s): the run's config
lets ``not_a_server_error`` pass a 503, and ``cluster_did_not_answer`` below
fails any 503 that says anything else.
"""

from __future__ import annotations

import os
import re
from typing import Any

import schemathesis

NAMESPACE = os.environ.get("CONTRACT_FUZZ_NAMESPACE", "")
# KServe's host label "{name}-predictor-{namespace}" (a canary's:
# "{name}-canary-predictor-{namespace}") is one DNS label of at most 63 characters.
HOST_LABEL_MAX = 63
QUALIFIED_NAME_PREFIX_MAX = 253
DEFAULT_NAMESPACE = "default"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
SERVICE_UNAVAILABLE = 503
KNATIVE_METRICS = ("concurrency", "rps")


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is None or not meta.generation.mode.is_negative


def _linked(case: Any, name: str) -> bool:
    override = getattr(case, "_override", None)
    return override is not None and name in (override.query or {})


def _is_deploy(case: Any) -> bool:
    return (case.operation.method.upper(), case.operation.path) == ("POST", "/deploy")


def _fits(body: dict[str, Any], namespace: str) -> bool:
    name = body.get("name")
    suffix = "-canary-predictor-" if body.get("canary") is not None else "-predictor-"
    return isinstance(name, str) and len(name) + len(suffix) + len(namespace) <= HOST_LABEL_MAX


def _keys(body: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for field in ("labels", "annotations", "nodeSelector"):
        value = body.get(field)
        if isinstance(value, dict):
            keys += [key for key in value if isinstance(key, str)]
    for toleration in body.get("tolerations") or ():
        if isinstance(toleration, dict) and isinstance(toleration.get("key"), str):
            keys.append(toleration["key"])
    return keys


def _canary_changes_nothing(body: dict[str, Any]) -> bool:
    canary = body.get("canary")
    if not isinstance(canary, dict):
        return False
    return all(
        canary.get(field) is None or canary.get(field) == body.get(field, default)
        for field, default in (
            ("image", None),
            ("envs", {}),
            ("resources", None),
            ("storageUri", None),
        )
    )


def _valid_deploy(body: object) -> bool:
    """Whether a deploy body keeps the rules its schema cannot state."""
    if not isinstance(body, dict):
        return True
    namespace = body.get("namespace", DEFAULT_NAMESPACE)
    if not (_fits(body, NAMESPACE) or (isinstance(namespace, str) and _fits(body, namespace))):
        return False
    low, high = body.get("minReplicas"), body.get("maxReplicas")
    if isinstance(low, int | float) and isinstance(high, int | float) and high < low:
        return False
    if any(len(key.rpartition("/")[0]) > QUALIFIED_NAME_PREFIX_MAX for key in _keys(body)):
        return False
    # Without deploymentMode the cluster's default mode (Standard here) decides
    # which scale metrics KServe takes: Knative's need the mode asked for.
    if body.get("scaleMetric") in KNATIVE_METRICS and body.get("deploymentMode") is None:
        return False
    return not _canary_changes_nothing(body)


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Leave out positive cases that break a rule the document can only state in words."""
    if not _positive(case):
        return True
    query = case.query or {}
    if "continue" in query and not _linked(case, "continue"):
        return False
    if query.get("watch") == "true" and ("limit" in query or "continue" in query):
        return False
    return not _is_deploy(case) or _valid_deploy(case.body)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Send a deploy to the test's namespace, or make it a dry run."""
    body = case.body
    if not (_is_deploy(case) and isinstance(body, dict) and NAMESPACE):
        return case
    namespace = body.get("namespace", DEFAULT_NAMESPACE)
    if not (isinstance(namespace, str) and DNS_LABEL.fullmatch(namespace)):
        return case  # a negative case's invalid namespace: refused, writes nothing
    if _fits(body, NAMESPACE):
        body["namespace"] = NAMESPACE
    else:
        case.query = {**(case.query or {}), "dryRun": "true"}
    return case


# What the API's 503s say when the cluster (or a webhook it calls) did not answer in time.
CLUSTER_TIMEOUTS = ("did not answer", "throttling")


@schemathesis.check
def cluster_did_not_answer(context: Any, response: Any, case: Any) -> bool | None:
    """A 503 is only the cluster not answering in time, with Retry-After."""
    if response.status_code != SERVICE_UNAVAILABLE:
        return None
    detail = str(response.json().get("detail", ""))
    if not any(reason in detail for reason in CLUSTER_TIMEOUTS):
        raise AssertionError(f"a 503 that is not the cluster timing out: {detail}")
    if "retry-after" not in {name.lower() for name in response.headers}:
        raise AssertionError("a 503 without Retry-After")
    return None
