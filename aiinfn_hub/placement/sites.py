"""Sites: where jobs can run, what each can do, whether it is up, and how to reach it.

A :class:`Site` is plain data. Its Kubernetes wiring (queue, node selector, tolerations,
annotations) is carried as data for the backend; nothing here talks to Kubernetes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigError, RequestError
from .quantities import format_duration, format_memory, parse_cpu, parse_duration, parse_memory

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")


class SiteKind(str, Enum):
    """Local resources of the cluster, or a remote site reached by offloading (interLink)."""

    LOCAL = "local"
    OFFLOAD = "offload"


#: Volume types and how users read them.
VOLUME_TYPES = {
    "pvc": "PVC",
    "configmap": "ConfigMap",
    "secret": "Secret",
    "emptydir": "emptyDir",
}
#: What interLink virtual nodes can mount.
INTERLINK_VOLUME_TYPES = frozenset({"configmap", "secret", "emptydir"})
INTERLINK_TAINT_KEY = "virtual-node.interlink/no-schedule"
INTERLINK_TOLERATION = {"key": INTERLINK_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
SITE_LABEL = "aiinfn.infn.it/site"
_MIG = re.compile(r"(^|-)MIG-", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class GpuPool:
    """Nodes of one GPU model at a site: ``per_node`` GPUs on each of ``nodes`` nodes."""

    model: str
    per_node: int
    nodes: int = 1
    product: str = ""
    description: str = ""

    @property
    def total(self) -> int:
        return self.per_node * self.nodes

    @property
    def is_mig(self) -> bool:
        """Whether these are MIG slices of a GPU, not whole GPUs: NVIDIA's GPU feature
        discovery writes ``<product>-MIG-<profile>`` as the product of MIG devices."""
        return bool(_MIG.search(self.product or self.model))


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The most one job can get at a site."""

    cpu: float
    memory: int
    max_walltime: int | None = None
    volume_types: frozenset[str] = frozenset(VOLUME_TYPES)
    inbound_network: bool = True
    gpus: tuple[GpuPool, ...] = ()

    def gpu_pool(self, model: str | None) -> GpuPool | None:
        """The pool with the most GPUs per node of ``model`` (any model when ``None``)."""
        pools = [p for p in self.gpus if model is None or p.model == model]
        return max(pools, key=lambda p: p.per_node) if pools else None

    @property
    def gpu_models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.model for p in self.gpus))


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """What the cluster says about a site now; a site that is not ``usable`` is skipped."""

    ready: bool = True
    maintenance: bool = False
    connected: bool = True
    message: str = ""
    registered: bool = True  # False: none of the site's nodes is in the cluster
    degraded: str = ""  # why the site's circuit breaker keeps jobs away (placement/breaker.py)

    @property
    def usable(self) -> bool:
        return (
            self.ready
            and self.connected
            and self.registered
            and not self.maintenance
            and not self.degraded
        )

    def describe(self) -> str:
        """Plain words for why the site is skipped (empty when usable)."""
        if self.maintenance:
            text = "in maintenance"
        elif not self.registered:
            text = "down: none of its nodes is in the cluster"
        elif not self.connected:
            text = "down: the connection to the site is lost"
        elif not self.ready:
            text = "down: its node is not ready"
        elif self.degraded:
            return f"degraded: {self.degraded}"
        else:
            return ""
        return f"{text} ({self.message})" if self.message else text


