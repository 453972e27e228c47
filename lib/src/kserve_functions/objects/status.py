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
from typing import Any, Literal

from kserve_functions.config import ModelUrls
from kserve_functions.core import fields, merging
from kserve_functions.core.models import (
    Condition,
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
    if _being_deleted(isvc):
        return False
    ready = _condition(isvc, "Ready")
    if ready is None or ready.get("status") != "True":
        return False
    return not _rolling_out(isvc) and (rollout is None or rollout.complete)


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
    if deployment_mode(isvc) != STANDARD_MODE:
        return None
    if deployment is None:
        return Rollout(complete=False, message="KServe has not created the predictor yet")
    version = fields.text(deployment, "metadata", "resourceVersion") or ""
    wanted = fields.text(isvc, "spec", "predictor", "annotations", RESTART_TOKEN_ANNOTATION)
    template = fields.get(deployment, "spec", "template", "metadata", "annotations")
    if wanted is not None and fields.text(template, RESTART_TOKEN_ANNOTATION) != wanted:
        return Rollout(
            complete=False,
            message="KServe has not applied the current spec yet",
            resource_version=version,
        )
    generation = fields.integer(deployment, "metadata", "generation")
    observed = fields.integer(deployment, "status", "observedGeneration")
    progressing = _condition(deployment, "Progressing")
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
    reported = _reported_mode(isvc)
    return KNATIVE_MODE if reported is None else reported


def model_url(isvc: Mapping[str, Any], urls: ModelUrls) -> str | None:
    """The model's URL: ``status.url`` once KServe has set it, else the predicted one.

    The prediction formats the template of the model's ``deployment_mode`` with
    its ``name``, ``namespace`` and ``urls.domain``. ModelMesh, or any mode
    other than Standard and Knative, has no prediction: ``None``. A template with
    other placeholders raises ``KeyError`` (configuration is validated when the
    function starts, not per object).
    """
    reported = fields.text(isvc, "status", "url")
    if reported:
        return reported
    mode = deployment_mode(isvc)
    if mode == STANDARD_MODE:
        template = urls.standard_template
    elif mode == KNATIVE_MODE:
        template = urls.knative_template
    else:
        return None
    return template.format(name=_name(isvc), namespace=_namespace(isvc), domain=urls.domain)


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
    if _being_deleted(isvc):
        return Standing("deleting", DELETING_REASON, DELETING_MESSAGE)
    stopped = _condition(isvc, "Stopped")
    if stopped is not None and stopped.get("status") == "True":
        return Standing("stopped", STOPPED_REASON, STOPPED_MESSAGE)
    if is_ready(isvc, rollout=rollout):
        return Standing("ready")
    failure = _failed_load(isvc) or pod_failure(pods or ())
    if failure is not None:
        return Standing("failed", *failure)
    reason, message = _not_ready_because(isvc, rollout)
    ready = _condition(isvc, "Ready")
    updating = ready is not None and ready.get("status") == "True"
    return Standing("updating" if updating else "starting", reason, message)


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


def summary_of(
    isvc: Mapping[str, Any],
    *,
    urls: ModelUrls,
    rollout: Rollout | None = None,
    pods: Sequence[Mapping[str, Any]] | None = None,
) -> ModelSummary:
    """One ``GET /models`` item: the seed's ``name, namespace, url, ready`` plus additions.

    Computed from the objects given, nothing read (``summaries.read_summary``
    reads the roll-out and pods it needs, then calls this). ``url`` is
    ``model_url(isvc, urls)``. ``state``, ``reason`` and ``message`` are
    ``model_state``'s (reason and message only when the model is not ready);
    ``createdAt`` is ``metadata.creationTimestamp`` as given.
    """
    standing = model_state(isvc, rollout=rollout, pods=pods)
    return ModelSummary(
        name=_name(isvc),
        namespace=_namespace(isvc),
        url=model_url(isvc, urls),
        ready=standing.state == "ready",
        state=standing.state,
        generation=fields.integer(isvc, "metadata", "generation"),
        image=_image(isvc),
        modelFormat=fields.text(isvc, "spec", "predictor", "model", "modelFormat", "name"),
        reason=standing.reason,
        message=standing.message,
        createdAt=fields.text(isvc, "metadata", "creationTimestamp"),
    )


def detail_of(
    isvc: Mapping[str, Any],
    *,
    urls: ModelUrls,
    rollout: Rollout | None = None,
    pods: Sequence[Mapping[str, Any]] | None = None,
) -> ModelDetail:
    """The ``GET /models/{namespace}/{name}`` answer: the summary plus spec and status details.

    Computed from the objects given, as ``summary_of`` (``summaries.read_detail``
    reads them). ``deploymentMode`` is the mode KServe reported in
    ``status.deploymentMode``, else the annotation, with the old names read as
    the new ones (as in ``deployment_mode``). With neither it is ``None``:
    nothing on the object says which mode it runs in, though ``url`` is
    predicted for Knative, the mode such an object is in when KServe's webhook
    admitted it.

    Env vars set by reference (``valueFrom``) are shown as a placeholder naming the
    source, e.g. ``(from secret creds/token)``, ``(from configMap settings/level)``,
    ``(from field metadata.name)``, ``(from resource limits.cpu)``, or
    ``(from a reference)``; they are never resolved.
    """
    summary = summary_of(isvc, urls=urls, rollout=rollout, pods=pods)
    predictor = fields.get(isvc, "spec", "predictor")
    components = fields.get(isvc, "status", "components", "predictor")
    serving = _serving_spec(isvc)
    stable, canary = canary_views(isvc)
    return ModelDetail(
        name=summary.name,
        namespace=summary.namespace,
        url=summary.url,
        ready=summary.ready,
        state=summary.state,
        image=summary.image,
        modelFormat=summary.model_format,
        reason=summary.reason,
        message=summary.message,
        createdAt=summary.created_at,
        generation=summary.generation,
        observedGeneration=fields.integer(isvc, "status", "observedGeneration"),
        conditions=_conditions(isvc),
        latestCreatedRevision=fields.text(components, "latestCreatedRevision"),
        latestReadyRevision=fields.text(components, "latestReadyRevision"),
        traffic=_traffic(fields.get(components, "traffic")),
        # modelStatus is passed on as KServe wrote it: its states and
        # lastFailureInfo (reason, message, location, exitCode) explain a failed load.
        modelStatus=_json_object(fields.get(isvc, "status", "modelStatus")),
        envs=_envs(fields.get(serving, "env")),
        resources=_json_object(fields.get(serving, "resources")),
        storageUri=_storage_uri(isvc),
        runtime=fields.text(predictor, "model", "runtime"),
        deploymentMode=_reported_mode(isvc),
        minReplicas=fields.integer(predictor, "minReplicas"),
        maxReplicas=fields.integer(predictor, "maxReplicas"),
        canaryTrafficPercent=fields.integer(predictor, "canaryTrafficPercent"),
        labels=_str_dict(fields.get(isvc, "metadata", "labels")),
        annotations=_str_dict(fields.get(isvc, "metadata", "annotations")),
        stable=stable,
        canary=canary,
    )


def canary_views(isvc: Mapping[str, Any]) -> tuple[PredictorView | None, PredictorView | None]:
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
    canaries = fields.items(isvc, "spec", "canary")
    if canaries:
        return _standard_views(isvc, canaries)
    percent = fields.integer(isvc, "spec", "predictor", "canaryTrafficPercent")
    if percent is not None and 0 < percent < 100:  # noqa: PLR2004 - percent bounds
        return _knative_views(isvc, percent)
    return None, None


def _standard_views(
    isvc: Mapping[str, Any], canaries: Sequence[Mapping[str, Any]]
) -> tuple[PredictorView, PredictorView]:
    entry = canaries[0]
    entry_predictor = fields.get(entry, "predictor")
    name = fields.text(entry_predictor, "name")
    stable_predictor = fields.get(isvc, "spec", "predictor")
    merged = merging.merged(fields.mapping(stable_predictor), fields.mapping(entry_predictor))
    as_canary = {"spec": {"predictor": merged}}
    reported = next(
        (
            status
            for status in fields.items(isvc, "status", "canaryStatuses")
            if status.get("name") == name
        ),
        None,
    )
    condition = _condition(isvc, "CanaryPredictorReady")
    canary_ready = (
        fields.boolean(reported, "ready")
        if reported is not None
        else (None if condition is None else condition.get("status") == "True")
    )
    shares = sum(fields.integer(item, "trafficPercent") or 0 for item in canaries)
    stable_condition = _condition(isvc, "PredictorReady")
    return (
        PredictorView(
            name=fields.text(stable_predictor, "name"),
            image=_image(isvc),
            storageUri=_storage_uri(isvc),
            trafficPercent=max(0, 100 - shares),
            ready=None if stable_condition is None else stable_condition.get("status") == "True",
        ),
        PredictorView(
            name=name,
            image=_image(as_canary),
            storageUri=_storage_uri(as_canary),
            trafficPercent=fields.integer(entry, "trafficPercent"),
            ready=canary_ready,
        ),
    )


def _knative_views(isvc: Mapping[str, Any], percent: int) -> tuple[PredictorView, PredictorView]:
    components = fields.get(isvc, "status", "components", "predictor")
    latest = [t for t in _traffic(fields.get(components, "traffic")) if t.latest_revision]
    previous = [
        t for t in _traffic(fields.get(components, "traffic")) if t.latest_revision is False
    ]
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
            image=_image(isvc),
            storageUri=_storage_uri(isvc),
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
    after = _auto_promote_after(isvc)
    if after is None:
        return None
    failure = pod_failure(canary_pods)
    if failure is not None:
        return AutoCanary("abort", f"{failure[0]}: {failure[1]}")
    condition = _condition(isvc, "CanaryPredictorReady")
    if condition is None or not _canary_ready(isvc, condition):
        return None
    since = _time(condition.get("lastTransitionTime")) or now
    left = after - (now - since).total_seconds()
    if left <= 0:
        return AutoCanary("promote", f"Ready for {after}s")
    return AutoCanary("wait", wait_seconds=max(1, math.ceil(left)))


def _auto_promote_after(isvc: Mapping[str, Any]) -> int | None:
    """The canary's ``afterSeconds``; None without a canary that opted in, or when
    the model is stopped or being deleted (nothing to finish then)."""
    entries = fields.items(isvc, "spec", "canary")
    stopped = _condition(isvc, "Stopped")
    if not entries or _being_deleted(isvc) or fields.get(stopped, "status") == "True":
        return None
    after = fields.get(entries[0], "predictor", "annotations", AUTO_PROMOTE_ANNOTATION)
    return int(after) if isinstance(after, str) and after.isdigit() else None


def _canary_ready(isvc: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """``CanaryPredictorReady`` True and the first canary's ``canaryStatuses`` entry ready."""
    entries = fields.items(isvc, "spec", "canary")
    name = fields.get(entries[0], "predictor", "name") if entries else None
    reported = [
        entry
        for entry in fields.items(isvc, "status", "canaryStatuses")
        if entry.get("name") == name
    ]
    return condition.get("status") == "True" and bool(reported) and reported[0].get("ready") is True


def _time(value: object) -> datetime.datetime | None:
    """An RFC 3339 time as Kubernetes writes it; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def _not_ready_because(
    isvc: Mapping[str, Any], rollout: Rollout | None
) -> tuple[str | None, str | None]:
    """``(reason, message)`` for a model that ``is_ready`` calls not ready.

    A failed load KServe reports (``_failed_load``) comes first: its Ready
    condition then only says the Deployment lacks available pods
    (``MinimumReplicasUnavailable``), while the failure says why.
    """
    ready = _condition(isvc, "Ready")
    if ready is None:
        return PENDING_REASON, PENDING_MESSAGE
    if ready.get("status") != "True":
        return _failed_load(isvc) or (fields.text(ready, "reason"), fields.text(ready, "message"))
    # Ready, yet not ready: a roll-out KServe reports, or one its Deployment shows.
    incomplete = rollout is not None and not rollout.complete and not _rolling_out(isvc)
    return ROLLOUT_REASON, rollout.message if incomplete and rollout else ROLLOUT_MESSAGE


def _rolling_out(isvc: Mapping[str, Any]) -> bool:
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
    if deployment_mode(isvc) == KNATIVE_MODE:
        predictor = fields.get(isvc, "status", "components", "predictor")
        created = fields.text(predictor, "latestCreatedRevision")
        return created is not None and created != fields.text(predictor, "latestReadyRevision")
    if deployment_mode(isvc) != STANDARD_MODE:
        return False
    predictor_ready = _condition(isvc, "PredictorReady")
    return (
        predictor_ready is not None
        and predictor_ready.get("status") == "True"
        and predictor_ready.get("reason") == _ROLLING_OUT_REASON
    )


def _being_deleted(isvc: Mapping[str, Any]) -> bool:
    """A delete was accepted; the object stays until KServe's finalizer is removed."""
    return fields.get(isvc, "metadata", "deletionTimestamp") is not None


def _failed_load(isvc: Mapping[str, Any]) -> tuple[str, str] | None:
    """KServe's ``modelStatus.lastFailureInfo`` while the failure is current, as (reason, message).

    KServe (``PropagateModelStatus``) fills ``lastFailureInfo`` from the first
    pod's ``kserve-container`` or storage initializer when it ends in Error or
    CrashLoopBackOff (reason ``ModelLoadFailed``, the termination message and
    exit code), and marks the model ``targetModelState: FailedToLoad`` /
    ``transitionStatus: BlockedByFailedLoad``. It keeps ``lastFailureInfo``
    after a later successful load, so without those markers the failure is
    history and None is returned.
    """
    model_status = fields.get(isvc, "status", "modelStatus")
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


def _name(isvc: Mapping[str, Any]) -> str:
    return fields.text(isvc, "metadata", "name") or ""


def _namespace(isvc: Mapping[str, Any]) -> str:
    return fields.text(isvc, "metadata", "namespace") or ""


def _condition(isvc: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of type ``kind`` (Knative keeps one per type), if any."""
    for condition in fields.items(isvc, "status", "conditions"):
        if condition.get("type") == kind:
            return condition
    return None


def _conditions(isvc: Mapping[str, Any]) -> list[Condition]:
    """All readable conditions; items without a string ``type`` are skipped.

    A condition without a string ``status`` is reported ``"Unknown"``, the value
    Kubernetes uses when a condition cannot be determined.
    """
    return [
        Condition(
            type=kind,
            status=fields.text(condition, "status") or "Unknown",
            reason=fields.text(condition, "reason"),
            message=fields.text(condition, "message"),
            lastTransitionTime=fields.text(condition, "lastTransitionTime"),
        )
        for condition in fields.items(isvc, "status", "conditions")
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


def _predictor_container(isvc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The custom predictor container: the one named ``kserve-container``, else the first."""
    containers = fields.items(isvc, "spec", "predictor", "containers")
    for container in containers:
        if container.get("name") == KSERVE_CONTAINER:
            return container
    return containers[0] if containers else None


def _serving_spec(isvc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Where env and resources live: the custom container, else ``spec.predictor.model``.

    KServe's model spec embeds a container spec, so a model-format predictor
    carries ``env`` and ``resources`` on ``spec.predictor.model``.
    """
    container = _predictor_container(isvc)
    if container is not None:
        return container
    model = fields.get(isvc, "spec", "predictor", "model")
    return model if isinstance(model, Mapping) else None


def _image(isvc: Mapping[str, Any]) -> str | None:
    return fields.text(_predictor_container(isvc), "image")


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


def _storage_uri(isvc: Mapping[str, Any]) -> str | None:
    """``spec.predictor.model.storageUri``, else a literal ``STORAGE_URI`` of the container."""
    declared = fields.text(isvc, "spec", "predictor", "model", "storageUri")
    if declared is not None:
        return declared
    for entry in fields.items(_predictor_container(isvc), "env"):
        # A STORAGE_URI from a Secret is not shown: it may carry credentials.
        if entry.get("name") == STORAGE_URI_ENV and "valueFrom" not in entry:
            return fields.text(entry, "value")
    return None


def _reported_mode(isvc: Mapping[str, Any]) -> str | None:
    """``status.deploymentMode``, else the annotation, old names normalized; else None.

    The status comes first because it records the mode KServe chose, and the mode
    cannot change after creation (KServe's validating webhook refuses it). An
    empty ``status.deploymentMode`` is not a report, as in KServe.
    """
    mode = fields.text(isvc, "status", "deploymentMode") or fields.text(
        isvc, "metadata", "annotations", DEPLOYMENT_MODE_ANNOTATION
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
