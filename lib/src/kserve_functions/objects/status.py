"""Read an InferenceService object into the API's answers (DESIGN §3).

The objects read here are written by the KServe controller (``status``), by this
API, and by anyone else with access: ``kubectl``, GitOps tools, older KServe
versions. So every field may be missing or of an unexpected type, and a listing
must not fail because one object in the namespace is odd. The readers never
raise on such input; what they cannot read comes back as ``None`` or empty.

A model's URL is ``status.url`` once KServe has written it. Before that it is
predicted the way KServe will build it, from the model's deployment mode and the
configured domain (``ModelUrls``): Standard mode's ingress ``domainTemplate``
``{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}`` or Knative's route
``{name}.{namespace}.{domain}``. ModelMesh and unknown modes get no prediction
(``None``) rather than a URL the controller would later contradict.

Pure: no client, no clock, no environment. The caller passes the object as the
apiserver returned it (a JSON mapping) and the configured ``ModelUrls``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from kserve_functions.config import ModelUrls
from kserve_functions.core import fields, merging
from kserve_functions.core.models import (
    ModelDetail,
    ModelState,
    ModelSummary,
    PredictorView,
    TrafficTarget,
)
from kserve_functions.core.resources import (
    AUTO_PROMOTE_ANNOTATION,
    DEPLOYMENT_MODE_ANNOTATION,
    KSERVE_CONTAINER,
    RESTART_TOKEN_ANNOTATION,
    STORAGE_URI_ENV,
)
from kserve_functions.objects import audit

STANDARD_MODE = "Standard"
KNATIVE_MODE = "Knative"
# The names KServe used before v0.17; its defaulting webhook rewrites them to the
# new ones (kserve PR #5025), but objects admitted earlier still carry them.
_LEGACY_MODES = {"RawDeployment": STANDARD_MODE, "Serverless": KNATIVE_MODE}


PENDING_REASON = "Pending"
STOPPED_REASON = "Stopped"
STOPPED_MESSAGE = "the model is stopped (serving.kserve.io/stop); KServe removed its pods"
UNSCHEDULABLE_REASON = "Unschedulable"
# A predictor container waiting for one of these reasons will not start without a
# change (its image, its configuration); KServe's own status does not say so.
_STUCK_CONTAINER_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
FAILED_LOAD_REASON = "ModelLoadFailed"
DELETING_REASON = "Deleting"
DELETING_MESSAGE = "the model is being deleted; KServe is removing what it made for it"
# modelStatus.transitionStatus values meaning the current spec cannot load.
_FAILED_TRANSITIONS = {"BlockedByFailedLoad", "InvalidSpec"}
PENDING_MESSAGE = "the KServe controller has not reported status yet"
ROLLOUT_REASON = "RolloutInProgress"
ROLLOUT_MESSAGE = "the current spec is rolling out; the previous one still serves"
# PredictorReady's reason in Standard mode while a Deployment rolls out: KServe
# copies the Deployment's Available condition (True, the old pods) and
# overrides it only once Progressing says NewReplicaSetAvailable.
_ROLLING_OUT_REASON = "MinimumReplicasAvailable"
_ROLLED_OUT_REASON = "NewReplicaSetAvailable"

# How an env var set by reference (``valueFrom``) is shown: its source, never its
# value. The API does not read Secrets or ConfigMaps, and must not leak them.
_ENV_REFERENCE_KINDS = {
    "secretKeyRef": "secret",
    "configMapKeyRef": "configMap",
    "fieldRef": "field",
    "resourceFieldRef": "resource",
}
ENV_REFERENCE_UNKNOWN = "(from a reference)"


class _Parts:
    """The parts of one InferenceService its readers use, each looked up once.

    A summary reads ``metadata``, ``spec.predictor`` and ``status`` a dozen
    times, a condition by its type four or five times and the predictor's
    container (``_predictor_container``) up to three times; walking to each
    from the object anew, and scanning the conditions anew, was most of the
    CPU of a listed model (bench/inprocess_profile.py, 10,000 models). Every
    reader of the model below takes these parts instead; the public functions
    build them from the object they are given. Missing or odd parts are empty
    (``container`` None), as ``fields`` reads them; ``mode`` is
    ``deployment_mode``'s, ``reported_mode`` ``_reported_mode``'s.
    """

    __slots__ = (
        "conditions",
        "container",
        "metadata",
        "mode",
        "name",
        "namespace",
        "predictor",
        "reported_mode",
        "spec",
        "status",
    )

    def __init__(self, isvc: Mapping[str, Any]) -> None:
        self.metadata = fields.mapping(isvc, "metadata")
        self.name = fields.text(self.metadata, "name") or ""
        self.namespace = fields.text(self.metadata, "namespace") or ""
        self.spec = fields.mapping(isvc, "spec")
        self.predictor = fields.mapping(self.spec, "predictor")
        self.container = _predictor_container(self.predictor)
        self.status = fields.mapping(isvc, "status")
        self.conditions = _conditions_by_type(self.status)
        self.reported_mode = _reported_mode(self.metadata, self.status)
        # Without a report the mode is Knative: see ``deployment_mode``.
        self.mode = KNATIVE_MODE if self.reported_mode is None else self.reported_mode

    @property
    def deleting(self) -> bool:
        """A delete was accepted; the object stays until KServe's finalizer is removed."""
        return self.metadata.get("deletionTimestamp") is not None


