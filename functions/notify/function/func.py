"""The notify function: status-change events of models, sent to ``K_SINK``.

At ``/`` it takes the events a Knative ApiServerSource sends about
InferenceServices and their pods, and sends ``dev.kserve-functions.model.ready``,
``.unready``, ``.failed`` or ``.deleted`` once per transition. Thin by design:
the decisions live in the shared library.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import notify


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return notify.new()
