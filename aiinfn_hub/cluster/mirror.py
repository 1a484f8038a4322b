"""The sandbox's kubelet against a real API server: a local store mirrors this node's pods.

The node agent runs the sandbox's own :class:`~aiinfn_hub.sandbox.kubelet.Kubelet`
unchanged (one implementation of running pods as local processes serves both), over a
local :class:`~aiinfn_hub.sandbox.api.Api` that this mirror keeps in step with the real
API server:

- pods bound to the node (a watch with ``spec.nodeName``) are copied in, with the
  ConfigMaps, Secrets and claims they use fetched first (the Node authorizer allows exactly
  those); the real spec and metadata win, the kubelet's status is kept, with the conditions
  others write (``DisruptionTarget``, ``PodScheduled``) as the server has them;
- each status the kubelet writes is sent to the pod's ``status`` subresource;
- the kubelet's final delete of a stopped pod becomes the real delete (grace 0, with the
  pod's uid as a precondition), after its last status, as a kubelet does;
- events the kubelet records are created on the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..sandbox.api import Api
from ..sandbox.objects import clone
from ..sandbox.store import Event
from .aiokube import MERGE_PATCH, AsyncKube, KubeRefused

log = logging.getLogger("aiinfn_hub.cluster.mirror")
Obj = dict[str, Any]


def dependencies(pod: Obj) -> set[tuple[str, str]]:
    """``(kind, name)`` of the ConfigMaps, Secrets and claims a pod's volumes and env use."""
    found: set[tuple[str, str]] = set()
    spec = pod.get("spec") or {}
    for volume in spec.get("volumes") or ():
        if "configMap" in volume:
            found.add(("configmaps", volume["configMap"].get("name", "")))
        elif "secret" in volume:
            found.add(("secrets", volume["secret"].get("secretName", "")))
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName", "")
            found.add(("persistentvolumeclaims", claim))
        for source in (volume.get("projected") or {}).get("sources") or ():
            if "configMap" in source:
                found.add(("configmaps", source["configMap"].get("name", "")))
            if "secret" in source:
                found.add(("secrets", source["secret"].get("name", "")))
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        for source in container.get("envFrom") or ():
            if "configMapRef" in source:
                found.add(("configmaps", source["configMapRef"].get("name", "")))
            if "secretRef" in source:
                found.add(("secrets", source["secretRef"].get("name", "")))
        for var in container.get("env") or ():
            ref = var.get("valueFrom") or {}
            if "configMapKeyRef" in ref:
                found.add(("configmaps", ref["configMapKeyRef"].get("name", "")))
            if "secretKeyRef" in ref:
                found.add(("secrets", ref["secretKeyRef"].get("name", "")))
    return {(kind, name) for kind, name in found if name}


#: The pod conditions a kubelet writes; the others (``PodScheduled`` by the scheduler,
#: ``DisruptionTarget`` by the eviction API, the taint manager or the pod GC) are kept as
#: the server has them, as a real kubelet keeps them when it writes its status.
KUBELET_CONDITIONS = frozenset(
    {"Initialized", "Ready", "ContainersReady", "PodReadyToStartContainers"}
)


def _keep_others_conditions(local: Obj, real: Obj) -> None:
    """Set ``local``'s conditions of types the kubelet does not write from ``real``'s."""
    theirs = [
        c
        for c in (real.get("status") or {}).get("conditions") or ()
        if c.get("type") not in KUBELET_CONDITIONS
    ]
    if not theirs:
        return
    status = local.setdefault("status", {})
    types = {c["type"] for c in theirs}
    mine = [c for c in status.get("conditions") or () if c.get("type") not in types]
    status["conditions"] = [*theirs, *mine]


