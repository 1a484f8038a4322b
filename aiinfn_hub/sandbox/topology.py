"""The sandbox's sites as data (YAML), and the Node and Kueue objects they stand for."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal, overload

import yaml

from ..kube.quantity import format_quantity, parse_quantity
from .admission import _LABEL, _SUBDOMAIN
from .objects import Obj, set_condition, timestamp
from .quantity import Resources, add

SITE_LABEL = "aiinfn.infn.it/site"
GPU = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
INTERLINK_TAINT = {
    "key": "virtual-node.interlink/no-schedule",
    "value": "true",
    "effect": "NoSchedule",
}
INTERLINK_TOLERATION = {
    "key": "virtual-node.interlink/no-schedule",
    "operator": "Exists",
    "effect": "NoSchedule",
}
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
COVERED_RESOURCES = ("cpu", "memory", GPU)
KUBELET_VERSION = "v1.34.0-sandbox"


class TopologyError(ValueError):
    """A sites file that does not describe a usable topology."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    cpu: str = "16"
    memory: str = "64Gi"
    gpus: int = 0
    gpu_product: str | None = None  # local GPU nodes: the nvidia.com/gpu.product label
    gpu_model: str | None = None  # virtual nodes: interLink's nvidia-gpu-type label
    pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)

    def capacity(self) -> dict[str, str]:
        out = {"cpu": self.cpu, "memory": self.memory, "pods": str(self.pods)}
        if self.gpus:
            out[GPU] = str(self.gpus)
        return out


@dataclass(frozen=True)
class SiteSpec:
    name: str
    type: str  # "local" or "interlink"
    nodes: tuple[NodeSpec, ...]
    remote_queue_delay: float = 0.0
    job_id_prefix: str = "remote"
    maintenance_taint: str | None = None  # None: maintenance cordons the nodes
    tunnel: bool = False  # interLink's Network.EnableTunnel: pods exposing ports are reachable
    quota: dict[str, str] = field(default_factory=dict)
    borrowing_limit: dict[str, str] = field(default_factory=dict)

    @property
    def virtual(self) -> bool:
        return self.type == "interlink"

    def total_capacity(self) -> Resources:
        total: Resources = {}
        for node in self.nodes:
            total = add(total, {k: parse_quantity(v) for k, v in node.capacity().items()})
        return total

    def maintenance(self) -> dict[str, str] | None:
        """The maintenance taint as a dict, or None when maintenance means cordoning."""
        if not self.maintenance_taint:
            return None
        key_value, _, effect = self.maintenance_taint.partition(":")
        key, _, value = key_value.partition("=")
        return {"key": key, "value": value, "effect": effect or "NoSchedule"}


@dataclass(frozen=True)
class KueueSettings:
    pods_ready_timeout: float | None = 1800
    requeue_backoff_base: float = 60
    requeue_backoff_limit: int | None = None
    #: Kueue's UnadmittedWorkloadsObservability gate: detailed QuotaReserved reasons
    #: (NoMatchingFlavor, ExceedsMaxQuota, WaitingForQuota, ...) instead of a default
    #: install's Pending or Inadmissible with the detail in the message.
    unadmitted_workloads_observability: bool = False
    #: Kueue's VisibilityOnDemand gate (beta, on by default): the visibility API of pending
    #: workloads (``visibility.kueue.x-k8s.io``) is served; off, its paths answer 404.
    visibility_on_demand: bool = True


@dataclass(frozen=True)
class Topology:
    sites: tuple[SiteSpec, ...]
    namespaces: tuple[str, ...] = ("default",)
    cohort: str | None = "aiinfn"
    kueue: KueueSettings = KueueSettings()
    job_backoff_seconds: float = 0.0

    def site(self, name: str) -> SiteSpec:
        for site in self.sites:
            if site.name == name:
                return site
        known = ", ".join(s.name for s in self.sites)
        raise KeyError(f"unknown site {name!r} (known: {known})")

    def site_of_node(self, node_name: str) -> SiteSpec | None:
        for site in self.sites:
            if any(n.name == node_name for n in site.nodes):
                return site
        return None

    def all_namespaces(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(("default", "kube-system", *self.namespaces)))


# -- loading -------------------------------------------------------------------------------------


def default_config_text() -> str:
    return resources.files(__package__).joinpath("sites.yaml").read_text()


