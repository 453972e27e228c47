"""What every operation needs, in one value: the settings, the Kubernetes client, the authorizer.

Its own module so that everything above the Kubernetes layer (operations,
rollouts, eventing, routing) can depend on it without depending on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve_functions import auth, status
from kserve_functions.config import Settings
from kserve_functions.kube import Kube


@dataclass(frozen=True)
class Context:
    """The settings, the Kubernetes client and the authorizer of one started function."""

    settings: Settings
    kube: Kube
    auth: auth.Authorizer

    def summary_url(self, isvc: Mapping[str, Any]) -> str | None:
        """The model's URL: KServe's, else predicted for its mode (``status.model_url``)."""
        return status.model_url(isvc, self.settings.model_urls)
