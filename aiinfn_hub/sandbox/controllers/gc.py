"""Garbage collection by ownerReferences: background and foreground cascading deletion, and
dependents whose owners are gone (or never existed)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..api import FOREGROUND
from ..objects import Obj
from ..registry import ResourceType
from ..store import Event
from .base import Controller

#: ("orphans", owner uid), or (kind, ResourceType, namespace, name) for "owners"/"foreground"
GarbageCollectorKey = tuple[Any, ...]


class GarbageCollector(Controller[GarbageCollectorKey]):
    """Deletes dependents whose owners are all gone, drops references to owners that are gone
    from dependents that still have one, and holds a foreground deletion until the owner's
    dependents are gone."""

    name = "garbage-collector"

    def keys(self, event: Event) -> Iterable[GarbageCollectorKey]:
        meta = event.obj["metadata"]
        ns = meta.get("namespace", "")
        if event.type == "DELETED":
            yield ("orphans", meta["uid"])
            for ref in meta.get("ownerReferences") or []:
                owner_rt = self.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
                if owner_rt is not None:
                    yield ("foreground", owner_rt, ns if owner_rt.namespaced else "", ref["name"])
            return
        refs = meta.get("ownerReferences")
        old_refs = ((event.old or {}).get("metadata") or {}).get("ownerReferences")
        if refs and refs != old_refs:
            yield ("owners", event.rt, ns, meta["name"])
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            yield ("foreground", event.rt, ns, meta["name"])

    async def reconcile(self, key: GarbageCollectorKey) -> float | None:
        kind = key[0]
        if kind == "orphans":
            _, uid = key
            for rt, dep in self.store.dependents(uid):
                self._check_owners(rt, dep)
            return None
        _, rt, ns, name = key
        obj = self.store.get(rt, ns, name)
        if obj is None:
            return None
        if kind == "owners":
            self._check_owners(rt, obj)
            return None
        if FOREGROUND not in (obj["metadata"].get("finalizers") or []):
            return None
        dependents = self.store.dependents(obj["metadata"]["uid"])
        for dep_rt, dep in dependents:
            self._delete(dep_rt, dep)
        if not dependents:
            self.api.remove_finalizer(rt, obj, FOREGROUND)
        return None

    def _check_owners(self, rt: ResourceType, obj: Obj) -> None:
        """No owner left: delete the object; some left: drop the references to the others."""
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if not refs or meta.get("deletionTimestamp"):
            return
        dangling = [ref for ref in refs if not self._owner_exists(obj, ref)]
        if len(dangling) == len(refs):
            self._delete(rt, obj)
        elif dangling:

            def drop(o: Obj) -> None:
                o["metadata"]["ownerReferences"] = [
                    r for r in o["metadata"].get("ownerReferences") or [] if r not in dangling
                ]

            self.api.modify(rt, meta.get("namespace", ""), meta["name"], drop)

    def _delete(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            options = {"propagationPolicy": "Background"}
            self.api.delete(rt, meta.get("namespace", ""), meta["name"], options)

    def _owner_exists(self, obj: Obj, ref: Obj) -> bool:
        """Whether the owner is there (an owner of a kind the sandbox does not serve counts as
        there: the real collector cannot look it up either and leaves the dependent alone)."""
        rt = self.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if rt is None:
            return True
        ns = obj["metadata"].get("namespace", "") if rt.namespaced else ""
        owner = self.store.get(rt, ns, ref.get("name", ""))
        return owner is not None and owner["metadata"]["uid"] == ref.get("uid")