def load_topology(source: str | Path | dict[str, Any] | Topology | None = None) -> Topology:
    """The built-in topology (None), or one from a YAML file path or an already-parsed dict."""
    if isinstance(source, Topology):
        return source
    if source is None:
        data = yaml.safe_load(default_config_text())
    elif isinstance(source, dict):
        data = source
    else:
        try:
            data = yaml.safe_load(Path(source).read_text())
        except OSError as exc:
            raise TopologyError(f"cannot read {source}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise TopologyError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TopologyError("a sites file must be a mapping with a 'sites' list")
    return _topology(data)


def _name(what: str, value: Any, *, label: bool = False) -> str:
    """``value`` if it is a Kubernetes name (an RFC 1123 label for namespaces)."""
    pattern, limit = (_LABEL, 63) if label else (_SUBDOMAIN, 253)
    if not isinstance(value, str) or len(value) > limit or not pattern.match(value):
        raise TopologyError(
            f"{what} {value!r} is not a Kubernetes name: lowercase letters, digits and '-'"
            + ("" if label else " or '.'")
            + ", starting and ending with a letter or digit"
        )
    return value


@overload
def _seconds(what: str, value: Any, *, optional: Literal[False] = False) -> float: ...


@overload
def _seconds(what: str, value: Any, *, optional: bool) -> float | None: ...


def _seconds(what: str, value: Any, *, optional: bool = False) -> float | None:
    """A non-negative, finite number of seconds (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and value >= 0:
        return float(value)
    raise TopologyError(f"{what} must be a number of seconds, 0 or more, got {value!r}")


def _count(what: str, value: Any, *, optional: bool = False) -> int | None:
    """A whole number, 0 or more (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise TopologyError(f"{what} must be a whole number, 0 or more, got {value!r}")


def _quantities(what: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise TopologyError(f"{what} must map resource names to quantities, got {raw!r}")
    for value in raw.values():
        try:
            parse_quantity(value)
        except ValueError:
            raise TopologyError(f"{what}: {value!r} is not a quantity such as 4 or 16Gi") from None
    return {str(k): str(v) for k, v in raw.items()}


def _kueue(raw: Any) -> KueueSettings:
    if not isinstance(raw, dict):
        raise TopologyError(f"'kueue' must be a mapping of settings, got {raw!r}")
    unknown = set(raw) - {f.name for f in fields(KueueSettings)}
    if unknown:
        raise TopologyError(f"unknown kueue settings: {', '.join(sorted(unknown))}")
    settings: dict[str, Any] = {}
    if "pods_ready_timeout" in raw:
        settings["pods_ready_timeout"] = _seconds(
            "kueue.pods_ready_timeout", raw["pods_ready_timeout"], optional=True
        )
    if "requeue_backoff_base" in raw:
        settings["requeue_backoff_base"] = _seconds(
            "kueue.requeue_backoff_base", raw["requeue_backoff_base"]
        )
    if "requeue_backoff_limit" in raw:
        settings["requeue_backoff_limit"] = _count(
            "kueue.requeue_backoff_limit", raw["requeue_backoff_limit"], optional=True
        )
    for name, default in (
        ("unadmitted_workloads_observability", False),
        ("visibility_on_demand", True),
    ):
        gate = raw.get(name, default)
        if not isinstance(gate, bool):
            raise TopologyError(f"kueue.{name} must be true or false, got {gate!r}")
        settings[name] = gate
    return KueueSettings(**settings)


def _topology(data: dict[str, Any]) -> Topology:
    raw_sites = data.get("sites")
    if not isinstance(raw_sites, list) or not raw_sites:
        raise TopologyError("'sites' must be a non-empty list")
    sites = tuple(_site(s) for s in raw_sites)
    names = [s.name for s in sites]
    nodes = [n.name for s in sites for n in s.nodes]
    for label, items in (("site", names), ("node", nodes)):
        dupes = sorted({x for x in items if items.count(x) > 1})
        if dupes:
            raise TopologyError(f"duplicate {label} names: {', '.join(dupes)}")
    namespaces = data.get("namespaces") or ["default"]
    if not isinstance(namespaces, list):
        raise TopologyError(f"'namespaces' must be a list of names, got {namespaces!r}")
    cohort = data.get("cohort", "aiinfn")
    return Topology(
        sites=sites,
        namespaces=tuple(_name("namespace", n, label=True) for n in namespaces),
        cohort=None if cohort is None else _name("cohort", cohort),
        kueue=_kueue(data.get("kueue") or {}),
        job_backoff_seconds=_seconds("job_backoff_seconds", data.get("job_backoff_seconds") or 0),
    )


def _site(raw: Any) -> SiteSpec:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise TopologyError(f"each site needs a name: {raw!r}")
    name = _name("site name", raw["name"])
    kind = raw.get("type", "local")
    if kind not in ("local", "interlink"):
        raise TopologyError(f"site {name}: type must be 'local' or 'interlink', not {kind!r}")
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise TopologyError(f"site {name}: 'nodes' must be a non-empty list")
    try:
        nodes = tuple(_node(n) for n in raw_nodes)
        extra = {k: raw[k] for k in ("job_id_prefix", "maintenance_taint") if k in raw}
        tunnel = raw.get("tunnel", False)
        if not isinstance(tunnel, bool):
            raise TopologyError(f"tunnel must be true or false, got {tunnel!r}")
        if tunnel and kind != "interlink":
            raise TopologyError("tunnel is interLink's: only an interlink site has one")
        return SiteSpec(
            name=name,
            type=kind,
            nodes=nodes,
            remote_queue_delay=_seconds(
                "remote_queue_delay",
                raw.get("remote_queue_delay", 0.5 if kind == "interlink" else 0),
            ),
            quota=_quantities("quota", raw.get("quota") or {}),
            borrowing_limit=_quantities("borrowing_limit", raw.get("borrowing_limit") or {}),
            tunnel=tunnel,
            **extra,
        )
    except (TypeError, ValueError) as exc:
        raise TopologyError(f"site {name}: {exc}") from exc


def _node(raw: Any) -> NodeSpec:
    if not isinstance(raw, dict) or "name" not in raw:
        raise TopologyError(f"each node is a mapping with a name, got {raw!r}")
    name = _name("node name", raw["name"])
    known = [f.name for f in fields(NodeSpec)]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise TopologyError(f"node {name}: unknown settings {unknown}; known: {', '.join(known)}")
    node = NodeSpec(**raw)
    for what in ("cpu", "memory"):
        try:
            parse_quantity(getattr(node, what))
        except ValueError:
            raise TopologyError(
                f"node {node.name}: {what} {getattr(node, what)!r} is not a quantity"
            ) from None
    _count(f"node {node.name}: gpus", node.gpus)
    _count(f"node {node.name}: pods", node.pods)
    labels = node.labels
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise TopologyError(f"node {node.name}: labels must map text to text, got {labels!r}")
    return node


# -- objects -------------------------------------------------------------------------------------


def node_object(site: SiteSpec, node: NodeSpec) -> Obj:
    """A Node as its kubelet (or interLink's virtual kubelet) registers it."""
    labels = {
        "kubernetes.io/hostname": node.name,
        SITE_LABEL: site.name,
    }
    if site.virtual:
        labels.update(
            {
                "virtual-node.interlink/type": "virtual-kubelet",
                "kubernetes.io/os": "virtual-kubelet",
                "kubernetes.io/role": "agent",
                "node.kubernetes.io/exclude-from-external-load-balancers": "true",
                "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
            }
        )
        if node.gpu_model:
            labels["nvidia-gpu-type"] = node.gpu_model
    else:
        labels.update({"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"})
        if node.gpu_product:
            labels.update({GPU_PRODUCT_LABEL: node.gpu_product, "nvidia.com/gpu.present": "true"})
            labels["nvidia.com/gpu.count"] = str(node.gpus)
    labels.update(node.labels)
    capacity = node.capacity()
    spec: Obj = {"taints": [dict(INTERLINK_TAINT)]} if site.virtual else {}
    if site.virtual:
        spec["providerID"] = f"external:///{node.name}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": labels},
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": node.name},
            ],
            "nodeInfo": {
                "architecture": "virtual-kubelet" if site.virtual else "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBELET_VERSION,
                "containerRuntimeVersion": "sandbox://local-process",
                "osImage": "aiinfn-hub sandbox",
                "kernelVersion": "",
                "kubeProxyVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
            "conditions": [],
        },
    }


