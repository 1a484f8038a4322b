"""One node watch and one pod watch, shared by every spawner of the hub process.

The spawn form shows live free/total GPUs per model and the automatic profile needs each site's
health. Both are answered from these caches, so rendering the form makes no Kubernetes request
(the AI_INFN hub listed every node and pod twice per render). The watches are the jobs
service's :class:`~aiinfn_hub.kube.cache.Reflector`: list once, then watch, resume, relist on
410 Gone, retry with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..kube.cache import Reflector
from ..kube.client import Kube
from ..kube.startup import StartupError, wait_synced
from ..placement import GpuPool, Site, SiteHealth
from ..placement.capacity import node_usage, pool_gpus
from ..placement.health import site_health
from .kuberequests import run_detached

log = logging.getLogger(__name__)
GPU_RESOURCE = "nvidia.com/gpu"
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class GpuCount:
    """GPUs of one model: free now on nodes that take new pods, and installed in total."""

    model: str
    free: int
    total: int

    def describe(self) -> str:
        return f"{self.free} of {self.total} {display_model(self.model)} free"


def display_model(model: str) -> str:
    """A GPU model's catalogue id as people write it: ``RTX5000`` -> ``RTX 5000``,
    ``A100-MIG-1g.10gb`` -> ``A100 MIG 1g.10gb`` (``A100`` and ``T4`` stay as they are)."""
    words = model.replace("-", " ").replace("_", " ").split()
    return " ".join(re.sub(r"^([A-Z]{2,})(\d)", r"\1 \2", w) for w in words)


def count_gpus(
    site: Site, pool: GpuPool, nodes: list[Mapping[str, Any]], pods: list[Mapping[str, Any]]
) -> GpuCount:
    """Free and total GPUs of ``pool`` on the site's nodes (those its wiring selects, whatever
    they are called) that carry the pool's product label."""
    amount = pool_gpus(site, pool, nodes, node_usage(pods))
    return GpuCount(pool.model, int(amount.free), int(amount.total))


class ClusterView:
    """Nodes, and pods of the hub's namespace, watched once per event loop and API server."""

    #: loop -> (API server, namespace) -> view; a closed loop's views go with it
    _views: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], ClusterView]]
    _views = weakref.WeakKeyDictionary()

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.nodes = Reflector(kube, "node", kube.core.list_node)
        self.pods = Reflector(kube, "pod", kube.core.list_namespaced_pod, (kube.namespace,))
        self.unsynced = ""  # why the caches did not sync, as last logged
        run_detached("watch", self.nodes.start)
        run_detached("watch", self.pods.start)

    @classmethod
    def shared(cls, api_client: Any, namespace: str) -> ClusterView:
        """The view for this loop, API server and namespace; started on first use."""
        views = cls._views.setdefault(asyncio.get_running_loop(), {})
        key = (api_client.configuration.host, namespace)
        view = views.get(key)
        if view is None:
            view = views[key] = cls(Kube(api_client, namespace))
        return view

    @classmethod
    async def stop_all(cls) -> None:
        """Stop the watches of every view of this loop (tests, a hub shutting down)."""
        views = cls._views.pop(asyncio.get_running_loop(), {})
        for view in views.values():
            await view.nodes.stop()
            await view.pods.stop()

    @property
    def synced(self) -> bool:
        return self.nodes.synced.is_set() and self.pods.synced.is_set()

    async def ready(self, timeout: float) -> bool:
        """Wait until both caches hold a first list; False if that takes over ``timeout`` s,
        and the hub's log says why in one line with the fix (once, not at every form), as
        the jobs service does when it cannot start."""
        try:
            await wait_synced((self.nodes, self.pods), timeout=timeout, kube=self.kube)
        except StartupError as exc:
            if str(exc) != self.unsynced:
                self.unsynced = str(exc)
                log.error("the spawn form shows no live GPU counts or site health: %s", exc)
            return False
        return True

    def gpus(self, site: Site, pool: GpuPool) -> GpuCount | None:
        """Free/total GPUs of a pool at a site; None before the first list arrives."""
        if not self.synced:
            return None
        return count_gpus(
            site, pool, list(self.nodes.objects.values()), list(self.pods.objects.values())
        )

    def health(self, site: Site) -> SiteHealth | None:
        """A site's health from its nodes; None before the first list arrives."""
        if not self.nodes.synced.is_set():
            return None
        return site_health(site, list(self.nodes.objects.values()))

    def healths(self, sites: Iterable[Site]) -> dict[str, SiteHealth]:
        """The health of each of ``sites``, by name; empty before the first list arrives."""
        if not self.nodes.synced.is_set():
            return {}
        nodes = list(self.nodes.objects.values())
        return {site.name: site_health(site, nodes) for site in sites}

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.pods.objects.get(f"{self.kube.namespace}/{name}")