def is_ready(isvc: Mapping[str, Any], *, rollout: Rollout | None = None) -> bool:
    """Whether the model serves its current spec, as far as KServe and ``rollout`` tell.

    True when KServe's ``Ready`` condition is ``"True"``, the model is not being
    deleted (``metadata.deletionTimestamp``: it only lingers until KServe's
    finalizer lets it go), and no roll-out is in progress: neither one KServe
    reports (``_rolling_out``) nor, when the caller read the predictor's
    Deployment, one ``rollout`` reports (``predictor_rollout``).

    ``status.observedGeneration`` is deliberately not compared with
    ``metadata.generation``: KServe copies it from the predictor's Deployment
    (Standard mode) or Knative Service (Knative mode), whose generations count
    their own changes, not the InferenceService's. Equal counts are a
    coincidence; a model updated before KServe's first reconcile never reaches
    them.
    """
    parts = _Parts(isvc)
    return (
        not parts.deleting
        and _true(parts.conditions.get("Ready"))
        and not _rolling_out(parts)
        and (rollout is None or rollout.complete)
    )


@dataclass(frozen=True)
class Rollout:
    """Whether a Standard-mode model's predictor Deployment serves its current spec.

    ``complete`` False comes with ``message`` saying what is still under way;
    ``resource_version`` is the Deployment's as read ("" before KServe made it),
    from which a watch for the rest of the roll-out starts.
    """

    complete: bool
    message: str = ""
    resource_version: str = ""


def predictor_rollout(
    isvc: Mapping[str, Any], deployment: Mapping[str, Any] | None
) -> Rollout | None:
    """Compare a Standard-mode model with its predictor Deployment (``<name>-predictor``).

    KServe's status cannot say that it has applied the model's latest spec (see
    ``is_ready``), but the Deployment can: every deploy through this API writes
    a new restart token into ``spec.predictor.annotations``, which KServe copies
    into the Deployment's pod template. The roll-out is complete when the
    template carries the model's token (a model without one, made elsewhere,
    is taken as matching), the Deployment controller has observed the
    template's generation and its ``Progressing`` condition says
    ``NewReplicaSetAvailable``. ``deployment`` None means KServe has not made
    it yet. Returns None for other modes, where no Deployment is KServe's.
    """
    parts = _Parts(isvc)
    if parts.mode != STANDARD_MODE:
        return None
    if deployment is None:
        return Rollout(complete=False, message="KServe has not created the predictor yet")
    version = fields.text(deployment, "metadata", "resourceVersion") or ""
    wanted = fields.text(parts.predictor, "annotations", RESTART_TOKEN_ANNOTATION)
    template = fields.get(deployment, "spec", "template", "metadata", "annotations")
    if wanted is not None and fields.text(template, RESTART_TOKEN_ANNOTATION) != wanted:
        return Rollout(
            complete=False,
            message="KServe has not applied the current spec yet",
            resource_version=version,
        )
    generation = fields.integer(deployment, "metadata", "generation")
    observed = fields.integer(deployment, "status", "observedGeneration")
    progressing = _conditions_by_type(fields.mapping(deployment, "status")).get("Progressing")
    if (
        generation is None
        or observed is None
        or observed < generation
        or progressing is None
        or progressing.get("reason") != _ROLLED_OUT_REASON
    ):
        return Rollout(complete=False, message=ROLLOUT_MESSAGE, resource_version=version)
    return Rollout(complete=True, resource_version=version)