def set_node_health(node: Obj, *, virtual: bool, up: bool, why: str = "") -> None:
    """Ready (and InterlinkConnectivity) as the kubelet reports them, plus the not-ready taint
    the node lifecycle controller adds."""
    status = node.setdefault("status", {})
    ready_msg = (
        "kubelet is posting ready status" if up else (why or "Kubelet stopped posting node status.")
    )
    set_condition(status, "Ready", up, "KubeletReady" if up else "KubeletNotReady", ready_msg)
    for ctype, reason in (
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ):
        set_condition(status, ctype, False, reason, "")
    if virtual:
        if up:
            set_condition(
                status,
                "InterlinkConnectivity",
                True,
                "InterlinkPingSuccessful",
                "Ping to InterLink API successful",
            )
        else:
            message = why or "Ping to InterLink API failed: status 503"
            set_condition(status, "InterlinkConnectivity", False, "InterlinkPingFailed", message)
    for cond in status["conditions"]:
        cond["lastHeartbeatTime"] = timestamp()
    taints = [
        t
        for t in (node.setdefault("spec", {}).get("taints") or [])
        if t.get("key") != NOT_READY_TAINT["key"]
    ]
    if not up:
        taints.append(dict(NOT_READY_TAINT, timeAdded=timestamp()))
    if taints:
        node["spec"]["taints"] = taints
    else:
        node["spec"].pop("taints", None)


