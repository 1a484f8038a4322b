"""Garbage collection by ownerReferences: background and foreground cascading deletion."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from ..api import FOREGROUND
from ..objects import Obj
from ..registry import ResourceType
from ..store import Event
from .base import Controller


class GarbageCollector(Controller):
    """Deletes dependents whose owners are all gone, and holds a foreground deletion until
    the owner's dependents are gone."""

    name = "garbage-collector"

    def keys(self, event: Event) -> Iterable[Hashable]:
        meta = event.obj["metadata"]
        ns = meta.get("namespace", "")
        if event.type == "DELETED":
            yield ("orphans", meta["uid"])
            for ref in meta.get("ownerReferences") or []:
                owner_rt = self.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
                if owner_rt is not None:
                    yield ("foreground", owner_rt, ns if owner_rt.namespaced else "", ref["name"])
        elif meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            yield ("foreground", event.rt, ns, meta["name"])

    async def reconcile(self, key: Hashable) -> float | None:
        if key[0] == "orphans":  # type: ignore[index]
            _, uid = key  # type: ignore[misc]
            for rt, dep in self.store.dependents(uid):
                if not any(self._owner(dep, ref) for ref in dep["metadata"]["ownerReferences"]):
                    self._delete(rt, dep)
            return None
        _, rt, ns, name = key  # type: ignore[misc]
        owner = self.store.get(rt, ns, name)
        if owner is None or FOREGROUND not in (owner["metadata"].get("finalizers") or []):
            return None
        dependents = self.store.dependents(owner["metadata"]["uid"])
        for dep_rt, dep in dependents:
            self._delete(dep_rt, dep)
        if not dependents:
            self.api.remove_finalizer(rt, owner, FOREGROUND)
        return None

    def _delete(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            options = {"propagationPolicy": "Background"}
            self.api.delete(rt, meta.get("namespace", ""), meta["name"], options)

    def _owner(self, obj: Obj, ref: Obj) -> Obj | None:
        rt = self.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if rt is None:
            return None
        ns = obj["metadata"].get("namespace", "") if rt.namespaced else ""
        owner = self.store.get(rt, ns, ref.get("name", ""))
        return owner if owner is not None and owner["metadata"]["uid"] == ref.get("uid") else None
