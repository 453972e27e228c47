"""The kube layer: the only code that talks to the Kubernetes API.

- ``requests``: every call as a plain ``KubeRequest`` value (pure, unit-tested).
- ``transport``: the one sender, on the official client's asyncio ``ApiClient``.
- ``answers``: apiserver answers onto the ``errors`` hierarchy (one table, pure).
- ``paging``: the one continue-token loop.
- ``client``: ``Kube``, the named operations everything above calls.
"""

from kserve_functions.kube.answers import DEFAULT_RETRY_AFTER_SECONDS, map_status
from kserve_functions.kube.client import BOOKMARK, SYNC, SYNCED, Caller, Change, Kube
from kserve_functions.kube.paging import Page, pages
from kserve_functions.kube.requests import (
    ADMISSION_PROBE_NAME,
    FIELD_MANAGER,
    KubeRequest,
    predictor_deployment_name,
)
from kserve_functions.kube.transport import KubeConfigError, check_configuration

__all__ = [
    "ADMISSION_PROBE_NAME",
    "BOOKMARK",
    "DEFAULT_RETRY_AFTER_SECONDS",
    "FIELD_MANAGER",
    "SYNC",
    "SYNCED",
    "Caller",
    "Change",
    "Kube",
    "KubeConfigError",
    "KubeRequest",
    "Page",
    "check_configuration",
    "map_status",
    "pages",
    "predictor_deployment_name",
]
