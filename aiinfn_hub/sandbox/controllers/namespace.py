"""Namespaces: a ``default`` ServiceAccount in each, and emptying a namespace being deleted."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from ..store import Event
from .base import Controller


class NamespaceController(Controller):
    name = "namespace-controller"

    def keys(self, event: Event) -> Iterable[Hashable]:
        if event.rt is self.api.namespaces and event.type != "DELETED":
            yield event.obj["metadata"]["name"]
        elif event.type == "DELETED" and event.rt.namespaced:
            ns = event.obj["metadata"].get("namespace", "")
            current = self.store.get(self.api.namespaces, "", ns)
            if current is not None and current["metadata"].get("deletionTimestamp"):
                yield ns

    def initial_keys(self) -> Iterable[Hashable]:
        return [ns["metadata"]["name"] for ns in self.store.list(self.api.namespaces)]

    async def reconcile(self, key: Hashable) -> float | None:
        name = str(key)
        ns = self.store.get(self.api.namespaces, "", name)
        if ns is None:
            return None
        if not ns["metadata"].get("deletionTimestamp"):
            accounts = self.registry.get("serviceaccounts")
            if self.store.get(accounts, name, "default") is None:
                self.api.create(accounts, name, {"metadata": {"name": "default"}})
            return None
        remaining = False
        for rt in self.registry:
            if not rt.namespaced:
                continue
            for obj in self.store.list(rt, name):
                remaining = True
                if not obj["metadata"].get("deletionTimestamp"):
                    self.api.delete(
                        rt, name, obj["metadata"]["name"], {"propagationPolicy": "Background"}
                    )
        if remaining:
            return None  # woken again by the DELETED events of what is left

        def finalize(obj: dict) -> None:
            obj.setdefault("spec", {})["finalizers"] = []

        self.api.modify(self.api.namespaces, "", name, finalize)
        return None