def deployment_mode(isvc: Mapping[str, Any]) -> str:
    """The deployment mode the model runs in, decided as KServe decides it.

    ``status.deploymentMode`` once KServe has reported it; else the
    ``serving.kserve.io/deploymentMode`` annotation; else ``"Knative"``. The old
    names ``RawDeployment`` and ``Serverless`` read as ``Standard`` and ``Knative``
    wherever they appear. Without an annotation the mode is Knative because
    KServe's defaulting webhook writes the annotation itself on create whenever
    the cluster default is Standard or ModelMesh. Matching is exact and
    case-sensitive; any other string is returned as it is.
    """
    return _Parts(isvc).mode


def model_url(isvc: Mapping[str, Any], urls: ModelUrls) -> str | None:
    """The model's URL: ``status.url`` once KServe has set it, else the predicted one.

    The prediction formats the template of the model's ``deployment_mode`` with
    its ``name``, ``namespace`` and ``urls.domain``. ModelMesh, or any mode
    other than Standard and Knative, has no prediction: ``None``. A template with
    other placeholders raises ``KeyError`` (configuration is validated when the
    function starts, not per object).
    """
    return _url(_Parts(isvc), urls)


def _url(parts: _Parts, urls: ModelUrls) -> str | None:
    reported = fields.text(parts.status, "url")
    if reported:
        return reported
    if parts.mode == STANDARD_MODE:
        template = urls.standard_template
    elif parts.mode == KNATIVE_MODE:
        template = urls.knative_template
    else:
        return None
    return template.format(name=parts.name, namespace=parts.namespace, domain=urls.domain)


@dataclass(frozen=True)
class Standing:
    """Where a model is (``state``) and, unless it is ready, why, in words."""

    state: ModelState
    reason: str | None = None
    message: str | None = None


def model_state(
    isvc: Mapping[str, Any],
    *,
    rollout: Rollout | None = None,
    pods: Sequence[Mapping[str, Any]] | None = None,
) -> Standing:
    """The model's ``ModelState`` and the reason and message of a model not ready.

    In this order: ``deleting`` (a delete was accepted), ``stopped`` (KServe's
    ``Stopped`` condition, set for the ``serving.kserve.io/stop`` annotation),
    ``ready`` (``is_ready``), ``failed`` (a failed load KServe reports in
    ``modelStatus``, or, when the caller read the predictor's ``pods``, one that
    no node can take or whose container cannot start: KServe's own status then
    only says the Deployment lacks available pods), ``updating`` (KServe's Ready
    is True, so the previous spec serves while the current one rolls out), and
    ``starting`` for everything else (no status yet, pods being created).
    """
    return _standing(_Parts(isvc), rollout, pods)


def _standing(
    parts: _Parts, rollout: Rollout | None, pods: Sequence[Mapping[str, Any]] | None
) -> Standing:
    if parts.deleting:
        return Standing("deleting", DELETING_REASON, DELETING_MESSAGE)
    if _true(parts.conditions.get("Stopped")):
        return Standing("stopped", STOPPED_REASON, STOPPED_MESSAGE)
    ready = parts.conditions.get("Ready")
    kserve_ready = _true(ready)
    rolling_out = kserve_ready and _rolling_out(parts)
    if kserve_ready and not rolling_out and (rollout is None or rollout.complete):
        return Standing("ready")
    # A failed load KServe reports comes before what its Ready condition says:
    # that then only says the Deployment lacks available pods
    # (``MinimumReplicasUnavailable``), while the failure says why.
    failure = _failed_load(parts) or pod_failure(pods or ())
    if failure is not None:
        return Standing("failed", *failure)
    return _not_ready(ready, rollout, rolling_out=rolling_out)


