"""Who changed a model, when and how (``audit``, pure)."""

from __future__ import annotations

import datetime

from controlplane import kserve
from kserve_functions.core.models import DeployRequest
from kserve_functions.kube import requests
from kserve_functions.objects import audit, manifests

AT = datetime.datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=datetime.UTC)
STORED = {
    "metadata": {"namespace": "ml", "name": "iris", "uid": "u-1", "resourceVersion": "42"},
}


def test_an_http_change_names_the_user_and_the_route() -> None:
    actor = audit.http_actor("system:serviceaccount:ci:deployer", "POST", "/deploy")

    assert audit.change_annotations(actor, AT) == {
        "kserve-functions.dev/changed-by": "system:serviceaccount:ci:deployer",
        "kserve-functions.dev/changed-at": "2026-11-29T12:00:00.123456Z",
        "kserve-functions.dev/changed-how": "POST /deploy",
    }


def test_without_authentication_the_change_is_anonymous() -> None:
    assert audit.http_actor(None, "DELETE", "/models/ml/iris").by == "anonymous (AUTH_MODE=none)"


def test_an_event_change_names_its_sender_type_source_and_id() -> None:
    actor = audit.event_actor(None, "dev.kserve-functions.model.deploy", "/ci", "e-7")

    assert actor == audit.Actor(
        by="the broker (EVENT_AUTH=trust-broker)",
        how="event dev.kserve-functions.model.deploy from /ci (id e-7)",
    )


def test_the_event_regards_the_model_by_uid_and_says_who() -> None:
    actor = audit.Actor(by="alice", how="POST /deploy")

    event = audit.event(
        STORED, reason=audit.UPDATED, note="model updated", actor=actor, at=AT, reporter="deploy@h"
    )

    assert event == {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"iris.{1795953600123456000:x}", "namespace": "ml"},
        "eventTime": "2026-11-29T12:00:00.123456Z",
        "reportingController": "kserve-functions.dev/api",
        "reportingInstance": "deploy@h",
        "action": "Updated",
        "reason": "Updated",
        "type": "Normal",
        "regarding": {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "namespace": "ml",
            "name": "iris",
            "uid": "u-1",
            "resourceVersion": "42",
        },
        "note": "model updated by alice (POST /deploy)",
    }
    assert requests.create_event(event).path == "/apis/events.k8s.io/v1/namespaces/ml/events"


def test_a_long_note_is_cut_to_what_the_apiserver_takes() -> None:
    actor = audit.Actor(by="x" * 2000, how="y")

    event = audit.event(STORED, reason="Deleted", note="n", actor=actor, at=AT, reporter="r")

    assert len(event["note"]) == 1024


def test_the_audit_annotations_join_the_requests_own() -> None:
    request = DeployRequest.model_validate(
        {"name": "iris", "namespace": "ml", "image": "r/m:1", "annotations": {"team": "a"}}
    )
    actor = audit.Actor(by="alice", how="POST /deploy")

    manifest = manifests.build_inference_service(
        request, restart_token="t", audit_annotations=audit.change_annotations(actor, AT)
    )

    assert manifest["metadata"]["annotations"] == {
        "team": "a",
        **audit.change_annotations(actor, AT),
    }


def test_a_rollout_patch_adds_each_audit_key_as_a_json_pointer() -> None:
    marks = {"kserve-functions.dev/changed-by": "registry r.io"}

    onto_existing = requests.replace_container_image(
        "ml", "iris", index=0, expected="a", image="b", annotations=marks
    )
    onto_none = requests.replace_container_image(
        "ml", "iris", index=0, expected="a", image="b", annotations=marks, has_annotations=False
    )

    assert isinstance(onto_existing.body, list)
    assert onto_existing.body[2] == {
        "op": "add",
        "path": "/metadata/annotations/kserve-functions.dev~1changed-by",
        "value": "registry r.io",
    }
    assert isinstance(onto_none.body, list)
    assert onto_none.body[2] == {"op": "add", "path": "/metadata/annotations", "value": marks}


def test_the_local_kserve_keeps_the_audit_annotations_off_the_pods() -> None:
    # KServe copies a model's annotations onto its pods; a retried deploy's new
    # changed-at would otherwise roll them.
    assert set(audit.AUDIT_ANNOTATIONS) <= set(kserve.NOT_PROPAGATED_ANNOTATIONS)
