"""Events and metrics: what users are told when a job changes, and the counts ``/metrics``
reads (submissions, fallbacks, endings).

The controller and the user operations call :meth:`Publisher.publish` with what they found
of a job; it builds the job's view (:mod:`.views`), keeps it on the job, and sends it to the
owner's event subscribers (:mod:`.events`) when what they see of it changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from enum import Enum
from typing import Any

from ..apitypes import AttemptView, Progress
from ..kube.conditions import now_iso
from ..placement import Site
from . import labels as L
from .events import EventType, JobEvents
from .explain import Evidence, explain
from .model import State
from .tracked import Tracked, signature
from .views import build_view


class Count(str, Enum):
    """What the ``aiinfn_job_events`` metric counts besides endings (``finished_<state>``)."""

    SUBMITTED = "submitted"
    FALLBACKS = "fallbacks"


class Publisher:
    """Builds each job's view, tells its owner's subscribers, and counts for the metrics."""

    def __init__(self, *, events: JobEvents, site: Callable[[str | None], Site | None]) -> None:
        """``site(name)``: the configured site of that name, None if there is none."""
        self.events = events
        self.site = site
        self.counters: dict[str, int] = defaultdict(int)

    def count(self, what: Count) -> None:
        """One more submission or fallback."""
        self.counters[what.value] += 1

    def publish(
        self,
        tracked: Tracked,
        *,
        state: State,
        reason: str,
        attempt: AttemptView | None = None,
        site: Site | None = None,
        job: dict[str, Any] | None = None,
        counts: Progress | None = None,
        evidence: Evidence | None = None,
    ) -> None:
        """Make the job's view from its record and what the caller found: the attempt in
        progress (``attempt``, its Job ``job``), the site it is at (default: its latest
        attempt's), the progress recorded when it ended (``counts``). An event goes to the
        owner's subscribers when the view changed in what they see (:func:`.tracked.signature`),
        and a job seen ending is counted once. ``evidence``: the live objects of the attempt,
        which explain the job (:mod:`.explain`); without them its latest recorded attempt
        does."""
        if site is None and tracked.attempts:
            number = max(tracked.attempts)
            site = self.site(tracked.attempts[number]["metadata"]["labels"].get(L.SITE))
        elif site is None and tracked.history:
            site = self.site(tracked.history[-1].get("site"))
        view = build_view(
            tracked.job_id,
            tracked.owner,
            spec=tracked.spec,
            plan=tracked.plan,
            submitted=tracked.submitted,
            history=tracked.history,
            state=state,
            current=attempt,
            site=site,
            job=job,
            reason=reason,
            counts=counts,
            actions=tracked.actions,
        )
        attempts = view["attempts"]
        view["explanation"] = explain(
            state=state,
            reason=view["reason"],
            site=site,
            evidence=evidence,
            attempt=attempts[-1] if attempts else None,
        ).view()
        tracked.view = view
        shown = signature(view)
        if shown != tracked.signature:
            if (
                tracked.signature is not None
                and state.terminal
                and tracked.signature[0] != state.value
            ):
                self.counters[f"finished_{state.value}"] += 1
            tracked.signature = shown
            if self.events.subscribers:  # at a start, nobody listens yet
                event = {"type": EventType.JOB.value, "job": view, "time": now_iso()}
                self.events.publish(tracked.owner, event)
