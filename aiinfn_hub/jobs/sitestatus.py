"""Site capacity and health, as the jobs service sees them (``GET /sites``, and the health the
controller and the placement plan read).

Health is computed from the nodes each site's wiring selects, afresh at every node event;
capacity and queue depth are read from the cached nodes, pods and Kueue Workloads when asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..apitypes import SiteView
from ..kube.conditions import condition, is_true
from ..placement import Placer, SiteHealth
from ..placement.capacity import node_usage, site_capacity
from ..placement.health import site_health
from .breakers import Breakers


class SiteStatus:
    """Each site's health (kept up to date from the nodes) and its capacity and queue."""

    def __init__(
        self,
        *,
        placer: Placer,
        nodes: Callable[[], Sequence[Mapping[str, Any]]],
        breakers: Breakers | None = None,
    ) -> None:
        """``nodes()``: the cluster's nodes as cached now; ``breakers``: the sites' circuit
        breakers (default: each with the default settings)."""
        self.placer = placer
        self.nodes = nodes
        self.health: dict[str, SiteHealth] = {}
        self.breakers = breakers or Breakers(sites=placer.sites, settings={})

    def placing(self) -> dict[str, SiteHealth]:
        """The health placement reads (plans, and the site a job moves to next): the nodes',
        and a site whose breaker is open is not usable, saying why. One path skips both."""
        found = dict(self.health)
        for name in self.placer.sites:
            skip = self.breakers.skip(name)
            if skip:
                found[name] = dataclasses.replace(self.of(name), degraded=skip)
        return found

    def refresh(self) -> set[str]:
        """Recompute every site's health from the nodes; returns the sites whose health
        changed."""
        nodes = self.nodes()
        fresh = {site.name: site_health(site, nodes) for site in self.placer.sites.values()}
        changed = {name for name, h in fresh.items() if self.health.get(name) != h}
        self.health = fresh
        return changed

    def of(self, name: str) -> SiteHealth:
        """A site's health (usable until the nodes say otherwise)."""
        return self.health.get(name, SiteHealth())

    def sites(
        self, pods: Iterable[Mapping[str, Any]], workloads: Iterable[Mapping[str, Any]]
    ) -> list[SiteView]:
        """Each site: health, free and total capacity, queue depth and pending reasons, from
        the namespace's ``pods`` and Kueue ``workloads``."""
        nodes = self.nodes()
        used = node_usage(pods)
        workloads = list(workloads)
        result: list[SiteView] = []
        for site in self.placer.sites.values():
            health = self.of(site.name)
            pending = [
                w
                for w in workloads
                if (w.get("spec") or {}).get("queueName") == site.wiring.local_queue
                and not is_true(w, "QuotaReserved")
                and not is_true(w, "Finished")
            ]
            reasons = sorted(
                {
                    (condition(w, "QuotaReserved") or {}).get("message", "")
                    for w in pending
                    if condition(w, "QuotaReserved")
                }
                - {""}
            )[:3]
            result.append(
                {
                    "name": site.name,
                    "display_name": site.display_name,
                    "kind": site.kind.value,
                    "summary": site.summary,
                    "health": {
                        "usable": health.usable,
                        "state": "ok" if health.usable else health.describe(),
                    },
                    "capacity": site_capacity(site, nodes, used),
                    "queue": {"pending": len(pending), "reasons": reasons},
                    "gpu_models": list(site.capabilities.gpu_models),
                    "breaker": self.breakers.shown(site.name),
                }
            )
        return result