def set_maintenance(node: Obj, site: SiteSpec, on: bool) -> None:
    """A maintenance taint on a virtual node, or a cordon on a local one."""
    spec = node.setdefault("spec", {})
    taint = site.maintenance() or UNSCHEDULABLE_TAINT
    taints = [t for t in spec.get("taints") or [] if t.get("key") != taint["key"]]
    if on:
        taints.append(dict(taint))
    if site.maintenance() is None:
        if on:
            spec["unschedulable"] = True
        else:
            spec.pop("unschedulable", None)
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)


def flavor_object(site: SiteSpec) -> Obj:
    spec: Obj
    if site.virtual:
        hostname = site.nodes[0].name
        spec = {
            "nodeLabels": {"kubernetes.io/hostname": hostname},
            "nodeTaints": [dict(INTERLINK_TAINT)],
            "tolerations": [dict(INTERLINK_TOLERATION)],
        }
    else:
        spec = {"nodeLabels": {SITE_LABEL: site.name}}
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ResourceFlavor",
        "metadata": {"name": site.name},
        "spec": spec,
    }


def cluster_queue_object(site: SiteSpec, cohort: str | None) -> Obj:
    capacity = site.total_capacity()
    resources_ = []
    for name in COVERED_RESOURCES:
        quota = site.quota.get(name) or format_quantity(capacity.get(name, parse_quantity(0)), name)
        entry: Obj = {"name": name, "nominalQuota": quota}
        if name in site.borrowing_limit and cohort:
            entry["borrowingLimit"] = site.borrowing_limit[name]
        resources_.append(entry)
    spec: Obj = {
        "namespaceSelector": {},
        "resourceGroups": [
            {
                "coveredResources": list(COVERED_RESOURCES),
                "flavors": [{"name": site.name, "resources": resources_}],
            }
        ],
    }
    if cohort:
        spec["cohortName"] = cohort
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": site.name},
        "spec": spec,
    }


def local_queue_object(site: SiteSpec, namespace: str) -> Obj:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "LocalQueue",
        "metadata": {"name": site.name, "namespace": namespace},
        "spec": {"clusterQueue": site.name},
    }


def initial_objects(topology: Topology) -> list[tuple[str, str, Obj]]:
    """(plural, group, object) for everything the topology puts in a fresh sandbox, in order."""
    kueue = "kueue.x-k8s.io"
    out: list[tuple[str, str, Obj]] = [
        ("namespaces", "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for ns in topology.all_namespaces()
    ]
    for site in topology.sites:
        for node in site.nodes:
            obj = node_object(site, node)
            set_node_health(obj, virtual=site.virtual, up=True)
            out.append(("nodes", "", obj))
    out += [("resourceflavors", kueue, flavor_object(s)) for s in topology.sites]
    out += [
        ("clusterqueues", kueue, cluster_queue_object(s, topology.cohort)) for s in topology.sites
    ]
    out += [
        ("localqueues", kueue, local_queue_object(s, ns))
        for ns in topology.namespaces
        for s in topology.sites
    ]
    return out
