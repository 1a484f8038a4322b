"""The resource types the sandbox serves, their versions, and the discovery documents."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

KUEUE = "kueue.x-k8s.io"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SERVER_VERSION = {
    "major": "1",
    "minor": "36",
    "gitVersion": "v1.36.3-aiinfn-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

Converter = Callable[[dict[str, Any], str], dict[str, Any]]


def _no_conversion(obj: dict[str, Any], _version: str) -> dict[str, Any]:
    return obj


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the API and how it behaves."""

    group: str
    versions: tuple[str, ...]  # served; the first is the storage and preferred version
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    field_labels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    builtin: bool = True  # False: a custom resource (no strategic merge patch)
    # a delete that removes the object answers with it rather than a Status (one that only
    # marks it for deletion, e.g. held by a finalizer, always answers with the object)
    returns_deleted: bool = False
    generation: bool = False  # metadata.generation tracks spec changes
    # a mutating admission webhook (Kueue's) re-encodes the object: a custom resource's body
    # naming another kind is then taken as this kind rather than refused
    mutating_webhook: bool = False
    convert: Converter = field(default=_no_conversion, compare=False, repr=False)

    @property
    def storage_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        version = version or self.storage_version
        return f"{self.group}/{version}" if self.group else version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def supports_field(self, name: str) -> bool:
        return name in ("metadata.name", "metadata.namespace") or name in self.field_labels

    def to_version(self, obj: dict[str, Any], version: str) -> dict[str, Any]:
        """The stored object as served at ``version``."""
        if version == self.storage_version:
            return obj
        out = self.convert(copy.deepcopy(obj), version)
        out["apiVersion"] = self.api_version(version)
        return out

    def from_version(self, obj: dict[str, Any], version: str) -> dict[str, Any]:
        """A client's object at ``version`` in the storage version."""
        if version != self.storage_version:
            obj = self.convert(obj, self.storage_version)
        obj["apiVersion"] = self.api_version()
        obj["kind"] = self.kind
        return obj


def _cohort_rename(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """ClusterQueue ``spec.cohort`` (v1beta1) is ``spec.cohortName`` in v1beta2."""
    spec = obj.get("spec")
    old, new = ("cohortName", "cohort") if version == "v1beta1" else ("cohort", "cohortName")
    if isinstance(spec, dict) and old in spec:
        spec[new] = spec.pop(old)
    return obj


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    *(
        f"involvedObject.{f}"
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    ),
    "reason",
    "reportingComponent",
    "source",
    "type",
)
_KUEUE = (KUEUE, ("v1beta2", "v1beta1"))

#: Discovery's words for each subresource: its verbs, and its kind where it is not the
#: resource's.
_SUBRESOURCES: dict[str, dict[str, Any]] = {
    "status": {"verbs": ["get", "patch", "update"]},
    "log": {"kind": "Pod", "verbs": ["get"]},
    "eviction": {"group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]},
}

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "", ("v1",), "namespaces", "Namespace", False, ("ns",), ("status",), ("status.phase",)
    ),
    ResourceType(
        "", ("v1",), "pods", "Pod", True, ("po",), ("status", "log", "eviction"), _POD_FIELDS,
        ("all",), returns_deleted=True,
    ),
    ResourceType("", ("v1",), "events", "Event", True, ("ev",), (), _EVENT_FIELDS),
    ResourceType(
        "", ("v1",), "nodes", "Node", False, ("no",), ("status",), ("spec.unschedulable",)
    ),
    ResourceType("", ("v1",), "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", ("v1",), "secrets", "Secret", True, (), (), ("type",)),
    ResourceType(
        "", ("v1",), "services", "Service", True, ("svc",), ("status",), (), ("all",),
        returns_deleted=True,
    ),
    ResourceType(
        "", ("v1",), "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",),
        ("status",), returns_deleted=True,
    ),
    ResourceType(
        "", ("v1",), "serviceaccounts", "ServiceAccount", True, ("sa",), returns_deleted=True
    ),
    ResourceType(
        "batch", ("v1",), "jobs", "Job", True, (), ("status",), (), ("all",), generation=True
    ),
    ResourceType(
        *_KUEUE, "resourceflavors", "ResourceFlavor", False, ("flavor", "flavors", "rf"),
        categories=("kueue",), builtin=False, generation=True, mutating_webhook=True,
    ),
    ResourceType(
        *_KUEUE, "clusterqueues", "ClusterQueue", False, ("cq",), ("status",),
        categories=("kueue",), builtin=False, generation=True, convert=_cohort_rename,
        mutating_webhook=True,
    ),
    ResourceType(
        *_KUEUE, "localqueues", "LocalQueue", True, ("queue", "queues", "lq"), ("status",),
        categories=("kueue",), builtin=False, generation=True,
    ),
    ResourceType(
        *_KUEUE, "workloads", "Workload", True,
        ("kwl", "kueueworkload", "kueueworkloads"), ("status",),
        categories=("kueue",), builtin=False, generation=True, mutating_webhook=True,
    ),
)  # fmt: skip


class Registry:
    """Lookup of resource types by API path and by kind, and the discovery documents."""

    def __init__(self, resources: tuple[ResourceType, ...] = RESOURCES) -> None:
        self.resources = resources
        self._by_path = {(r.group, v, r.plural): r for r in resources for v in r.versions}
        self._by_kind = {(r.group, r.kind): r for r in resources}
        self.groups: dict[str, tuple[str, ...]] = {}
        for r in resources:
            if r.group:
                self.groups.setdefault(r.group, r.versions)
        self.custom_groups = frozenset(r.group for r in resources if not r.builtin)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.resources)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group = api_version.rpartition("/")[0]
        return self._by_kind.get((group, kind))

    def get(self, plural: str, group: str = "") -> ResourceType:
        for r in self.resources:
            if r.plural == plural and r.group == group:
                return r
        raise KeyError(plural)

    def served_versions(self, group: str) -> tuple[str, ...]:
        return ("v1",) if not group else self.groups.get(group, ())

    # -- discovery ------------------------------------------------------------------------------

    def paths(self, others: tuple[str, ...]) -> list[str]:
        """The listing the real server answers at ``/``: every API path, and ``others``."""
        api = ["/api", "/api/v1", "/apis"]
        for group, versions in self.groups.items():
            api += [f"/apis/{group}", *(f"/apis/{group}/{v}" for v in versions)]
        return sorted(api + list(others))

    def api_versions(self, server_address: str) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }

    def api_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.groups[group]]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for group in self.groups:
            doc = self.api_group(group)
            del doc["kind"], doc["apiVersion"]
            groups.append(doc)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        items: list[dict[str, Any]] = []
        for r in self.resources:
            if r.group != group or version not in r.versions:
                continue
            entry: dict[str, Any] = {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": VERBS,
            }
            if r.short_names:
                entry["shortNames"] = list(r.short_names)
            if r.categories:
                entry["categories"] = list(r.categories)
            items.append(entry)
            for sub in r.subresources:
                entry = {"name": f"{r.plural}/{sub}", "singularName": "", "kind": r.kind,
                         "namespaced": r.namespaced, **_SUBRESOURCES.get(sub, {})}  # fmt: skip
                items.append(entry)
        if not items:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": items,
        }