@dataclass(frozen=True, slots=True)
class Wiring:
    """How the Kubernetes backend sends a job to this site, and which nodes are the site's.

    The site's nodes are those ``node_selector`` selects (see :mod:`.membership`); ``nodes``
    optionally narrows them to the names listed.
    """

    local_queue: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, str], ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    nodes: tuple[str, ...] = ()
    gpu_selector_key: str = GPU_PRODUCT_LABEL


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the controller waits before falling back from this site (seconds)."""

    admission: int = 600
    start: int = 1800


@dataclass(frozen=True, slots=True)
class Site:
    """A place where jobs run."""

    name: str
    display_name: str
    kind: SiteKind
    capabilities: Capabilities
    wiring: Wiring
    health: SiteHealth = SiteHealth()
    timeouts: Timeouts = Timeouts()
    summary: str = ""

    @property
    def is_offload(self) -> bool:
        return self.kind is SiteKind.OFFLOAD

    def problems(self, request: Any) -> list[tuple[str, str]]:
        """``(field, reason)`` for each way this site cannot serve ``request``."""
        caps = self.capabilities
        found: list[tuple[str, str]] = []
        if request.gpus:
            pool = caps.gpu_pool(request.gpu_model)
            if not caps.gpus:
                found.append(("gpus", "has no GPUs"))
            elif pool is None:
                models = ", ".join(caps.gpu_models)
                found.append(("gpu_model", f"has no {request.gpu_model} GPUs (it has {models})"))
            elif request.gpus > pool.per_node:
                found.append(
                    (
                        "gpus",
                        f"offers at most {pool.per_node} {pool.model} GPUs to one job, "
                        f"{request.gpus} asked",
                    )
                )
        if request.cpu > caps.cpu:
            found.append(("cpu", f"offers at most {caps.cpu:g} CPUs to one job"))
        if request.memory > caps.memory:
            found.append(
                ("memory", f"offers at most {format_memory(caps.memory)} of memory to one job")
            )
        if request.walltime and caps.max_walltime and request.walltime > caps.max_walltime:
            found.append(
                (
                    "walltime",
                    f"walltime {format_duration(request.walltime)} exceeds the site's limit "
                    f"of {format_duration(caps.max_walltime)}",
                )
            )
        for volume in request.volumes:
            if volume.type not in caps.volume_types:
                found.append(("volumes", f"cannot mount {volume.describe()}"))
        if request.needs_inbound_network and not caps.inbound_network:
            found.append(("needs_inbound_network", "does not accept inbound connections"))
        return found


def default_catalogue() -> tuple[Site, ...]:
    """The AI_INFN sites: local GPU nodes, CINECA Leonardo (Slurm) and the CNAF Tier-1."""
    offload_volumes = INTERLINK_VOLUME_TYPES
    return (
        Site(
            name="leonardo",
            display_name="CINECA Leonardo",
            kind=SiteKind.OFFLOAD,
            summary="Slurm, A100 GPUs, reached through interLink",
            capabilities=Capabilities(
                cpu=32,
                memory=480 * 2**30,
                max_walltime=24 * 3600,
                volume_types=offload_volumes,
                inbound_network=False,
                gpus=(GpuPool("A100", 4, 8, "A100", "NVIDIA A100 64 GB"),),
            ),
            wiring=Wiring(
                local_queue="leonardo",
                node_selector={"kubernetes.io/hostname": "vk-leonardo"},
                tolerations=(INTERLINK_TOLERATION,),
                annotations={"slurm-job.vk.io/flags": "--partition=boost_usr_prod"},
                gpu_selector_key="nvidia-gpu-type",
            ),
            timeouts=Timeouts(admission=600, start=1800),
        ),
        Site(
            name="tier1",
            display_name="CNAF Tier-1",
            kind=SiteKind.OFFLOAD,
            summary="HTCondor, many CPUs, reached through interLink",
            capabilities=Capabilities(
                cpu=64,
                memory=256 * 2**30,
                max_walltime=72 * 3600,
                volume_types=offload_volumes,
                inbound_network=False,
            ),
            wiring=Wiring(
                local_queue="tier1",
                node_selector={"kubernetes.io/hostname": "vk-tier1"},
                tolerations=(INTERLINK_TOLERATION,),
            ),
            timeouts=Timeouts(admission=600, start=1800),
        ),
        Site(
            name="local",
            display_name="Local resources",
            kind=SiteKind.LOCAL,
            summary="the AI_INFN cluster's own CPU and GPU nodes",
            capabilities=Capabilities(
                cpu=16,
                memory=64 * 2**30,
                max_walltime=7 * 86400,
                gpus=(
                    GpuPool("T4", 2, 1, "Tesla-T4", "NVIDIA Tesla T4 16 GB"),
                    GpuPool("RTX5000", 4, 1, "Quadro-RTX-5000", "NVIDIA Quadro RTX 5000 16 GB"),
                    GpuPool("A100", 4, 1, "NVIDIA-A100-SXM4-40GB", "NVIDIA A100 40 GB"),
                    GpuPool(
                        "A100-MIG-1g.10gb",
                        7,
                        1,
                        "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb",
                        "A100 80 GB MIG slice, 1 compute unit, 10 GB",
                    ),
                ),
            ),
            wiring=Wiring(
                local_queue="local",
                node_selector={SITE_LABEL: "local"},
            ),
            timeouts=Timeouts(admission=3600, start=3600),
        ),
    )


# --------------------------------------------------------------------------- from configuration

_SITE_KEYS = {
    "name",
    "display_name",
    "kind",
    "summary",
    "cpu",
    "memory",
    "max_walltime",
    "volume_types",
    "inbound_network",
    "gpus",
    "wiring",
    "health",
    "timeouts",
}


def _config_value(site: str, key: str, parse: Callable[[object, str], T], value: object) -> T:
    try:
        return parse(value, key)
    except RequestError as exc:
        raise ConfigError(f"site {site!r}: {exc}") from None


def site_from_dict(data: Mapping[str, Any], base: Site | None = None) -> Site:
    """A site from admin configuration, optionally as overrides of ``base``.

    Keys: name, display_name, kind (local|offload), summary, cpu, memory, max_walltime,
    volume_types, inbound_network, gpus (list of {model, per_node, nodes, product}),
    wiring ({local_queue, node_selector, tolerations, annotations, nodes, gpu_selector_key}),
    health ({ready, maintenance, connected, message}), timeouts ({admission, start}).
    """
    unknown = set(data) - _SITE_KEYS
    name = data.get("name", base.name if base else None)
    if not name or not isinstance(name, str):
        raise ConfigError("every site needs a 'name' (e.g. 'leonardo')")
    if unknown:
        raise ConfigError(
            f"site {name!r}: unknown keys {sorted(unknown)}; known keys: {sorted(_SITE_KEYS)}"
        )
    if base is None:
        missing = {"kind", "cpu", "memory", "wiring"} - set(data)
        if missing:
            raise ConfigError(f"site {name!r}: missing {sorted(missing)}")
    caps = base.capabilities if base else None
    kind_text = data.get("kind", base.kind.value if base else None)
    try:
        kind = SiteKind(kind_text)
    except ValueError:
        raise ConfigError(f"site {name!r}: kind must be 'local' or 'offload'") from None
    volumes = data.get("volume_types")
    if volumes is not None:
        bad = set(volumes) - set(VOLUME_TYPES)
        if bad:
            raise ConfigError(
                f"site {name!r}: unknown volume types {sorted(bad)}; known: {sorted(VOLUME_TYPES)}"
            )
        volumes = frozenset(volumes)
    gpus = caps.gpus if caps else ()
    if "gpus" in data:
        try:
            gpus = tuple(GpuPool(**pool) for pool in data["gpus"])
        except TypeError as exc:
            raise ConfigError(f"site {name!r}: gpus: {exc}") from None
    walltime = data.get("max_walltime", caps.max_walltime if caps else None)
    capabilities = Capabilities(
        cpu=(
            caps.cpu
            if caps and "cpu" not in data
            else _config_value(name, "cpu", parse_cpu, data["cpu"])
        ),
        memory=(
            caps.memory
            if caps and "memory" not in data
            else _config_value(name, "memory", parse_memory, data["memory"])
        ),
        max_walltime=(
            _config_value(name, "max_walltime", parse_duration, walltime) if walltime else None
        ),
        volume_types=volumes
        if volumes is not None
        else caps.volume_types
        if caps
        else frozenset(VOLUME_TYPES if kind is SiteKind.LOCAL else INTERLINK_VOLUME_TYPES),
        inbound_network=data.get(
            "inbound_network", caps.inbound_network if caps else kind is SiteKind.LOCAL
        ),
        gpus=gpus,
    )
    try:
        wiring = _wiring(name, kind, base.wiring if base else None, data.get("wiring"))
        health = _merge(base.health if base else None, SiteHealth, data.get("health"))
        timeouts = _merge(base.timeouts if base else None, Timeouts, data.get("timeouts"))
    except TypeError as exc:
        raise ConfigError(f"site {name!r}: {exc}") from None
    return Site(
        name=name,
        display_name=data.get("display_name", base.display_name if base else name),
        kind=kind,
        summary=data.get("summary", base.summary if base else ""),
        capabilities=capabilities,
        wiring=wiring,
        health=health,
        timeouts=timeouts,
    )


def _wiring(
    name: str, kind: SiteKind, base: Wiring | None, raw: Mapping[str, Any] | None
) -> Wiring:
    """A site's wiring from configuration. A remote site is reached through an interLink
    virtual node: it tolerates interLink's taint unless told otherwise, and needs a node
    selector naming its node (its jobs would land on any node without one)."""
    raw = dict(raw or {})
    if base is None and kind is SiteKind.OFFLOAD:
        raw.setdefault("tolerations", [INTERLINK_TOLERATION])
    wiring = _merge(base, Wiring, raw)
    wiring = dataclasses.replace(
        wiring, tolerations=tuple(wiring.tolerations), nodes=tuple(wiring.nodes)
    )
    if kind is SiteKind.OFFLOAD and not wiring.node_selector:
        raise ConfigError(
            f"site {name!r}: a remote site needs wiring.node_selector naming its interLink "
            "virtual node, e.g. {'kubernetes.io/hostname': 'vk-" + name + "'}"
        )
    return wiring


def _merge(base: D | None, cls: type[D], overrides: Mapping[str, Any] | None) -> D:
    if base is None:
        return cls(**(overrides or {}))
    return dataclasses.replace(base, **(overrides or {}))


def index_sites(sites: Iterable[Site]) -> dict[str, Site]:
    """Sites by name; raises :class:`ConfigError` on a duplicate name."""
    result: dict[str, Site] = {}
    for site in sites:
        if site.name in result:
            raise ConfigError(f"two sites are named {site.name!r}; site names must be unique")
        result[site.name] = site
    return result
