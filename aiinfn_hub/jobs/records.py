"""Writing a job's record: its attempts, its outcome and admins' actions, which are what
a restarted service rebuilds the job from; and reading back the request stored in it.

The controller writes the record as jobs move on; the user operations (cancel, rerun) write
it through the same :class:`RecordWriter`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from ..apitypes import AttemptView, JobRequest
from ..kube.client import Kube
from ..kube.conditions import now_iso
from . import actions as A
from . import labels as L
from .manifests import staged_key
from .model import Outcome, State
from .publisher import Publisher
from .tracked import Tracked


class RecordWriter:
    """Patches jobs' records, and ends jobs for good."""

    def __init__(self, *, kube: Kube, publisher: Publisher) -> None:
        self.kube = kube
        self.publisher = publisher

    async def patch(
        self,
        tracked: Tracked,
        history: list[AttemptView],
        final: dict[str, Any] | None,
        actions: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Write the attempts, the outcome and admins' new ``actions`` into the record."""
        annotations = {L.ATTEMPTS: json.dumps(history, sort_keys=True)}
        if final:
            annotations[L.FINAL] = json.dumps(final, sort_keys=True)
        if actions:
            annotations |= A.annotations([*tracked.actions, *actions])
        updated = await self.kube.patch(
            "configmap", L.record_name(tracked.job_id), {"metadata": {"annotations": annotations}}
        )
        keep_answer(tracked, updated)

    async def finish(
        self,
        tracked: Tracked,
        state: State,
        reason: str,
        job: dict[str, Any] | None,
        actions: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """End the job for good; an attempt still in progress is recorded as ended with it
        (and an admin's ``actions``, e.g. a cancel, with the outcome)."""
        history = tracked.history
        shown = tracked.view["attempts"] if tracked.view else []
        if job is not None and not finished(job) and shown and shown[-1].get("outcome") is None:
            outcome = Outcome(state.value).value
            history = [*history, {**shown[-1], "outcome": outcome, "ended": now_iso()}]
            history[-1]["reason"] = reason
        final = {"state": state.value, "reason": reason}
        await self.patch(tracked, history, final, actions)
        if job is not None and not finished(job):
            await self.kube.delete("job", job["metadata"]["name"])
        self.publisher.publish(tracked, state=state, reason=reason)


def spec_data(tracked: Tracked) -> JobRequest:
    """The request stored in a job's record, staged file re-attached, ready for parse_spec
    (which checks it again, as any submission)."""
    data = dict(tracked.spec)
    script = data.get("script")
    if script:
        key = staged_key(script["path"].rsplit("/", 1)[-1])
        content = (tracked.stored.get("data") or {}).get(key, "")
        data["script"] = {**script, "content": content}
    resources = {k: v for k, v in (data.pop("resources", None) or {}).items() if v is not None}
    data["resources"] = resources
    return cast(JobRequest, {k: v for k, v in data.items() if v is not None})


def finished(job: Mapping[str, Any]) -> bool:
    """Whether the Job has ended (Complete or Failed)."""
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def newer(candidate: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Whether ``candidate`` is more recent than ``current`` (by resourceVersion)."""
    if current is None:
        return True
    try:
        return int(candidate["metadata"]["resourceVersion"]) > int(
            current["metadata"]["resourceVersion"]
        )
    except (KeyError, ValueError):
        return True


def keep_answer(tracked: Tracked, answer: dict[str, Any]) -> None:
    """Keep the API server's answer to a write of the job's record, unless the watch already
    brought that version or a newer one: the controller may have reconciled it since, and the
    job may rest again (replacing the record wakes it, and only the watch's next event would
    make it rest again)."""
    if newer(answer, tracked.record):
        tracked.record = answer


def keep_newest(objects: dict[int, dict[str, Any]], key: int, obj: dict[str, Any]) -> None:
    """Store an API answer unless the watch already brought a newer version of the object."""
    current = objects.get(key)
    if current is None or newer(obj, current):
        objects[key] = obj
