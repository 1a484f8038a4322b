"""Where the automatic profile runs a user's server: the request, the GPU pool, the pod's wiring.

The placement engine plans a server like a job: GPUs or not, offloadable or not. A server needs
inbound connections (the proxy reaches it), which remote sites give only when the admin enables
interactive offloading (interLink's mesh or VPN); volumes backed by claims cannot follow it to a
remote site, so they become scratch space there, or keep it local.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kubernetes_asyncio.client import (
    V1EmptyDirVolumeSource,
    V1NodeSelectorRequirement,
    V1NodeSelectorTerm,
    V1Toleration,
)

from ..placement import GpuPool, JobRequest, Site, VolumeNeed
from ..placement.sites import SITE_LABEL
from .clusterview import GpuCount


@dataclass(frozen=True)
class SessionSpec:
    """What the user's server needs, for the placement engine."""

    cpu: float
    memory: int
    gpus: int
    claims: tuple[str, ...]  # names of the volumes backed by PersistentVolumeClaims

    def request(self, interactive_offload: bool, scratch_claims: bool) -> JobRequest:
        volumes = () if scratch_claims else tuple(VolumeNeed("pvc", c) for c in self.claims)
        return JobRequest(
            cpu=self.cpu,
            memory=self.memory,
            gpus=self.gpus,
            volumes=volumes,
            needs_inbound_network=not interactive_offload,
        )


def choose_pool(
    site: Site,
    gpus: int,
    count: Callable[[Site, GpuPool], GpuCount | None],
    preferred: Sequence[str] = (),
) -> GpuPool | None:
    """The site's GPU model for a server with ``gpus`` GPUs.

    Among the models with nodes that hold ``gpus``: one with that many free now first, then
    the ``preferred`` models in order, then the most free GPUs, then the catalogue's order.
    """
    if not gpus:
        return None
    pools = [p for p in site.capabilities.gpus if p.per_node >= gpus]
    if not pools:
        return None

    def rank(pool: GpuPool) -> tuple[bool, int, int, int]:
        known = count(site, pool)
        free = known.free if known is not None else 0
        preference = preferred.index(pool.model) if pool.model in preferred else len(preferred)
        return (free >= gpus, -preference, free, -pools.index(pool))

    return max(pools, key=rank)


def _claim_name(volume: Any) -> str | None:
    """The claim a pod volume (a dict, or a model whose parts may be dicts) mounts, if any."""
    if isinstance(volume, Mapping):
        claim = volume.get("persistentVolumeClaim")
    else:
        claim = getattr(volume, "persistent_volume_claim", None)
    if not claim:
        return None
    if isinstance(claim, Mapping):
        return str(claim.get("claimName", ""))
    return str(claim.claim_name)


def claim_volumes(volumes: list[Any]) -> tuple[str, ...]:
    """Names of the pod volumes backed by a PersistentVolumeClaim."""
    return tuple(
        str(v["name"] if isinstance(v, Mapping) else v.name)
        for v in volumes
        if _claim_name(v) is not None
    )


def place_pod(
    pod: Any,
    site: Site,
    pool: GpuPool | None,
    annotations: Mapping[str, str],
    scratch_claims: bool,
    gpu_tolerations: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """Send ``pod`` (a V1Pod) to ``site``; returns notes for the user (e.g. scratch volumes).

    ``annotations`` go on pods sent to remote sites; ``gpu_tolerations`` on pods given a GPU
    model of a local site (where GPU nodes may be tainted).
    """
    notes: list[str] = []
    spec, meta = pod.spec, pod.metadata
    selector = dict(spec.node_selector or {})
    selector.pop(SITE_LABEL, None)
    selector.update(site.wiring.node_selector)
    spec.node_selector = selector
    if pool is not None:
        term = V1NodeSelectorTerm(
            match_expressions=[
                V1NodeSelectorRequirement(
                    key=site.wiring.gpu_selector_key,
                    operator="In",
                    values=[pool.product or pool.model],
                )
            ]
        )
        _require_node_term(spec, term)
    tolerations = list(spec.tolerations or [])
    extra = [*site.wiring.tolerations, *(gpu_tolerations if pool and not site.is_offload else ())]
    for toleration in extra:
        tolerations.append(V1Toleration(**{_snake(k): v for k, v in toleration.items()}))
    spec.tolerations = tolerations or None
    meta.annotations = {
        **(meta.annotations or {}),
        **dict(site.wiring.annotations),
        **(dict(annotations) if site.is_offload else {}),
    }
    meta.labels = {**(meta.labels or {}), SITE_LABEL: site.name}
    if site.is_offload and scratch_claims:
        for volume in spec.volumes or []:
            claim = _claim_name(volume)
            if claim is not None:
                if isinstance(volume, MutableMapping):
                    volume.pop("persistentVolumeClaim")
                    volume["emptyDir"] = {}
                else:
                    volume.persistent_volume_claim = None
                    volume.empty_dir = V1EmptyDirVolumeSource()
                name = volume["name"] if isinstance(volume, Mapping) else volume.name
                notes.append(
                    f"your volume {name!r} (claim {claim}) cannot be mounted at "
                    f"{site.display_name}: it is an empty scratch folder there, deleted when "
                    "the server stops"
                )
    return notes


#: The address interLink's virtual kubelet reports for a pod it connects neither through its
#: VPN (``interlink.eu/pod-vpn``) nor through its tunnel: from the hub, the hub's own loopback.
INTERLINK_UNCONNECTED_IP = "127.0.0.1"


def unreachable(site: Site, url: str) -> str | None:
    """Why the hub cannot reach a server that ``site`` started at ``url``, if it cannot.

    A remote server is reachable only through interLink's VPN or tunnel; without them the
    virtual kubelet gives it the address 127.0.0.1, where the hub would wait for it in vain
    (until its http_timeout) and then fail the spawn.
    """
    if site.is_offload and urlsplit(url).hostname == INTERLINK_UNCONNECTED_IP:
        return (
            f"{site.display_name} runs your server, but the hub cannot connect to it there "
            "(interLink gave it no address in the cluster's network: its VPN or tunnel is not "
            "on for this server)"
        )
    return None


def _require_node_term(spec: Any, term: V1NodeSelectorTerm) -> None:
    """AND ``term`` into the pod's required node affinity (into every existing term)."""
    from kubernetes_asyncio.client import V1Affinity, V1NodeAffinity, V1NodeSelector

    affinity = spec.affinity or V1Affinity()
    node = affinity.node_affinity or V1NodeAffinity()
    required = node.required_during_scheduling_ignored_during_execution
    if required is None or not required.node_selector_terms:
        required = V1NodeSelector(node_selector_terms=[term])
    else:
        for existing in required.node_selector_terms:
            existing.match_expressions = [
                *(existing.match_expressions or []),
                *term.match_expressions,
            ]
    node.required_during_scheduling_ignored_during_execution = required
    affinity.node_affinity = node
    spec.affinity = affinity


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
