"""Which status-change event a model calls for, given the last one sent (DESIGN §5).

The notify function sends ``dev.kserve-functions.model.ready|unready|failed|deleted``
when a model's state (``status.model_state``) crosses one of these lines, and
records the last one it sent on the model (``resources.REPORTED_STATE_ANNOTATION``,
the transition's name). This module decides, from that record and the state
read now, whether a new event is due:

- ``ready``: the model is ready, and the last event was not ``ready``;
- ``failed``: the model cannot become ready without a change, and the last
  event was not ``failed``;
- ``unready``: the last event was ``ready`` and the model now starts again,
  rolls out an update or is stopped;
- ``deleted``: the model is being deleted or is gone, and the last event was
  not ``deleted``;
- nothing otherwise, in particular when the state read is the one recorded: the
  write of the record is itself a change of the model, and must report nothing.

The decision looks at the state alone, not at the model's generation: for a
moment after an update KServe's status still describes the previous spec (a
failed model redeployed reads failed at the new generation until KServe has
reconciled it), so "failed again at a new generation" cannot be told from
"not reconciled yet". A failed model that is redeployed is reported when it
becomes ready; one that fails the same way again was never seen to leave
``failed`` and is not reported twice. Pure: no client, no clock.
"""

from __future__ import annotations

from typing import Literal, get_args

from kserve_functions.core.models import ModelSummary

Transition = Literal["ready", "unready", "failed", "deleted"]
TRANSITIONS: tuple[Transition, ...] = get_args(Transition)
_BY_NAME: dict[str, Transition] = {transition: transition for transition in TRANSITIONS}


def parse_reported(value: object) -> Transition | None:
    """The transition a record names; None when there is no record or it is unreadable.

    An unreadable value (written by hand, or by a future version) counts as no
    record: the current state is then reported once more rather than never.
    """
    return _BY_NAME.get(value) if isinstance(value, str) else None


def decide(previous: str | None, current: ModelSummary | None) -> Transition | None:
    """The event due for a model whose record of the last event sent is ``previous``.

    ``previous`` is the raw annotation value (None: nothing sent yet);
    ``current`` the model's summary as read now (``status.summary_of``), None
    when the model no longer exists. Returns None when no event is due; the
    transition returned is both the event to send and the record to write.
    """
    last = parse_reported(previous)
    if current is None or current.state == "deleting":
        return None if last == "deleted" else "deleted"
    if current.state == "ready":
        return None if last == "ready" else "ready"
    if current.state == "failed":
        return None if last == "failed" else "failed"
    # starting, updating, stopped: news only for whoever was told it is ready.
    return "unready" if last == "ready" else None