def _not_ready(
    ready: Mapping[str, Any] | None, rollout: Rollout | None, *, rolling_out: bool
) -> Standing:
    """A model neither ready nor failed, by KServe's ``Ready`` condition: ``starting``
    (none yet, or not True), or ``updating`` (True while a roll-out is under way)."""
    if ready is None:
        return Standing("starting", PENDING_REASON, PENDING_MESSAGE)
    if not _true(ready):
        return Standing("starting", fields.text(ready, "reason"), fields.text(ready, "message"))
    # Ready, yet not ready: a roll-out KServe reports, or else the one ``rollout`` shows.
    message = rollout.message if rollout is not None and not rolling_out else ROLLOUT_MESSAGE
    return Standing("updating", ROLLOUT_REASON, message)


def pod_failure(pods: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """Why the predictor's pods cannot serve, as (reason, message); None when nothing is stuck.

    A pod the scheduler refused (``PodScheduled`` False, ``Unschedulable``: the
    scheduler's message says what no node has), or a container waiting in a
    state it will not leave without a change (``CrashLoopBackOff``, an image
    that cannot be pulled, …), with the last termination's message and exit
    code when there was one. The first such pod, in the order given, speaks.
    """
    for pod in pods:
        if _being_deleted(pod):
            continue
        for condition in fields.items(pod, "status", "conditions"):
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == UNSCHEDULABLE_REASON
            ):
                return UNSCHEDULABLE_REASON, fields.text(condition, "message") or ""
        statuses = fields.items(pod, "status", "initContainerStatuses") + fields.items(
            pod, "status", "containerStatuses"
        )
        for container in statuses:
            waiting = fields.get(container, "state", "waiting")
            reason = fields.text(waiting, "reason")
            if reason not in _STUCK_CONTAINER_REASONS:
                continue
            terminated = fields.get(container, "lastState", "terminated")
            message = fields.text(terminated, "message") or fields.text(waiting, "message") or ""
            exit_code = fields.integer(terminated, "exitCode")
            if exit_code:
                message = (
                    f"{message} (exit code {exit_code})" if message else f"exit code {exit_code}"
                )
            name = fields.text(container, "name") or "?"
            return reason, f"container {name}: {message}" if message else f"container {name}"
    return None


class _SummaryFields(TypedDict):
    """``ModelSummary``'s fields, by the names its constructor takes: what the
    summary and the detail share, read once (``_summary_fields``)."""

    name: str
    namespace: str
    url: str | None
    ready: bool
    state: ModelState
    generation: int | None
    image: str | None
    modelFormat: str | None
    reason: str | None
    message: str | None
    createdAt: str | None
    runtime: str | None
    deploymentMode: str | None
    changedBy: str | None
    changedAt: str | None


def summary_of(
    isvc: Mapping[str, Any], *, urls: ModelUrls, standing: Standing | None = None
) -> ModelSummary:
    """One ``GET /models`` item: the seed's ``name, namespace, url, ready`` plus additions.

    Computed from what is given, nothing read. ``url`` is ``model_url(isvc,
    urls)``. ``state``, ``reason`` and ``message`` are ``standing``'s (reason
    and message only when the model is not ready): where the model is as
    ``model_state`` tells it from the roll-out and pods the caller read
    (``summaries.read_summary`` reads those it needs); by default
    ``model_state(isvc)``, from KServe's status alone. ``createdAt`` is
    ``metadata.creationTimestamp`` as given; ``runtime`` the predictor's named
    runtime; ``deploymentMode`` as in ``detail_of``; ``changedBy``/``changedAt``
    the audit annotations of the last change made through this API.
    """
    return ModelSummary(**_summary_fields(_Parts(isvc), urls, standing))


def _summary_fields(parts: _Parts, urls: ModelUrls, standing: Standing | None) -> _SummaryFields:
    if standing is None:
        standing = _standing(parts, None, None)
    return {
        "name": parts.name,
        "namespace": parts.namespace,
        "url": _url(parts, urls),
        "ready": standing.state == "ready",
        "state": standing.state,
        "generation": fields.integer(parts.metadata, "generation"),
        "image": fields.text(parts.container, "image"),
        "modelFormat": fields.text(parts.predictor, "model", "modelFormat", "name"),
        "reason": standing.reason,
        "message": standing.message,
        "createdAt": fields.text(parts.metadata, "creationTimestamp"),
        "runtime": fields.text(parts.predictor, "model", "runtime"),
        "deploymentMode": parts.reported_mode,
        "changedBy": fields.text(parts.metadata, "annotations", audit.CHANGED_BY),
        "changedAt": fields.text(parts.metadata, "annotations", audit.CHANGED_AT),
    }


