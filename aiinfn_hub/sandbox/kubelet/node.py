"""The kubelet of the sandbox's nodes: every pod bound to one of them gets a pod worker.

Imitates the kubelet's sync loop (pkg/kubelet: ``syncLoop``, ``HandlePodAdditions``,
``HandlePodRemoves``): a pod bound to a node it serves gets a worker (:mod:`.podworker`),
a pod being deleted is stopped, a pod gone has its worker stopped and its directory removed;
and the node's answers to the API server (a container's log, whether it runs, exec and
port-forward through :mod:`..streaming`).

Networking: every pod gets an address in 127.0.0.0/8 (``status.podIP``, env ``POD_IP``) that
any process may bind without privileges, so many servers can listen on port 8888 at once; a
``JUPYTERHUB_SERVICE_URL`` on 0.0.0.0 is pointed at that address. (Network namespaces would be
closer to a real pod but need root, which Binder and laptops do not give.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from pathlib import Path

from ..api import Api
from ..controllers.base import Controller
from ..interlink import RemoteHosts
from ..objects import Obj, is_terminal_pod
from ..podenv import Lookup
from ..store import Event
from ..topology import SiteSpec
from ..volumes import remove_pod_dir
from .podworker import PodWorker
from .virtualnode import SiteFaults


class AddressPool:
    """Pod addresses 127.1.0.1, 127.1.0.2, ... (never 127.0.0.x, never .0 or .255); pool
    ``block`` starts at 127.(1 + block).0.1, so that kubelets in separate processes (the
    node agents of the real control plane) never give two pods one address."""

    def __init__(self, block: int = 0) -> None:
        self._next = itertools.count(block * 254 * 256)

    def allocate(self) -> str:
        n = next(self._next) % (254 * 256 * 254)
        return f"127.{1 + n // (254 * 256)}.{(n // 254) % 256}.{n % 254 + 1}"


#: (namespace, pod name, pod uid)
KubeletKey = tuple[str, str, str]


class Kubelet(Controller[KubeletKey]):
    """The node agents of the sandbox: a worker per pod bound to one of the nodes it serves."""

    name = "kubelet"

    def __init__(
        self,
        api: Api,
        sites: Iterable[SiteSpec],
        state_dir: Path,
        faults: SiteFaults,
        *,
        api_host: str = "127.0.0.1",
        api_port: int = 0,
    ) -> None:
        super().__init__(api)
        self.pods = api.registry.get("pods")
        self.sites = {node.name: site for site in sites for node in site.nodes}
        self.state_dir = state_dir
        self.faults = faults
        self.api_host, self.api_port = api_host, api_port
        self.addresses = AddressPool()
        self.remote_hosts = RemoteHosts()
        self.workers: dict[str, PodWorker] = {}

    def keys(self, event: Event) -> Iterable[KubeletKey]:
        """A pod bound to one of this kubelet's nodes."""
        if event.rt is self.pods and (event.obj.get("spec") or {}).get("nodeName") in self.sites:
            meta = event.obj["metadata"]
            yield (meta["namespace"], meta["name"], meta["uid"])

    def initial_keys(self) -> Iterable[KubeletKey]:
        """Every pod bound to one of this kubelet's nodes."""
        return [
            (p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"])
            for p in self.store.list(self.pods)
            if (p.get("spec") or {}).get("nodeName") in self.sites
        ]

    async def reconcile(self, key: KubeletKey) -> float | None:
        """A pod of this node: a worker started for it (unless it is terminal, or deleted
        before it started: removed at once), stopped at its deletion, dropped once it is
        gone."""
        namespace, name, uid = key
        pod = self.store.get(self.pods, namespace, name)
        worker = self.workers.get(uid)
        if pod is None or pod["metadata"]["uid"] != uid:
            if worker is not None:
                self.workers.pop(uid, None)
                worker.request_stop()
                worker.task.add_done_callback(lambda _t: remove_pod_dir(worker.dir))
            return None
        if worker is None:
            if pod["metadata"].get("deletionTimestamp"):
                self.api.delete(self.pods, namespace, name, {"gracePeriodSeconds": 0})
            elif not is_terminal_pod(pod):
                site = self.sites[pod["spec"]["nodeName"]]
                self.workers[uid] = PodWorker(self, site, pod)
            return None
        if pod["metadata"].get("deletionTimestamp"):
            worker.request_stop()
        return None

    def lookup(self, namespace: str) -> Lookup:
        """A lookup of the objects of ``namespace`` by kind and name (the ConfigMaps, Secrets
        and claims a pod refers to)."""
        registry = self.api.registry

        def find(kind: str, name: str) -> Obj | None:
            return self.store.get(registry.get(kind), namespace, name)

        return find

    async def stop(self, grace: float = 2.0) -> None:
        """Stop routing, then every pod's processes (SIGTERM, SIGKILL after ``grace``)."""
        await super().stop()
        await self.stop_pods(grace)

    async def stop_pods(self, grace: float = 0.5) -> None:
        """End every pod's processes now, leaving the pod objects as they are."""
        workers = list(self.workers.values())
        for worker in workers:
            worker.shutdown(grace)
        await asyncio.wait([w.task for w in workers], timeout=grace + 5) if workers else None
        for worker in workers:
            worker.task.cancel()
        await asyncio.gather(*(w.task for w in workers), return_exceptions=True)
        self.workers.clear()

    def worker_for(self, pod: Obj) -> PodWorker | None:
        """The worker running ``pod``, if any."""
        return self.workers.get(pod["metadata"]["uid"])

    # -- the API server's LogSource -------------------------------------------------------------

    def log_path(self, pod: Obj, container: str) -> Path | None:
        """The log of a container of ``pod`` (None before it has one)."""
        worker = self.worker_for(pod)
        return worker.log_path(container) if worker else None

    def container_running(self, pod: Obj, container: str) -> bool:
        """Whether a container of ``pod`` has a process now."""
        worker = self.worker_for(pod)
        return worker is not None and worker.container_running(container)

    def running_processes(self) -> int:
        """How many container processes run on this kubelet's nodes."""
        return sum(1 for w in self.workers.values() for r in w.containers.values() if r.process)
