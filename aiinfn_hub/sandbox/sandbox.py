"""The sandbox: API server, controllers and kubelets in one asyncio process."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .admission import Admission
from .api import Api
from .apiserver import BOOKMARK_INTERVAL, ApiServer
from .controllers.base import Controller
from .controllers.gc import GarbageCollector
from .controllers.job import JobController
from .controllers.kueue import CYCLE, KueueController, suspend_on_create
from .controllers.kueue.visibility import Visibility
from .controllers.namespace import NamespaceController
from .controllers.scheduler import Scheduler
from .controllers.storage import VolumeBinder
from .faults import Faults
from .kubeconfig import write_kubeconfig
from .kubelet import Kubelet
from .objects import Obj, condition_true
from .registry import KUEUE, RESOURCES, Registry
from .store import Store
from .topology import Topology, initial_objects, load_topology

log = logging.getLogger("aiinfn_hub.sandbox")


class Sandbox:
    """A one-machine Kubernetes with Kueue admission and interLink-style remote sites.

    ``config`` is a sites YAML path, a parsed dict, a Topology, or None for the built-in
    AI_INFN sites. ``port`` 0 picks a free port; ``state_dir`` holds pod directories and logs
    (a temporary directory, removed on stop, when not given).

    The kubeconfig carries a bearer token, but the server checks it only with
    ``require_token=True``: kubectl sends no credentials over http://. The sandbox listens on
    127.0.0.1 only; any local user who can reach it can run processes as the sandbox's user.

    ``kueue=False`` is a cluster where Kueue is not installed: the API server serves no
    ``kueue.x-k8s.io`` group (404, as a real one), nothing admits, and Jobs are not suspended
    on creation.
    """

    def __init__(
        self,
        config: str | Path | dict[str, Any] | Topology | None = None,
        port: int = 0,
        state_dir: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        token: str | None = None,
        require_token: bool = False,
        event_log_size: int = 20000,
        bookmark_interval: float = BOOKMARK_INTERVAL,
        kueue: bool = True,
    ) -> None:
        self.topology = load_topology(config)
        self.has_kueue = kueue
        self.host = host
        self.port = port
        self.token = token if token is not None else secrets.token_urlsafe(24)
        self._own_state_dir = state_dir is None
        self.state_dir = (
            Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="aiinfn-sandbox-"))
        )
        self.registry = Registry(
            RESOURCES if kueue else tuple(r for r in RESOURCES if r.group != KUEUE)
        )
        self.store = Store(event_log_size)
        self.admission = Admission()
        if kueue:
            self.admission.create_hooks.append(suspend_on_create)
        self.api = Api(self.store, self.registry, self.admission)
        self.kueue = (
            KueueController(
                self.api, self.topology.kueue, stalled=lambda: self.faults.stalled_queues()
            )
            if kueue
            else None
        )
        self.faults = Faults(
            self.topology,
            self.api,
            on_admission_change=self._admission_changed,
            preempt=self._preempt,
        )
        self.kubelet = Kubelet(
            self.api, self.topology.sites, self.state_dir, self.faults, api_host=host
        )
        self.controllers: list[Controller] = [
            NamespaceController(self.api),
            GarbageCollector(self.api),
            VolumeBinder(self.api),
            JobController(self.api, self.topology.job_backoff_seconds),
            Scheduler(self.api),
            *([self.kueue] if self.kueue else []),
            self.kubelet,
        ]
        checked = self.token if require_token else None
        visible = self.kueue is not None and self.topology.kueue.visibility_on_demand
        self.server = ApiServer(
            self.api,
            self.kubelet,
            self,
            checked,
            bookmark_interval,
            kubelet=self.kubelet,
            visibility=Visibility(self.kueue.kube) if visible and self.kueue else None,
        )
        self._started = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Sandbox:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._bootstrap()
        self.port = self.server.listen(self.port, self.host)
        self.kubelet.api_port = self.port
        for controller in self.controllers:
            controller.start()
        self._started = True
        log.info("sandbox serving on %s", self.url)
        return self

    async def stop(self) -> None:
        """Stop serving and end every pod's processes."""
        if not self._started:
            return
        self._started = False
        self.store.close_watches()
        await self.server.close()
        for controller in reversed(self.controllers):
            await controller.stop()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def write_kubeconfig(self, path: str | Path) -> Path:
        return write_kubeconfig(path, self.url, self.token)

    def _bootstrap(self) -> None:
        for plural, group, obj in initial_objects(self.topology):
            if group == KUEUE and not self.has_kueue:
                continue
            rt = self.registry.get(plural, group)
            status = obj.pop("status", None)
            created = self.api.create(rt, obj["metadata"].get("namespace", ""), obj)
            if status is not None:

                def restore(o: Obj, s: Any = status) -> None:
                    o.update(status=s)

                self.api.modify(rt, "", created["metadata"]["name"], restore)

    def _admission_changed(self) -> None:
        """A fault changed what Kueue may admit: a scheduling cycle looks again."""
        if self.kueue is not None:
            self.kueue.enqueue(CYCLE)

    def _preempt(self, cluster_queue: str) -> int:
        if self.kueue is None:
            return 0
        workloads = self.registry.get("workloads", KUEUE)
        evicted = 0
        for wl in self.store.list(workloads):
            admission = (wl.get("status") or {}).get("admission") or {}
            if admission.get("clusterQueue") == cluster_queue and condition_true(
                wl, "QuotaReserved"
            ):
                message = (
                    "Preempted to accommodate a workload (sandbox fault) due to prioritization "
                    "in the ClusterQueue"
                )
                meta = wl["metadata"]
                evicted += self.kueue.eviction.evict(
                    meta["namespace"],
                    meta["name"],
                    "Preempted",
                    message,
                    preempted_reason="InClusterQueue",
                )
        return evicted

    # -- admin endpoints (the ApiServer's Admin) --------------------------------------------

    @property
    def api_latency_ms(self) -> float:
        return self.faults.state.latency_ms

    @property
    def api_error_fraction(self) -> float:
        return self.faults.state.error_fraction

    def refusal(self, info: dict[str, Any]) -> str | None:
        return self.faults.refusal(info)

    def info(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "resourceVersion": self.store.resource_version,
            "sites": [
                {
                    "name": s.name,
                    "type": s.type,
                    "nodes": [n.name for n in s.nodes],
                    "remote_queue_delay": s.remote_queue_delay,
                }
                for s in self.topology.sites
            ],
            "namespaces": list(self.topology.all_namespaces()),
            "kueue": self.has_kueue,
            "running_processes": self.kubelet.running_processes(),
            "faults": self.faults.state.to_dict(),
        }

    def faults_state(self) -> dict[str, Any]:
        return self.faults.state.to_dict()

    def apply_fault(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.faults._apply(request)

    async def reset(self) -> dict[str, Any]:
        """Delete every object, stop every pod, clear faults and the audit trail, and lay the
        topology anew."""
        await self.kubelet.stop_pods()
        self.server.audit.clear()
        self.faults.state = type(self.faults.state)()
        removed = 0
        for rt in self.registry:
            for obj in self.store.list(rt):
                meta = obj["metadata"]
                removed += (
                    self.store.remove(rt, meta.get("namespace", ""), meta["name"]) is not None
                )
        for sub in ("pods", "claims"):
            shutil.rmtree(self.state_dir / sub, ignore_errors=True)
        self._bootstrap()
        await asyncio.sleep(0)
        return {"removed": removed, "resourceVersion": self.store.resource_version}
