"""Job events for their subscribers (``GET /events``, and the server extension in standalone
mode), each with a bounded queue.

A subscriber that falls ``queue_limit`` events behind (a client that stopped reading, or reads
slower than jobs change) is dropped: its queue gets one last event, ``{"type": "reconnect"}``,
telling it to connect again and read its jobs afresh, then the end of the stream. So a client
that never reads costs at most ``queue_limit`` events, never unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from traitlets import Integer
from traitlets.config import LoggingConfigurable

log = logging.getLogger(__name__)


class EventType(str, Enum):
    """What an event on the stream is about."""

    JOB = "job"  # a job changed: ``job`` is its whole view
    RECONNECT = "reconnect"  # the last event of a dropped subscriber


@dataclass
class Subscriber:
    """One stream: whose events it gets (``None``: everyone's) and its queue, which ends with
    ``None``."""

    owner: str | None
    queue: asyncio.Queue[dict[str, Any] | None] = field(repr=False)
    ended: bool = False

    def end(self) -> None:
        """End the stream (``None`` after what is queued); idempotent."""
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(None)


class JobEvents(LoggingConfigurable):
    """The subscribers of job events, and the bound on what each may have waiting."""

    queue_limit = Integer(
        1000,
        min=1,
        help="Job events a subscriber of GET /events may have waiting. One that falls this "
        "far behind (a client that stopped reading) is dropped, with a last event "
        '{"type": "reconnect"} that tells it to connect again and read its jobs afresh.',
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subscribers: list[Subscriber] = []

    def publish(self, owner: str, event: dict[str, Any]) -> None:
        """Queue ``event`` (about a job of ``owner``) for each subscriber who may see it;
        drop a subscriber whose queue is full."""
        for sub in list(self.subscribers):
            if sub.owner is not None and sub.owner != owner:
                continue
            if sub.queue.qsize() >= self.queue_limit:
                self._drop(sub, event.get("time"))
            else:
                sub.queue.put_nowait(event)

    def _drop(self, sub: Subscriber, when: str | None) -> None:
        """Stop sending to ``sub``: a last event that says why and to reconnect, then the end."""
        self.subscribers.remove(sub)
        log.warning(
            "dropped a subscriber of %s job events: %d events waited unread",
            f"{sub.owner}'s" if sub.owner else "everyone's",
            sub.queue.qsize(),
        )
        sub.queue.put_nowait(
            {
                "type": EventType.RECONNECT.value,
                "reason": f"this stream fell {self.queue_limit} job changes behind and was "
                "closed; connect again and read your jobs afresh",
                "time": when,
            }
        )
        sub.end()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, owner: str | None
    ) -> AsyncIterator[asyncio.Queue[dict[str, Any] | None]]:
        """A queue of job events for ``owner`` (``None``: every user, for admins); ``None``
        in the queue ends it."""
        # room for the limit, the reconnect event and the end: the queue itself is bounded too
        sub = Subscriber(owner, asyncio.Queue(maxsize=self.queue_limit + 2))
        self.subscribers.append(sub)
        try:
            yield sub.queue
        finally:
            if sub in self.subscribers:
                self.subscribers.remove(sub)

    def close(self) -> None:
        """End every stream (the service is stopping)."""
        for sub in self.subscribers:
            sub.end()
        self.subscribers.clear()
