"""PersistentVolumeClaims: bound at once to a volume the kubelet keeps as a directory."""

from __future__ import annotations

from collections.abc import Iterable

from ..objects import Obj
from ..store import Event
from .base import Controller

#: (namespace, claim name)
VolumeBinderKey = tuple[str, str]


class VolumeBinder(Controller[VolumeBinderKey]):
    name = "volume-binder"

    def keys(self, event: Event) -> Iterable[VolumeBinderKey]:
        pvc = event.obj
        bound = (pvc.get("status") or {}).get("phase") == "Bound"
        if event.rt.plural == "persistentvolumeclaims" and event.type != "DELETED" and not bound:
            yield (pvc["metadata"]["namespace"], pvc["metadata"]["name"])

    def initial_keys(self) -> Iterable[VolumeBinderKey]:
        rt = self.registry.get("persistentvolumeclaims")
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(rt)]

    async def reconcile(self, key: VolumeBinderKey) -> float | None:
        namespace, name = key
        rt = self.registry.get("persistentvolumeclaims")

        def bind(pvc: Obj) -> None:
            spec = pvc.setdefault("spec", {})
            volume = f"pvc-{pvc['metadata']['uid']}"
            spec.setdefault("volumeName", volume)
            spec.setdefault("storageClassName", "sandbox-local")
            requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            pvc["status"] = {
                "phase": "Bound",
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": requested},
            }

        self.api.modify(rt, namespace, name, bind)
        return None