class PodMirror:
    """Keeps the local store's copy of one node's pods in step with the real server."""

    def __init__(self, kube: AsyncKube, api: Api, node: str) -> None:
        self.kube = kube
        self.api = api
        self.node = node
        self.pods = api.registry.get("pods")
        self.events = api.registry.get("events")
        self.namespaces = api.registry.get("namespaces")
        self._dirty: dict[tuple[str, str], None] = {}
        self._wake = asyncio.Event()
        self._pushed: dict[tuple[str, str], Obj] = {}
        self._real_uids: dict[tuple[str, str], str] = {}
        #: the status of a pod the kubelet let go, not yet sent: key -> status
        self._last_words: dict[tuple[str, str], Obj] = {}
        #: pods whose ConfigMaps or Secrets are fetched again: key -> the retry's task
        self._refetch: dict[tuple[str, str], asyncio.Task] = {}
        self._tasks: list[asyncio.Task] = []
        self.synced = asyncio.Event()

    def start(self) -> None:
        self.api.store.listen(self._on_local)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch(), name=f"mirror-{self.node}"),
            loop.create_task(self._push(), name=f"push-{self.node}"),
        ]

    async def stop(self) -> None:
        self.api.store.unlisten(self._on_local)
        tasks = [*self._tasks, *self._refetch.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- real -> local ---------------------------------------------------------------------

    async def _watch(self) -> None:
        query = {"fieldSelector": f"spec.nodeName={self.node}"}
        async for kind, obj in self.kube.list_and_watch("/api/v1/pods", query):
            if kind == "SYNC":
                listed = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in obj["items"]}
                for local in self.api.store.list(self.pods):
                    key = (local["metadata"]["namespace"], local["metadata"]["name"])
                    if key not in listed:
                        self._forget(*key)
                for pod in obj["items"]:
                    await self._copy_in(pod)
                self.synced.set()
            elif kind == "DELETED":
                self._forget(obj["metadata"]["namespace"], obj["metadata"]["name"])
            else:
                await self._copy_in(obj)

    async def _copy_in(self, pod: Obj) -> None:
        meta = pod["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        self._real_uids[(namespace, name)] = meta["uid"]
        self._ensure_namespace(namespace)
        if not await self._fetch_dependencies(pod):
            self._fetch_again(pod)
        local = self.api.store.get(self.pods, namespace, name)
        fresh = clone(pod)
        fresh["metadata"].pop("resourceVersion", None)
        if local is not None and local["metadata"]["uid"] != meta["uid"]:
            self.api.store.remove(self.pods, namespace, name)
            local = None
        if local is None:
            self.api.store.insert(self.pods, fresh)
            return
        merged = clone(local)
        version = local["metadata"]["resourceVersion"]
        merged["metadata"] = {**fresh["metadata"], "resourceVersion": version}
        merged["spec"] = fresh["spec"]
        _keep_others_conditions(merged, fresh)
        if merged != local:
            self.api.store.replace(self.pods, merged)

    def _forget(self, namespace: str, name: str) -> None:
        self._real_uids.pop((namespace, name), None)
        self._pushed.pop((namespace, name), None)
        self._last_words.pop((namespace, name), None)
        if self.api.store.get(self.pods, namespace, name) is not None:
            self.api.store.remove(self.pods, namespace, name)

    def _ensure_namespace(self, namespace: str) -> None:
        if self.api.store.get(self.namespaces, "", namespace) is None:
            self.api.store.insert(
                self.namespaces,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace},
                    "status": {"phase": "Active"},
                },
            )

    def _fetch_again(self, pod: Obj) -> None:
        """Fetch a pod's ConfigMaps and Secrets again until they come, as a kubelet's volume
        manager does: the Node authorizer refuses them ("no relationship found") until its
        graph has the pod's binding, and an API server that restarts refuses or does not
        answer for a while."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self._refetch:
            return

        async def again() -> None:
            delay = 0.1
            try:
                while self._real_uids.get(key) == meta["uid"]:
                    await asyncio.sleep(delay)
                    if await self._fetch_dependencies(pod):
                        return
                    delay = min(delay * 2, 5.0)
            finally:
                self._refetch.pop(key, None)

        self._refetch[key] = asyncio.get_running_loop().create_task(again())

    async def _fetch_dependencies(self, pod: Obj) -> bool:
        """Copy the pod's ConfigMaps, Secrets and claims in; False if one could not be read
        (a missing one is no error: the kubelet reports it as a real one does)."""
        namespace = pod["metadata"]["namespace"]
        complete = True
        for kind, name in sorted(dependencies(pod)):
            rt = self.api.registry.get(kind)
            try:
                path = f"/api/v1/namespaces/{namespace}/{kind}/{name}"
                obj = await self.kube.request("GET", path)
            except KubeRefused as exc:
                if exc.status == 404:
                    if self.api.store.get(rt, namespace, name) is not None:
                        self.api.store.remove(rt, namespace, name)
                    continue
                log.info("%s %s/%s: %s; fetching it again", kind, namespace, name, exc)
                complete = False
                continue
            obj["metadata"].pop("resourceVersion", None)
            if self.api.store.get(rt, namespace, name) is None:
                self.api.store.insert(rt, obj)
            else:
                self.api.store.replace(rt, obj)
        return complete

    # -- local -> real ---------------------------------------------------------------------

    def _on_local(self, event: Event) -> None:
        if event.rt is self.pods:
            meta = event.obj["metadata"]
            key = (meta["namespace"], meta["name"])
            if event.type == "DELETED":
                if self._real_uids.get(key) == meta["uid"]:  # the kubelet let the pod go
                    if event.obj.get("status") != self._pushed.get(key):
                        self._last_words[key] = clone(event.obj.get("status") or {})
                    self._dirty[key] = None
                    self._wake.set()
                return
            if event.obj.get("status") != self._pushed.get(key):
                self._dirty[key] = None
                self._wake.set()
        elif event.rt is self.events and event.type == "ADDED":
            asyncio.get_running_loop().create_task(self._create_event(clone(event.obj)))

    async def _push(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                key = next(iter(self._dirty))
                del self._dirty[key]
                try:
                    await self._push_one(*key)
                except KubeRefused as exc:
                    if exc.status not in (404, 409):
                        log.warning("pod %s/%s: %s; retrying", *key, exc)
                        self._dirty[key] = None
                        await asyncio.sleep(0.5)

    async def _push_one(self, namespace: str, name: str) -> None:
        local = self.api.store.get(self.pods, namespace, name)
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        if local is None:
            last = self._last_words.pop((namespace, name), None)
            uid = self._real_uids.pop((namespace, name), None)
            if uid and last is not None:  # its end first, as a kubelet writes it before
                with contextlib.suppress(KubeRefused):
                    await self.kube.request(
                        "PATCH", f"{path}/status", {"status": last}, content_type=MERGE_PATCH
                    )
            if uid:
                await self.kube.request(
                    "DELETE", path, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
                )
            return
        status = clone(local.get("status") or {})
        await self.kube.request(
            "PATCH", f"{path}/status", {"status": status}, content_type=MERGE_PATCH
        )
        self._pushed[(namespace, name)] = status

    async def _create_event(self, event: Obj) -> None:
        meta = event["metadata"]
        meta.pop("resourceVersion", None)
        meta.pop("uid", None)
        with contextlib.suppress(KubeRefused):
            await self.kube.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)
