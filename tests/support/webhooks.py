"""KServe's admission webhook as the apiserver sees it when its server is down."""

from __future__ import annotations

from controlplane.processes import free_port
from kubernetes import client

VALIDATOR = "inferenceservice.serving.kserve.io"
VALIDATOR_PATH = "/validate-serving-kserve-io-v1beta1-inferenceservice"


def install_down_validator(
    admin_api: client.ApiClient, namespace: str, *, timeout_seconds: int
) -> str:
    """A copy of KServe's InferenceService validator, for ``namespace``, at a dead port.

    The apiserver fails the call exactly as when the manager's webhook server
    is not running, while other namespaces keep the working one. Returns the
    configuration's name: deleting it brings ``namespace`` back.
    """
    admission = client.AdmissionregistrationV1Api(admin_api)
    kserve = admission.read_validating_webhook_configuration(VALIDATOR)
    [webhook] = kserve.webhooks or []
    webhook.client_config.url = f"https://127.0.0.1:{free_port()}{VALIDATOR_PATH}"
    webhook.namespace_selector = client.V1LabelSelector(
        match_labels={"kubernetes.io/metadata.name": namespace}
    )
    webhook.timeout_seconds = timeout_seconds
    name = f"down-{namespace}"
    admission.create_validating_webhook_configuration(
        client.V1ValidatingWebhookConfiguration(
            metadata=client.V1ObjectMeta(name=name), webhooks=[webhook]
        )
    )
    return name