def detail_of(
    isvc: Mapping[str, Any], *, urls: ModelUrls, standing: Standing | None = None
) -> ModelDetail:
    """The ``GET /models/{namespace}/{name}`` answer: the summary plus spec and status details.

    Computed from what is given, as ``summary_of`` (``summaries.read_detail``
    reads the roll-out and pods behind ``standing``). ``deploymentMode`` is
    the mode KServe reported in ``status.deploymentMode``, else the
    annotation, with the old names read as the new ones (as in
    ``deployment_mode``). With neither it is ``None``: nothing on the object
    says which mode it runs in, though ``url`` is predicted for Knative, the
    mode such an object is in when KServe's webhook admitted it.

    Env vars set by reference (``valueFrom``) are shown as a placeholder naming the
    source, e.g. ``(from secret creds/token)``, ``(from configMap settings/level)``,
    ``(from field metadata.name)``, ``(from resource limits.cpu)``, or
    ``(from a reference)``; they are never resolved.
    """
    parts = _Parts(isvc)
    predictor = parts.predictor
    components = fields.get(parts.status, "components", "predictor")
    serving = _serving_spec(predictor, parts.container)
    stable, canary = _canary_views(parts)
    return ModelDetail(
        **_summary_fields(parts, urls, standing),
        observedGeneration=fields.integer(parts.status, "observedGeneration"),
        conditions=_conditions(parts.status),
        latestCreatedRevision=fields.text(components, "latestCreatedRevision"),
        latestReadyRevision=fields.text(components, "latestReadyRevision"),
        traffic=_traffic(fields.get(components, "traffic")),
        # modelStatus is passed on as KServe wrote it: its states and
        # lastFailureInfo (reason, message, location, exitCode) explain a failed load.
        modelStatus=_json_object(parts.status.get("modelStatus")),
        envs=_envs(fields.get(serving, "env")),
        resources=_json_object(fields.get(serving, "resources")),
        storageUri=_storage_uri(predictor, parts.container),
        minReplicas=fields.integer(predictor, "minReplicas"),
        maxReplicas=fields.integer(predictor, "maxReplicas"),
        canaryTrafficPercent=fields.integer(predictor, "canaryTrafficPercent"),
        labels=_str_dict(parts.metadata.get("labels")),
        annotations=_str_dict(parts.metadata.get("annotations")),
        stable=stable,
        canary=canary,
    )


def _canary_views(parts: _Parts) -> tuple[PredictorView | None, PredictorView | None]:
    """``(stable, canary)`` side by side while the model runs a canary; else ``(None, None)``.

    Standard mode (``spec.canary``, KServe v0.20): the canary runs the stable
    predictor with the entry's fields merged over it, as KServe builds it; its
    readiness is its entry in ``status.canaryStatuses``, else the
    ``CanaryPredictorReady`` condition; the stable one's is ``PredictorReady``,
    and it takes the traffic the canaries leave. Knative mode
    (``canaryTrafficPercent`` of 1-99): the spec is the canary's, the stable side
    is the previous revision, whose image the model no longer records (None);
    the split and revisions are ``status.components.predictor.traffic``'s.
    """
    canaries = fields.items(parts.spec, "canary")
    if canaries:
        return _standard_views(parts, canaries)
    percent = fields.integer(parts.predictor, "canaryTrafficPercent")
    if percent is not None and 0 < percent < 100:  # noqa: PLR2004 - percent bounds
        return _knative_views(parts, percent)
    return None, None


def _standard_views(
    parts: _Parts, canaries: Sequence[Mapping[str, Any]]
) -> tuple[PredictorView, PredictorView]:
    entry = canaries[0]
    entry_predictor = fields.get(entry, "predictor")
    name = fields.text(entry_predictor, "name")
    canary_predictor = merging.merged(parts.predictor, fields.mapping(entry_predictor))
    canary_container = _predictor_container(canary_predictor)
    reported = next(
        (
            status
            for status in fields.items(parts.status, "canaryStatuses")
            if status.get("name") == name
        ),
        None,
    )
    condition = parts.conditions.get("CanaryPredictorReady")
    canary_ready = (
        fields.boolean(reported, "ready")
        if reported is not None
        else (None if condition is None else condition.get("status") == "True")
    )
    shares = sum(fields.integer(item, "trafficPercent") or 0 for item in canaries)
    stable_condition = parts.conditions.get("PredictorReady")
    return (
        PredictorView(
            name=fields.text(parts.predictor, "name"),
            image=fields.text(parts.container, "image"),
            storageUri=_storage_uri(parts.predictor, parts.container),
            trafficPercent=max(0, 100 - shares),
            ready=None if stable_condition is None else stable_condition.get("status") == "True",
        ),
        PredictorView(
            name=name,
            image=fields.text(canary_container, "image"),
            storageUri=_storage_uri(canary_predictor, canary_container),
            trafficPercent=fields.integer(entry, "trafficPercent"),
            ready=canary_ready,
        ),
    )


