"""A controller: store events map to keys in a de-duplicating work queue; one task reconciles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from ..api import Api
from ..errors import ApiError
from ..store import Event

log = logging.getLogger("aiinfn_hub.sandbox.controllers")

#: A controller's work item: what its ``keys`` yield and its ``reconcile`` takes.
Key = TypeVar("Key", bound=Hashable)


class Controller(Generic[Key]):
    """Subclasses name what they watch (``keys``) and how they converge (``reconcile``)."""

    name = "controller"

    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store
        self.registry = api.registry
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._pending: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._task: asyncio.Task | None = None

    # -- to override ------------------------------------------------------------------------

    def keys(self, event: Event) -> Iterable[Key]:
        """Work items an event calls for (called synchronously within the store's write)."""
        return ()

    def initial_keys(self) -> Iterable[Key]:
        """Work items at start-up."""
        return ()

    async def reconcile(self, key: Key) -> float | None:
        """Converge one item; a number asks to be called again after so many seconds."""
        return None

    # -- machinery --------------------------------------------------------------------------

    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        if delay > 0:
            timer = self._timers.get(key)
            loop = asyncio.get_running_loop()
            when = loop.time() + delay
            if timer is not None and timer.when() <= when:
                return
            if timer is not None:
                timer.cancel()
            self._timers[key] = loop.call_at(when, self._fire, key)
            return
        if key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    def _on_event(self, event: Event) -> None:
        for key in self.keys(event):
            self.enqueue(key)

    def start(self) -> None:
        self.store.listen(self._on_event)
        for key in self.initial_keys():
            self.enqueue(key)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self.store.unlisten(self._on_event)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            key = await self._queue.get()
            self._pending.discard(key)
            try:
                again = await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                log.debug("%s: %s on %r, retrying", self.name, exc.reason, key)
                again = 0.2
            except Exception:
                log.exception("%s: reconciling %r failed", self.name, key)
                again = 1.0
            if again is not None:
                self.enqueue(key, again)
