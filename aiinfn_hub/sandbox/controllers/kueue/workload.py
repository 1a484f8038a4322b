"""The Kueue objects the sandbox's Kueue reads and writes, and what every part of it shares.

Imitates Kueue's ``pkg/workload`` helpers: a workload's status written through one call, its
owner Job and a Job's workload found through owner references, the quota an admission
reserves. The labels and annotations are Kueue's own (``kueue.x-k8s.io/...``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from ....kube.quantity import parse_quantity
from ...api import Api
from ...objects import Obj
from ...registry import KUEUE

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"
PODSET_LABEL = "kueue.x-k8s.io/podset"
WORKLOAD_ANNOTATION = "kueue.x-k8s.io/workload"
#: The component of the events Kueue writes.
COMPONENT = "kueue-admission"
#: The work-queue key of an admission cycle.
CYCLE = ("cycle",)


class KueueApi:
    """The resource types of Kueue's objects (and batch/v1 Jobs) and the writes every part of
    the controller shares."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store
        registry = api.registry
        self.jobs = registry.get("jobs", "batch")
        self.workloads = registry.get("workloads", KUEUE)
        self.flavors = registry.get("resourceflavors", KUEUE)
        self.cqs = registry.get("clusterqueues", KUEUE)
        self.lqs = registry.get("localqueues", KUEUE)

    def set_status(self, wl: Obj, change: Callable[[Obj], object]) -> Obj | None:
        """Change the workload's status; the workload as stored then (None if it is gone)."""
        meta = wl["metadata"]
        return self.api.modify(
            self.workloads,
            meta["namespace"],
            meta["name"],
            lambda w: change(w.setdefault("status", {})),
        )

    def owner_job(self, wl: Obj) -> Obj | None:
        """The Job a workload's owner reference names, if it is that very Job (same uid)."""
        for ref in wl["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Job":
                job = self.store.get(self.jobs, wl["metadata"]["namespace"], ref.get("name", ""))
                if job is not None and job["metadata"]["uid"] == ref.get("uid"):
                    return job
        return None

    def workload_of(self, job: Obj) -> Obj | None:
        """The workload a Job owns, if any."""
        for rt, obj in self.store.dependents(job["metadata"]["uid"]):
            if rt is self.workloads:
                return obj
        return None


def reserved(admission: Obj) -> Iterator[tuple[str, str, Decimal]]:
    """(flavor, resource, amount) for each resource an admission reserves."""
    for psa in admission.get("podSetAssignments") or []:
        flavors = psa.get("flavors") or {}
        for res, amount in (psa.get("resourceUsage") or {}).items():
            if flavors.get(res):
                yield flavors[res], res, parse_quantity(amount)


def missing_flavors(cq: Obj, flavors: dict) -> list[str]:
    """The ResourceFlavors a ClusterQueue names that do not exist (it is then inactive)."""
    names = [
        f["name"]
        for g in (cq.get("spec") or {}).get("resourceGroups") or []
        for f in g.get("flavors") or []
    ]
    return [n for n in names if n not in flavors]
