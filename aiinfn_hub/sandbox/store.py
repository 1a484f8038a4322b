"""Object storage: a global resourceVersion, a bounded event log, watch fan-out.

Everything here is synchronous and runs on the event loop's thread, so each write is atomic;
watch subscriptions are taken in the same step as the replay they start from, so no event
falls between a list and the watch that follows it.
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import gone
from .objects import Obj, timestamp
from .registry import ResourceType

Key = tuple[ResourceType, str, str]  # (type, namespace or "", name)


@dataclass(frozen=True)
class Event:
    """A change: type is ADDED, MODIFIED or DELETED; ``old`` is the previous object."""

    type: str
    rv: int
    rt: ResourceType
    obj: Obj
    old: Obj | None = None


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


class Subscription:
    """A live feed of events of one resource type, optionally one namespace."""

    def __init__(self, store: Store, rt: ResourceType, namespace: str | None) -> None:
        self.store = store
        self.rt = rt
        self.namespace = namespace
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def close(self) -> None:
        """Stop the feed; a reader gets ``None`` next."""
        if not self.closed:
            self.closed = True
            self.store._subs.get(self.rt, set()).discard(self)
            self.queue.put_nowait(None)


class Store:
    """Objects by type, namespace and name, in their storage version."""

    def __init__(self, log_size: int = 20000) -> None:
        self._rv = 0
        self._data: dict[ResourceType, dict[str, dict[str, Obj]]] = {}
        self._log: deque[Event] = deque()
        self._log_size = log_size
        self._floor = 0  # newest resourceVersion no longer in the log
        self._subs: dict[ResourceType, set[Subscription]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._dependents: dict[str, set[Key]] = {}

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_resource_version(self) -> int:
        """The oldest resourceVersion a watch or a continue token may still start from."""
        return self._floor

    # -- reads ------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        return self._data.get(rt, {}).get(namespace, {}).get(name)

    def list(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        """Objects sorted by namespace then name, as etcd keys sort."""
        buckets = self._data.get(rt, {})
        if namespace is not None:
            bucket = buckets.get(namespace, {})
            return [bucket[n] for n in sorted(bucket)]
        return [buckets[ns][n] for ns in sorted(buckets) for n in sorted(buckets[ns])]

    def list_at(self, rt: ResourceType, namespace: str | None, rv: int) -> builtins.list[Obj]:
        """The objects as they were at resourceVersion ``rv`` (a consistent snapshot, as etcd
        serves a paginated list); 410 Gone when the event log no longer reaches back."""
        if rv >= self._rv:
            return self.list(rt, namespace)
        if rv < self._floor:
            raise gone(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            )
        if not any(e.rt is rt for e in self._since(rv)):  # nothing of this kind changed since
            return self.list(rt, namespace)
        state = {_key(o): o for o in self.list(rt, namespace)}
        for event in reversed(self._log):
            if event.rv <= rv:
                break
            if event.rt is not rt or (
                namespace is not None and event.obj["metadata"].get("namespace") != namespace
            ):
                continue
            if event.type == "ADDED":
                state.pop(_key(event.obj), None)
            elif event.old is not None:
                state[_key(event.old)] = event.old
        return [state[k] for k in sorted(state)]

    def _since(self, rv: int) -> Iterator[Event]:
        """The logged events after ``rv``, newest first."""
        for event in reversed(self._log):
            if event.rv <= rv:
                return
            yield event

    def count(self, rt: ResourceType) -> int:
        return sum(len(b) for b in self._data.get(rt, {}).values())

    def namespaces_in_use(self, rt: ResourceType) -> Iterator[str]:
        return (ns for ns, bucket in self._data.get(rt, {}).items() if bucket)

    def dependents(self, owner_uid: str) -> builtins.list[tuple[ResourceType, Obj]]:
        """Objects with an ownerReference to ``owner_uid``."""
        out = []
        for rt, ns, name in list(self._dependents.get(owner_uid, ())):
            obj = self.get(rt, ns, name)
            if obj is not None:
                out.append((rt, obj))
        return out

    # -- writes -----------------------------------------------------------------------------------

    def insert(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store a new object: stamps uid, creationTimestamp and resourceVersion."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", timestamp())
        ns = meta.get("namespace", "") if rt.namespaced else ""
        self._bump(obj)
        self._data.setdefault(rt, {}).setdefault(ns, {})[meta["name"]] = obj
        self._index(rt, None, obj)
        self._emit(Event("ADDED", self._rv, rt, obj))
        return obj

    def replace(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store a new version of an existing object (the caller checked it exists)."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        bucket = self._data[rt][ns]
        old = bucket[meta["name"]]
        self._bump(obj)
        bucket[meta["name"]] = obj
        self._index(rt, old, obj)
        self._emit(Event("MODIFIED", self._rv, rt, obj, old))
        return obj

    def remove(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """Delete an object now; the DELETED event carries a new resourceVersion."""
        bucket = self._data.get(rt, {}).get(namespace if rt.namespaced else "", {})
        old = bucket.pop(name, None)
        if old is None:
            return None
        final = dict(old, metadata=dict(old["metadata"]))
        self._bump(final)
        self._index(rt, old, None)
        self._emit(Event("DELETED", self._rv, rt, final, old))
        return final

    def _bump(self, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def _index(self, rt: ResourceType, old: Obj | None, new: Obj | None) -> None:
        for obj, add in ((old, False), (new, True)):
            if obj is None:
                continue
            meta = obj["metadata"]
            key = (rt, meta.get("namespace", "") if rt.namespaced else "", meta["name"])
            for ref in meta.get("ownerReferences") or []:
                owners = self._dependents.setdefault(ref.get("uid", ""), set())
                if add:
                    owners.add(key)
                else:
                    owners.discard(key)
                    if not owners:
                        self._dependents.pop(ref.get("uid", ""), None)

    def _emit(self, event: Event) -> None:
        self._log.append(event)
        while len(self._log) > self._log_size:
            self._floor = self._log.popleft().rv
        for sub in tuple(self._subs.get(event.rt, ())):
            if sub.namespace is None or sub.namespace == event.obj["metadata"].get("namespace"):
                sub.queue.put_nowait(event)
        for listener in tuple(self._listeners):
            listener(event)

    # -- watching ---------------------------------------------------------------------------------

    def listen(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback`` synchronously for every event (controllers; must not write)."""
        self._listeners.append(callback)

    def unlisten(self, callback: Callable[[Event], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def watch(
        self, rt: ResourceType, namespace: str | None, since: int | None
    ) -> tuple[builtins.list[Event], Subscription]:
        """Events to replay and a live subscription, from one consistent point.

        ``since`` None: synthetic ADDED events for the current objects. Otherwise the logged
        events after ``since``, or 410 Gone when the log no longer reaches back that far.
        """
        if since is None:
            replay = [
                Event("ADDED", int(o["metadata"]["resourceVersion"]), rt, o)
                for o in self.list(rt, namespace)
            ]
        elif since < self._floor:
            raise gone(f"too old resource version: {since} ({self._floor + 1})")
        else:
            replay = [
                e
                for e in self._log
                if e.rv > since
                and e.rt is rt
                and (namespace is None or e.obj["metadata"].get("namespace") == namespace)
            ]
        sub = Subscription(self, rt, namespace)
        self._subs.setdefault(rt, set()).add(sub)
        return replay, sub

    def compact(self) -> int:
        """Forget the event log up to now, as etcd compaction does; returns the new floor."""
        self._log.clear()
        self._floor = self._rv
        return self._floor

    def close_watches(self) -> int:
        """Close every open watch subscription (the "watches dropped" fault)."""
        subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            sub.close()
        return len(subs)