def _knative_views(parts: _Parts, percent: int) -> tuple[PredictorView, PredictorView]:
    components = fields.get(parts.status, "components", "predictor")
    traffic = _traffic(fields.get(components, "traffic"))
    latest = [t for t in traffic if t.latest_revision]
    previous = [t for t in traffic if t.latest_revision is False]
    created = fields.text(components, "latestCreatedRevision")
    ready_revision = fields.text(components, "latestReadyRevision")
    return (
        PredictorView(
            revision=previous[0].revision_name if previous else None,
            trafficPercent=previous[0].percent if previous else 100 - percent,
            ready=True if previous else None,
        ),
        PredictorView(
            revision=latest[0].revision_name if latest else created,
            image=fields.text(parts.container, "image"),
            storageUri=_storage_uri(parts.predictor, parts.container),
            trafficPercent=latest[0].percent if latest else percent,
            ready=None if created is None else created == ready_revision,
        ),
    )


@dataclass(frozen=True)
class AutoCanary:
    """What an opted-in canary (``canary.autoPromote``) calls for now.

    ``promote`` (Ready long enough), ``abort`` (its pods fail; ``reason`` says
    how), or ``wait`` (Ready, promoted in ``wait_seconds``).
    """

    action: Literal["promote", "abort", "wait"]
    reason: str = ""
    wait_seconds: int = 0


def auto_canary(
    isvc: Mapping[str, Any],
    canary_pods: Sequence[Mapping[str, Any]],
    *,
    now: datetime.datetime,
) -> AutoCanary | None:
    """The decision for a Standard-mode canary that opted in to automatic promotion.

    None when there is nothing to do: no canary, no (readable) opt-in on its
    predictor (``AUTO_PROMOTE_ANNOTATION``), the model stopped or being deleted,
    or the canary neither failed nor Ready yet (its readiness is a change the
    caller hears of). ``canary_pods`` are the canary Deployment's pods: one
    that no node takes or whose container cannot start (``pod_failure``) aborts
    it. Ready means KServe's ``CanaryPredictorReady`` True and its
    ``canaryStatuses`` entry ready; the time counts from the condition's
    ``lastTransitionTime`` (``now`` when it has none). Pure: ``now`` is given.
    """
    parts = _Parts(isvc)
    after = _auto_promote_after(parts)
    if after is None:
        return None
    failure = pod_failure(canary_pods)
    if failure is not None:
        return AutoCanary("abort", f"{failure[0]}: {failure[1]}")
    condition = parts.conditions.get("CanaryPredictorReady")
    if condition is None or not _canary_ready(parts, condition):
        return None
    since = _time(condition.get("lastTransitionTime")) or now
    left = after - (now - since).total_seconds()
    if left <= 0:
        return AutoCanary("promote", f"Ready for {after}s")
    return AutoCanary("wait", wait_seconds=max(1, math.ceil(left)))


def _auto_promote_after(parts: _Parts) -> int | None:
    """The canary's ``afterSeconds``; None without a canary that opted in, or when
    the model is stopped or being deleted (nothing to finish then)."""
    entries = fields.items(parts.spec, "canary")
    if not entries or parts.deleting or _true(parts.conditions.get("Stopped")):
        return None
    after = fields.get(entries[0], "predictor", "annotations", AUTO_PROMOTE_ANNOTATION)
    return int(after) if isinstance(after, str) and after.isdigit() else None


