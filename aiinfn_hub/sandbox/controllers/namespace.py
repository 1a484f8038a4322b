"""Namespaces: a ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap in each, and
emptying a namespace being deleted.

The ConfigMap is what the real controller-manager's root CA publisher keeps in every namespace
(put back when deleted or changed), so a namespace of the sandbox holds the same objects as a
real one. The sandbox serves plain HTTP and has no CA, so its ``ca.crt`` is empty.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..store import Event
from .base import Controller

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
ROOT_CA = ""  # no TLS, no CA: the key is there, as in every real namespace, and empty


#: a namespace's name
NamespaceControllerKey = str


class NamespaceController(Controller[NamespaceControllerKey]):
    name = "namespace-controller"

    def keys(self, event: Event) -> Iterable[NamespaceControllerKey]:
        if event.rt is self.api.namespaces and event.type != "DELETED":
            yield event.obj["metadata"]["name"]
        elif (
            event.type != "ADDED"
            and event.rt.plural == "configmaps"
            and event.obj["metadata"]["name"] == ROOT_CA_CONFIGMAP
        ):
            yield event.obj["metadata"].get("namespace", "")
        elif event.type == "DELETED" and event.rt.namespaced:
            ns = event.obj["metadata"].get("namespace", "")
            current = self.store.get(self.api.namespaces, "", ns)
            if current is not None and current["metadata"].get("deletionTimestamp"):
                yield ns

    def initial_keys(self) -> Iterable[NamespaceControllerKey]:
        return [ns["metadata"]["name"] for ns in self.store.list(self.api.namespaces)]

    async def reconcile(self, key: NamespaceControllerKey) -> float | None:
        name = str(key)
        ns = self.store.get(self.api.namespaces, "", name)
        if ns is None:
            return None
        if not ns["metadata"].get("deletionTimestamp"):
            accounts = self.registry.get("serviceaccounts")
            if self.store.get(accounts, name, "default") is None:
                self.api.create(accounts, name, {"metadata": {"name": "default"}})
            self._publish_root_ca(name)
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

    def _publish_root_ca(self, namespace: str) -> None:
        """Create the root CA ConfigMap, or put its data and description back."""
        configmaps = self.registry.get("configmaps")
        data = {"ca.crt": ROOT_CA}
        current = self.store.get(configmaps, namespace, ROOT_CA_CONFIGMAP)
        if current is None:
            meta = {
                "name": ROOT_CA_CONFIGMAP,
                "annotations": {DESCRIPTION_ANNOTATION: ROOT_CA_DESCRIPTION},
            }
            self.api.create(configmaps, namespace, {"metadata": meta, "data": data})
            return

        def restore(cm: dict) -> None:
            cm["data"] = dict(data)
            annotations = cm["metadata"].setdefault("annotations", {})
            annotations[DESCRIPTION_ANNOTATION] = ROOT_CA_DESCRIPTION

        self.api.modify(configmaps, namespace, ROOT_CA_CONFIGMAP, restore)
