"""Shared list+watch caches, one per kind, for all users (an informer, in Kubernetes terms).

A :class:`Reflector` lists once, then watches from the list's resourceVersion; a watch that
ends resumes from the last version seen, and a 410 Gone (history compacted) relists. Each
change calls ``on_change(kind, event_type, obj)``; a relist reports what changed meanwhile
(deletions included) the same way. No polling: the API server pushes.

Objects are kept as ``transform`` makes them (by default without ``managedFields``); a user that
keeps the objects in its own form (the manager, job records) may have only their versions
kept (``keep_objects=False``). Failures are
retried for ever with backoff; ``last_error`` keeps the latest (``None`` once a
list or watch succeeds), so whoever waits for ``synced`` can say why it does not come
(:mod:`.health`); each failure is logged once until it changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .client import Kube, KubeError

log = logging.getLogger(__name__)

OnChange = Callable[[str, str, dict[str, Any]], None]


def trimmed(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without what only the API server's bookkeeping reads (``managedFields``)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


#: Objects per page of a list.
LIST_PAGE = 2000


class Reflector:
    """Keeps ``objects`` (by namespace/name) in step with the API server for one kind."""

    def __init__(
        self,
        kube: Kube,
        kind: str,
        list_fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...] = (),
        label_selector: str | None = None,
        on_change: OnChange | None = None,
        watch_timeout: int = 300,
        keep_objects: bool = True,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """``keep_objects=False``: ``objects`` stays empty and only each object's version is
        kept (``on_change`` is given the objects whole; a deletion that a relist finds is
        told with the object's name and namespace only). ``transform`` is applied to each
        object as it arrives, as client-go's informers apply theirs (default:
        :func:`trimmed`)."""
        self.kube = kube
        self.kind = kind
        self.list_fn = list_fn
        self.args = args
        self.label_selector = label_selector
        self.on_change = on_change or (lambda *_: None)
        self.watch_timeout = watch_timeout
        self.keep_objects = keep_objects
        self.transform = transform or trimmed
        self.objects: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, str | None] = {}  # resourceVersion by key
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.relists = 0
        #: The latest failure to list or watch (None: the last attempt succeeded).
        self.last_error: KubeError | None = None
        self._task: asyncio.Task[None] | None = None
        self._response = None

    @staticmethod
    def key(obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{meta.get('namespace', '')}/{meta['name']}"

    def _store(self, key: str, obj: dict[str, Any]) -> None:
        self.versions[key] = obj["metadata"].get("resourceVersion")
        if self.keep_objects:
            self.objects[key] = obj

    def _drop(self, key: str) -> dict[str, Any]:
        """Forget the object; what is known of it (its name and namespace at least)."""
        self.versions.pop(key, None)
        known = self.objects.pop(key, None)
        if known is not None:
            return known
        namespace, _, name = key.partition("/")
        return {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reflector-{self.kind}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            ended: BaseException | None = (
                await asyncio.gather(self._task, return_exceptions=True)
            )[0]
            if not isinstance(ended, asyncio.CancelledError):  # it had died before
                log.error("the %s watch had stopped: %r", self.kind, ended, exc_info=ended)
            self._task = None

    def _kwargs(self) -> dict[str, Any]:
        return {"label_selector": self.label_selector} if self.label_selector else {}

    async def _list(self) -> None:
        """A full list, in pages (``limit`` and ``continue``), as client-go's reflectors list:
        no one answer holds every object of a kind that has many (job records). What is new
        or changed is reported page by page (its user may keep it in its own form meanwhile);
        what is gone, once the last page has come."""
        fresh: set[str] = set()
        following: dict[str, Any] = {}
        while True:
            data = await self.kube.call(
                f"list {self.kind}",
                self.list_fn,
                *self.args,
                limit=LIST_PAGE,
                **following,
                **self._kwargs(),
            )
            for item in data.get("items") or ():
                obj = self.transform(item)
                key = self.key(obj)
                fresh.add(key)
                known = key in self.versions
                before = self.versions.get(key)
                self._store(key, obj)
                if not known or before != self.versions[key]:
                    self.on_change(self.kind, "MODIFIED" if known else "ADDED", obj)
            metadata = data.get("metadata") or {}
            token = metadata.get("continue")
            if not token:
                listed_version: str = metadata.get("resourceVersion", "")
                break
            following = {"_continue": token}
            del data, metadata  # the next page in its place
        for key in [key for key in self.versions if key not in fresh]:
            self.on_change(self.kind, "DELETED", self._drop(key))
        self.resource_version = listed_version
        self.relists += 1
        self.last_error = None
        self.synced.set()

    async def _run(self) -> None:
        delay = 0.1
        need_list = not self.resource_version  # a restarted reflector resumes where it was
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                opened = time.monotonic()
                need_list = await self._watch()
                if time.monotonic() - opened >= 1.0:
                    delay = 0.1
                    continue
                # the watch ended at once: back off as after a failure, so as not to spin
            except asyncio.CancelledError:
                raise
            except KubeError as exc:
                need_list = need_list or exc.status == 410
                self._failed(exc, f"{self.kind} watch failed: %s; retrying in %.1fs", delay)
            except Exception as exc:  # a dropped connection mid-stream
                error = KubeError(0, "Unreachable", str(exc) or type(exc).__name__)
                self.kube.contact.failed(error)
                self._failed(error, f"{self.kind} watch dropped: %s; resuming in %.1fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    def _failed(self, error: KubeError, message: str, delay: float) -> None:
        """Keep the failure for whoever waits; log it once until it changes. Before the
        first list it is only information: whoever waits for ``synced`` says why at its
        deadline, in one line (:mod:`.health`)."""
        repeated = self.last_error is not None and str(self.last_error) == str(error)
        self.last_error = error
        level = logging.WARNING if self.synced.is_set() else logging.INFO
        log.log(logging.DEBUG if repeated else level, message, error, delay)

    async def _watch(self) -> bool:
        """Stream events until the server ends the watch; True if a relist is needed."""
        self.kube.requests[f"watch {self.kind}"] += 1
        response = await self.list_fn(
            *self.args,
            watch=True,
            resource_version=self.resource_version,
            timeout_seconds=self.watch_timeout,
            allow_watch_bookmarks=True,
            _preload_content=False,
            _request_timeout=self.watch_timeout + 30,
            **self._kwargs(),
        )
        try:
            if response.status != 200:
                body = await response.read()
                error = KubeError.from_body(response.status, body)
                self.kube.heard(error)
                if response.status == 410:
                    return True
                raise error
            self.kube.contact.answered()
            self.last_error = None
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip() and self._handle(json.loads(line)):
                        return True
            return False
        finally:
            response.release()

    def _handle(self, event: dict[str, Any]) -> bool:
        kind: str = event.get("type", "")
        obj = self.transform(event.get("object") or {})
        if kind == "ERROR":
            if obj.get("code") == 410:
                return True
            raise KubeError(obj.get("code", 500), obj.get("reason", ""), obj.get("message", ""))
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = version
        if kind == "BOOKMARK":
            return False
        key = self.key(obj)
        if kind == "DELETED":
            self._drop(key)
        else:
            self._store(key, obj)
        self.on_change(self.kind, kind, obj)
        return False


def when_synced(reflectors: list[Reflector], then: Callable[[], None]) -> asyncio.Task[None]:
    """A task that calls ``then`` once each of ``reflectors`` holds its first list."""

    async def wait() -> None:
        await asyncio.gather(*(r.synced.wait() for r in reflectors))
        then()

    return asyncio.create_task(wait(), name="when-synced")
