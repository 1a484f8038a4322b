"""What a site has and what is free: its nodes' allocatable resources minus the pods on them.

Pure functions over Node and Pod manifests (plain dicts), shared by the jobs service's
``/sites`` and the spawner's live GPU counts. A site's nodes are those its wiring selects
(:func:`~aiinfn_hub.placement.membership.site_nodes`), whatever they are called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..apitypes import GpuModelCapacity, SiteCapacity
from ..kube.conditions import is_true
from ..kube.quantity import parse_quantity
from .membership import site_nodes
from .sites import INTERLINK_TAINT_KEY, GpuPool, Site

GPU_RESOURCE = "nvidia.com/gpu"
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class Usage:
    """What the pods bound to one node hold."""

    gpus: float = 0.0
    cpu: float = 0.0


@dataclass(frozen=True)
class Amount:
    """Free now (on nodes that take new pods) and installed in total."""

    free: float
    total: float


def quantity_value(value: Any) -> float:
    """A Kubernetes quantity (``2``, ``500m``, ``1e3``, ``4k``) as a number; 0 when absent."""
    return 0.0 if value in (None, "") else float(parse_quantity(value))


def container_resource(container: Mapping[str, Any], name: str, first: str, then: str) -> Any:
    """A container's quantity of resource ``name`` from its ``first`` section (``limits`` or
    ``requests``), else from ``then``."""
    resources = container.get("resources") or {}
    return (resources.get(first) or {}).get(name) or (resources.get(then) or {}).get(name)


def node_usage(pods: Iterable[Mapping[str, Any]]) -> dict[str, Usage]:
    """GPUs and CPUs held on each node (by name) by its pods that have not ended.

    A container's GPUs are its limit (Kubernetes sets an extended resource's request to its
    limit), else its request; its CPUs are its request, else its limit.
    """
    used: dict[str, Usage] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            continue
        usage = used.setdefault(node, Usage())
        for container in (pod.get("spec") or {}).get("containers") or ():
            usage.gpus += quantity_value(
                container_resource(container, GPU_RESOURCE, "limits", "requests")
            )
            usage.cpu += quantity_value(container_resource(container, "cpu", "requests", "limits"))
    return used


def takes_new_pods(node: Mapping[str, Any]) -> bool:
    """Ready, not cordoned, and without a NoSchedule/NoExecute taint other than interLink's."""
    if not is_true(node, "Ready"):
        return False
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return False
    return not any(
        taint.get("effect") in ("NoSchedule", "NoExecute")
        and taint.get("key") != INTERLINK_TAINT_KEY
        for taint in spec.get("taints") or ()
    )


def _amount(nodes: Iterable[Mapping[str, Any]], used: Mapping[str, Usage], resource: str) -> Amount:
    free = total = 0.0
    for node in nodes:
        allocatable = ((node.get("status") or {}).get("allocatable") or {}).get(resource)
        have = quantity_value(allocatable)
        total += have
        if takes_new_pods(node):
            usage = used.get((node.get("metadata") or {}).get("name", ""), Usage())
            free += max(0.0, have - (usage.cpu if resource == "cpu" else usage.gpus))
    return Amount(free, total)


def site_capacity(
    site: Site, nodes: Iterable[Mapping[str, Any]], used: Mapping[str, Usage]
) -> SiteCapacity:
    """The site's GPUs (all devices, MIG slices included) and CPUs, free and in total, each
    GPU model's, and the most one job can get there, as ``/sites`` shows them."""
    nodes = list(nodes)
    mine = site_nodes(site.wiring, nodes)
    gpus, cpu = _amount(mine, used, GPU_RESOURCE), _amount(mine, used, "cpu")
    caps = site.capabilities
    return {
        "gpus": {"total": int(gpus.total), "free": int(gpus.free)},
        "cpu": {"total": round(cpu.total, 1), "free": round(cpu.free, 1)},
        "models": [_model_capacity(site, model, nodes, used) for model in caps.gpu_models],
        "per_job": {"cpu": caps.cpu, "memory": caps.memory, "walltime": caps.max_walltime},
    }


def _model_capacity(
    site: Site, model: str, nodes: list[Mapping[str, Any]], used: Mapping[str, Usage]
) -> GpuModelCapacity:
    """One GPU model at a site: free and total (each product's nodes counted once), the most
    one job gets, and whether they are MIG slices."""
    pools = [p for p in site.capabilities.gpus if p.model == model]
    products = {(p.product or p.model): p for p in pools}
    amounts = [pool_gpus(site, pool, nodes, used) for pool in products.values()]
    return {
        "model": model,
        "free": int(sum(a.free for a in amounts)),
        "total": int(sum(a.total for a in amounts)),
        "per_job": max(p.per_node for p in pools),
        "mig": any(p.is_mig for p in pools),
    }


def pool_gpus(
    site: Site, pool: GpuPool, nodes: Iterable[Mapping[str, Any]], used: Mapping[str, Usage]
) -> Amount:
    """GPUs of one model at a site: on the site's nodes whose GPU label (the wiring's
    ``gpu_selector_key``) is the pool's product."""
    product = pool.product or pool.model
    key = site.wiring.gpu_selector_key
    mine = [
        node
        for node in site_nodes(site.wiring, nodes)
        if ((node.get("metadata") or {}).get("labels") or {}).get(key) == product
    ]
    return _amount(mine, used, GPU_RESOURCE)
