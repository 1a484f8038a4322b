"""What an admin did to another user's job: kept in the job's record, shown in its history.

An admin may cancel or run again anyone's job. Each such action is recorded in the job's record
(the annotation :data:`~.labels.ACTIONS`, a JSON list) with the admin's name and the time, and a
job an admin submitted as a rerun records that too; ``GET /jobs/{id}`` shows them as
``actions``, to the owner as to admins. A user's own cancels and reruns are not recorded here:
the job's reason already says "cancelled by you".
"""

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from ..apitypes import ActionView
from . import labels as L


class Action(str, Enum):
    """What an admin did."""

    CANCELLED = "cancelled"  # cancelled the job
    RERUN = "rerun"  # submitted it again, as job ``job``
    SUBMITTED = "submitted"  # submitted this job, as a rerun of job ``job``


_WORDS = {
    Action.CANCELLED: "cancelled by admin {by}",
    Action.RERUN: "run again by admin {by}, as job {job}",
    Action.SUBMITTED: "submitted by admin {by}, as a rerun of job {job}",
}


def entry(action: Action, by: str, time: str, job: str | None = None) -> dict[str, Any]:
    """One recorded action: what, by whom, when, and the other job of a rerun."""
    recorded: dict[str, Any] = {"action": action.value, "by": by, "time": time}
    if job is not None:
        recorded["job"] = job
    return recorded


def recorded(annotations: Mapping[str, str]) -> list[dict[str, Any]]:
    """The actions recorded in a record's annotations, oldest first."""
    found: list[dict[str, Any]] = json.loads(annotations.get(L.ACTIONS) or "[]")
    return found


def annotations(actions: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The record annotation that holds ``actions``."""
    return {L.ACTIONS: json.dumps(list(actions), sort_keys=True)}


def shown(actions: Sequence[Mapping[str, Any]]) -> list[ActionView]:
    """The actions as the API shows them: each with its ``words``."""
    return [_shown(a) for a in actions]


def _shown(action: Mapping[str, Any]) -> ActionView:
    """One recorded action as the API shows it."""
    words = _WORDS[Action(action["action"])].format(**{"job": "", **action})
    view: ActionView = {
        "action": action["action"],
        "by": action["by"],
        "time": action["time"],
        "words": words,
    }
    if "job" in action:
        view["job"] = action["job"]
    return view
