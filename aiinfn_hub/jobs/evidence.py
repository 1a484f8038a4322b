"""The live objects of a job's current attempt, as :mod:`.explain` reads them: its Workload,
its pods, the nodes they are bound to, its site's health and triggers."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..placement import SiteHealth
from . import labels as L

if TYPE_CHECKING:
    from .controller import Controller
    from .tracked import Tracked


@dataclass(frozen=True)
class Evidence:
    """The live objects of a job's current attempt: its Workload, its pods, the nodes they
    are bound to (by name), the site's health, whether its Job is suspended (not admitted),
    and the exit codes by which the site, not the user's code, ends a job."""

    workload: Mapping[str, Any] | None = None
    pods: Sequence[Mapping[str, Any]] = ()
    nodes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    health: SiteHealth = field(default_factory=SiteHealth)
    suspended: bool = False
    infrastructure: Collection[int] = ()

    @classmethod
    def of(
        cls,
        *,
        job: Mapping[str, Any] | None,
        workload: Mapping[str, Any] | None,
        pods: Sequence[Mapping[str, Any]],
        nodes: Callable[[], Iterable[Mapping[str, Any]]],
        health: SiteHealth,
        infrastructure: Collection[int] = (),
    ) -> Evidence:
        """The evidence of an attempt's objects; ``nodes()``: the cluster's nodes, read only
        when a pod is bound to one."""
        bound = {(p.get("spec") or {}).get("nodeName") for p in pods} - {None, ""}
        found = {}
        if bound:
            found = {n["metadata"]["name"]: n for n in nodes() if n["metadata"]["name"] in bound}
        return cls(
            workload=workload,
            pods=pods,
            nodes=found,
            health=health,
            suspended=bool(((job or {}).get("spec") or {}).get("suspend")),
            infrastructure=infrastructure,
        )


def owned_by(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is one of the Job ``job``'s (by owner reference, or by its label)."""
    uid = job["metadata"].get("uid")
    return any(r.get("uid") == uid for r in pod["metadata"].get("ownerReferences") or ()) or (
        (pod["metadata"].get("labels") or {}).get(L.JOB_NAME_LABEL) == job["metadata"]["name"]
    )


def attempt_evidence(controller: Controller, tracked: Tracked, job: dict[str, Any]) -> Evidence:
    """What the attempt ``job`` of ``tracked`` says now, from the controller's caches."""
    site = job["metadata"]["labels"].get(L.SITE) or ""
    triggers = controller.triggers.get(site)
    return Evidence.of(
        job=job,
        workload=controller.index.workloads.get(job["metadata"].get("uid", "")),
        pods=[p for p in tracked.pods.values() if owned_by(p, job)],
        nodes=controller.status.nodes,
        health=controller.status.of(site),
        infrastructure=triggers.infrastructure_exit_codes if triggers else (),
    )
