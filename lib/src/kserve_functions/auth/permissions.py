"""What each operation asks RBAC of its caller: one table, read by the operations
and by ``GET /access`` (which tells the console what to enable).

A ``Permission`` is the SubjectAccessReviews an operation makes, in order: each
``Needs`` is verbs on one resource (models unless named) in the target
namespace. ``Authorizer.authorize_for`` checks one; the operation's route then
refuses with the first review that said no, and ``/access`` says the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from kserve_functions.core.resources import (
    CONTROLLER_REVISION,
    CORE_EVENT,
    INFERENCE_SERVICE,
    POD,
    ApiResource,
)


@dataclass(frozen=True)
class Needs:
    """``verbs`` on ``resource`` (its ``subresource``) in the target namespace."""

    verbs: tuple[str, ...]
    resource: ApiResource = INFERENCE_SERVICE
    subresource: str | None = None


Permission = tuple[Needs, ...]

# A deploy is a server-side apply: it may create or patch. A rollback re-applies
# a stored request, so it needs what a deploy needs.
DEPLOY: Permission = (Needs(("create", "patch")),)
ROLLBACK: Permission = DEPLOY
# Stop, resume, promote and abort patch the model.
CHANGE: Permission = (Needs(("patch",)),)
DELETE: Permission = (Needs(("delete",)),)
READ: Permission = (Needs(("get",)),)
WATCH: Permission = (Needs(("get", "watch")),)
LIST: Permission = (Needs(("list",)),)
WATCH_LIST: Permission = (Needs(("list", "watch")),)
LOGS: Permission = (Needs(("get",)), Needs(("get",), POD, "log"))
EVENTS: Permission = (Needs(("get",)), Needs(("list",), CORE_EVENT))
REVISIONS: Permission = (Needs(("get",)), Needs(("list",), CONTROLLER_REVISION))

BY_ACTION: dict[str, Permission] = {
    "deploy": DEPLOY,
    "rollback": ROLLBACK,
    "stop": CHANGE,
    "resume": CHANGE,
    "promote": CHANGE,
    "abort": CHANGE,
    "delete": DELETE,
    "get": READ,
    "watch": WATCH,
    "list": LIST,
    "logs": LOGS,
    "events": EVENTS,
    "revisions": REVISIONS,
}
"""Each action ``GET /access`` reports, by the name the console uses."""