def _canary_ready(parts: _Parts, condition: Mapping[str, Any]) -> bool:
    """``CanaryPredictorReady`` True and the first canary's ``canaryStatuses`` entry ready."""
    entries = fields.items(parts.spec, "canary")
    name = fields.get(entries[0], "predictor", "name") if entries else None
    reported = [
        entry for entry in fields.items(parts.status, "canaryStatuses") if entry.get("name") == name
    ]
    return _true(condition) and bool(reported) and reported[0].get("ready") is True


def _time(value: object) -> datetime.datetime | None:
    """An RFC 3339 time as Kubernetes writes it; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def _rolling_out(parts: _Parts) -> bool:
    """KServe's own status says the model's new pods or revision are not serving yet.

    Standard mode: KServe (``PropagateRawStatus``) marks ``PredictorReady``
    True as soon as the Deployment is Available, which the previous pods keep
    it during a roll-out, with the Available condition's reason
    ``MinimumReplicasAvailable``; once the new ReplicaSet is available it takes
    the Progressing condition's ``NewReplicaSetAvailable`` instead. So that
    reason on a True PredictorReady means the current spec is not yet served.
    Knative mode: the latest created revision is not the latest ready one
    (KServe's own test in ``PropagateModelStatus``).
    """
    if parts.mode == KNATIVE_MODE:
        predictor = fields.get(parts.status, "components", "predictor")
        created = fields.text(predictor, "latestCreatedRevision")
        return created is not None and created != fields.text(predictor, "latestReadyRevision")
    if parts.mode != STANDARD_MODE:
        return False
    predictor_ready = parts.conditions.get("PredictorReady")
    return _true(predictor_ready) and fields.get(predictor_ready, "reason") == _ROLLING_OUT_REASON


def _being_deleted(obj: Mapping[str, Any]) -> bool:
    """A delete was accepted; the object stays until its finalizers are removed."""
    return fields.get(obj, "metadata", "deletionTimestamp") is not None


def _failed_load(parts: _Parts) -> tuple[str, str] | None:
    """KServe's ``modelStatus.lastFailureInfo`` while the failure is current, as (reason, message).

    KServe (``PropagateModelStatus``) fills ``lastFailureInfo`` from the first
    pod's ``kserve-container`` or storage initializer when it ends in Error or
    CrashLoopBackOff (reason ``ModelLoadFailed``, the termination message and
    exit code), and marks the model ``targetModelState: FailedToLoad`` /
    ``transitionStatus: BlockedByFailedLoad``. It keeps ``lastFailureInfo``
    after a later successful load, so without those markers the failure is
    history and None is returned.
    """
    model_status = parts.status.get("modelStatus")
    info = fields.get(model_status, "lastFailureInfo")
    if not isinstance(info, Mapping):
        return None
    current = (
        fields.text(model_status, "states", "targetModelState") == "FailedToLoad"
        or fields.text(model_status, "transitionStatus") in _FAILED_TRANSITIONS
    )
    if not current:
        return None
    message = fields.text(info, "message") or ""
    exit_code = fields.integer(info, "exitCode")
    if exit_code:
        message = f"{message} (exit code {exit_code})" if message else f"exit code {exit_code}"
    return fields.text(info, "reason") or FAILED_LOAD_REASON, message


def _true(condition: Mapping[str, Any] | None) -> bool:
    """The condition is there and its status is ``"True"``."""
    return condition is not None and condition.get("status") == "True"


def _conditions_by_type(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """An object's ``status.conditions`` by type; items without a string type skipped.

    Knative keeps one condition per type; should a type repeat, the first one
    counts, as a reader scanning the list in order would find it.
    """
    by_type: dict[str, Mapping[str, Any]] = {}
    for condition in fields.items(status, "conditions"):
        kind = condition.get("type")
        if isinstance(kind, str) and kind not in by_type:
            by_type[kind] = condition
    return by_type


def _conditions(status: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """All readable conditions, as ``Condition`` fields; items without a string
    ``type`` are skipped.

    A condition without a string ``status`` is reported ``"Unknown"``, the value
    Kubernetes uses when a condition cannot be determined. Fields rather than
    ``Condition`` objects: ``ModelDetail`` validates them all in its one pass,
    ~2 µs per condition less than a ``Condition(...)`` each (a model has 4-6).
    """
    return [
        {
            "type": kind,
            "status": fields.text(condition, "status") or "Unknown",
            "reason": fields.text(condition, "reason"),
            "message": fields.text(condition, "message"),
            "lastTransitionTime": fields.text(condition, "lastTransitionTime"),
        }
        for condition in fields.items(status, "conditions")
        if (kind := fields.text(condition, "type")) is not None
    ]


def _traffic(value: object) -> list[TrafficTarget]:
    return [
        TrafficTarget(
            revisionName=fields.text(target, "revisionName"),
            percent=fields.integer(target, "percent"),
            latestRevision=fields.boolean(target, "latestRevision"),
            tag=fields.text(target, "tag"),
        )
        for target in fields.items(value)
    ]


def _predictor_container(predictor: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The custom predictor container: the one named ``kserve-container``, else the first."""
    containers = fields.items(predictor, "containers")
    for container in containers:
        if container.get("name") == KSERVE_CONTAINER:
            return container
    return containers[0] if containers else None


def _serving_spec(
    predictor: Mapping[str, Any], container: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """Where env and resources live: the custom ``container`` (``_predictor_container``
    of ``predictor``), else ``predictor.model``.

    KServe's model spec embeds a container spec, so a model-format predictor
    carries ``env`` and ``resources`` on ``spec.predictor.model``.
    """
    if container is not None:
        return container
    model = predictor.get("model")
    return model if isinstance(model, Mapping) else None


def _envs(value: object) -> dict[str, str]:
    """``name -> value`` of a container's ``env``; references shown, never resolved.

    An entry with neither ``value`` nor ``valueFrom`` is the empty string, as in
    Kubernetes. A later entry with the same name wins, as in the container.
    """
    envs: dict[str, str] = {}
    for entry in fields.items(value):
        name = fields.text(entry, "name")
        if name is None:
            continue
        reference = entry.get("valueFrom")
        if isinstance(reference, Mapping):
            envs[name] = _env_reference(reference)
        else:
            envs[name] = fields.text(entry, "value") or ""
    return envs


def _env_reference(reference: Mapping[str, Any]) -> str:
    """The placeholder for a ``valueFrom``: its kind and what it points at."""
    for key, kind in _ENV_REFERENCE_KINDS.items():
        source = reference.get(key)
        if not isinstance(source, Mapping):
            continue
        if key == "fieldRef":
            target = fields.text(source, "fieldPath")
        elif key == "resourceFieldRef":
            target = fields.text(source, "resource")
        else:
            name, item = fields.text(source, "name"), fields.text(source, "key")
            target = f"{name}/{item}" if name is not None and item is not None else None
        return f"(from {kind} {target})" if target else f"(from {kind})"
    return ENV_REFERENCE_UNKNOWN


def _storage_uri(predictor: Mapping[str, Any], container: Mapping[str, Any] | None) -> str | None:
    """``predictor.model.storageUri``, else a literal ``STORAGE_URI`` of its ``container``
    (``_predictor_container`` of ``predictor``)."""
    declared = fields.text(predictor, "model", "storageUri")
    if declared is not None:
        return declared
    for entry in fields.items(container, "env"):
        # A STORAGE_URI from a Secret is not shown: it may carry credentials.
        if entry.get("name") == STORAGE_URI_ENV and "valueFrom" not in entry:
            return fields.text(entry, "value")
    return None


def _reported_mode(metadata: Mapping[str, Any], status: Mapping[str, Any]) -> str | None:
    """``status.deploymentMode``, else the annotation, old names normalized; else None.

    The status comes first because it records the mode KServe chose, and the mode
    cannot change after creation (KServe's validating webhook refuses it). An
    empty ``status.deploymentMode`` is not a report, as in KServe.
    """
    mode = fields.text(status, "deploymentMode") or fields.text(
        metadata, "annotations", DEPLOYMENT_MODE_ANNOTATION
    )
    return None if mode is None else _LEGACY_MODES.get(mode, mode)


# JSON of unknown shape into the answers' types: each returns None or empty.


def _json_object(value: object) -> dict[str, Any] | None:
    """A JSON object as a dict with its string keys, or None when ``value`` is not one."""
    if not isinstance(value, Mapping):
        return None
    return {key: item for key, item in value.items() if isinstance(key, str)}


def _str_dict(value: object) -> dict[str, str]:
    """The string-to-string entries of a mapping (labels, annotations); others dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {
        key: item for key, item in value.items() if isinstance(key, str) and isinstance(item, str)
    }
