"""Flavor assignment: which ResourceFlavor of a ClusterQueue a workload's pod set fits, or why
none does.

Imitates Kueue's flavor assigner (pkg/scheduler/flavorassigner): per resource group the first
flavor whose node labels do not contradict the pods' node selection, whose taints the pods (or
the flavor's tolerations) tolerate, and that has quota, borrowing within the cohort up to the
borrowing limit. The reasons and messages are Kueue's (``NoMatchingFlavor``,
``ExceedsMaxQuota``, ``WaitingForQuota``; the scheduler turns them into Kueue's default words,
see :mod:`.words`). Pure: reads the objects it is given, writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ....kube.quantity import format_quantity, parse_quantity
from ....kueuenames import QuotaReason
from ...objects import Obj
from ...quantity import Resources
from ...selectors import expression, untolerated_taint
from .words import exceeds_max_quota

#: Quota in use: (cluster queue, flavor, resource) -> amount.
Usage = dict[tuple[str, str, str], Decimal]


@dataclass
class Outcome:
    """A scheduling attempt: an assignment, or why not (QuotaReserved=False reason/message)."""

    reason: QuotaReason | None = None
    message: str = ""
    flavors: dict[str, str] | None = None
    usage: Resources | None = None


def assign(
    *,
    pod_set: str,
    pod_spec: Obj,
    total: Resources,
    cq: Obj,
    cqs: dict,
    flavors: dict,
    usage: Usage,
    stalled: bool,
) -> Outcome:
    """Assign a flavor per resource group to a pod set needing ``total``, or say why not: the
    most schedulable flavor's reason (waiting beats a limit beats a mismatch)."""
    cq_name = cq["metadata"]["name"]
    groups = (cq.get("spec") or {}).get("resourceGroups") or []
    covered = {r for g in groups for r in g.get("coveredResources") or []}
    prefix = f"couldn't assign flavors to pod set {pod_set}: "
    for res in sorted(total):
        if res not in covered:
            return Outcome(
                QuotaReason.NO_MATCHING_FLAVOR,
                f"{prefix}resource {res} unavailable in ClusterQueue",
            )
    assignment: dict[str, str] = {}
    for group in groups:
        wanted = {r: q for r, q in total.items() if r in (group.get("coveredResources") or [])}
        if not wanted and total:
            continue
        reasons: list[tuple[QuotaReason, str]] = []
        for flavor_quota in group.get("flavors") or []:
            flavor = flavors[flavor_quota["name"]]
            why = flavor_mismatch(pod_spec, flavor)
            if why:
                reasons.append((QuotaReason.NO_MATCHING_FLAVOR, why))
                continue
            shortfall = quota_shortfall(
                cq_name=cq_name,
                cq=cq,
                cqs=cqs,
                flavor_quota=flavor_quota,
                wanted=wanted,
                usage=usage,
                stalled=stalled,
            )
            if shortfall:
                reasons.append(shortfall)
                continue
            for res in group.get("coveredResources") or []:
                assignment[res] = flavor_quota["name"]
            break
        else:
            # the most schedulable flavor's reason: waiting beats a limit beats a mismatch
            kinds = {r for r, _ in reasons}
            order = (QuotaReason.WAITING_FOR_QUOTA, QuotaReason.EXCEEDS_MAX_QUOTA)
            reason = next((k for k in order if k in kinds), QuotaReason.NO_MATCHING_FLAVOR)
            message = prefix + ", ".join(sorted(m for _, m in reasons))
            return Outcome(reason, message)
    used = {r: assignment[r] for r in total if r in assignment} or {
        r: f for r, f in assignment.items() if r == "cpu"
    }
    return Outcome(flavors=used or dict(assignment), usage=total)


def flavor_mismatch(pod_spec: Obj, flavor: Obj) -> str:
    """Why a flavor is not eligible: its node labels contradict the pod's node selection
    (only the keys the flavor defines count), or it has a taint the pod does not tolerate."""
    spec = flavor.get("spec") or {}
    name = flavor["metadata"]["name"]
    labels = spec.get("nodeLabels") or {}
    selector = pod_spec.get("nodeSelector") or {}
    clash = any(k in labels and labels[k] != v for k, v in selector.items())
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(
        all(
            expression(e).matches(labels)
            for e in t.get("matchExpressions") or []
            if e.get("key") in labels
        )
        for t in terms
    ):
        clash = True
    if clash:
        return f"flavor {name} doesn't match node affinity"
    tolerations = (pod_spec.get("tolerations") or []) + (spec.get("tolerations") or [])
    taint = untolerated_taint(tolerations, spec.get("nodeTaints") or [])
    if taint:
        text = f"{taint.get('key')} {taint.get('value', '')} {taint.get('effect')} <nil>"
        return f"untolerated taint {{{text}}} in flavor {name}"
    return ""


def quota_shortfall(
    *,
    cq_name: str,
    cq: Obj,
    cqs: dict,
    flavor_quota: Obj,
    wanted: Resources,
    usage: Usage,
    stalled: bool,
) -> tuple[QuotaReason, str] | None:
    """Why a flavor's quota cannot take ``wanted`` now (``WaitingForQuota``: not now;
    ``ExceedsMaxQuota``: never, even borrowing all the cohort lends), or None if it can. A
    stalled queue (a sandbox fault) waits whatever its quota."""
    flavor = flavor_quota["name"]
    quotas = {r["name"]: r for r in flavor_quota.get("resources") or []}
    cohort = (cq.get("spec") or {}).get("cohortName")
    peers = [
        c for c in cqs.values() if cohort and (c.get("spec") or {}).get("cohortName") == cohort
    ]
    for res, amount in sorted(wanted.items()):
        quota = quotas.get(res)
        nominal = parse_quantity(quota["nominalQuota"]) if quota else Decimal(0)
        used = usage.get((cq_name, flavor, res), Decimal(0))
        shown = format_quantity(amount, res)
        if stalled:
            return (
                QuotaReason.WAITING_FOR_QUOTA,
                f"insufficient unused quota for {res} in flavor {flavor}, {shown} more needed",
            )
        limit = (
            parse_quantity(quota["borrowingLimit"])
            if quota and quota.get("borrowingLimit") is not None
            else None
        )
        cohort_nominal = sum((nominal_quota(p, flavor, res) for p in peers), Decimal(0))
        cohort_used = sum(
            (usage.get((p["metadata"]["name"], flavor, res), Decimal(0)) for p in peers),
            Decimal(0),
        )
        borrowable = max(cohort_nominal - nominal, Decimal(0)) if peers else Decimal(0)
        if limit is not None:
            borrowable = min(borrowable, limit)
        maximum = nominal + borrowable
        if amount > maximum:
            most = format_quantity(maximum, res)
            return QuotaReason.EXCEEDS_MAX_QUOTA, exceeds_max_quota(res, flavor, shown, most)
        available = min(maximum - used, cohort_nominal - cohort_used) if peers else nominal - used
        if amount > available:
            more = format_quantity(amount - max(available, Decimal(0)), res)
            return (
                QuotaReason.WAITING_FOR_QUOTA,
                f"insufficient unused quota for {res} in flavor {flavor}, {more} more needed",
            )
    return None


def nominal_quota(cq: Obj, flavor: str, res: str) -> Decimal:
    """A ClusterQueue's nominal quota of ``res`` in ``flavor`` (0 where it names none)."""
    for group in (cq.get("spec") or {}).get("resourceGroups") or []:
        for fq in group.get("flavors") or []:
            if fq.get("name") == flavor:
                for r in fq.get("resources") or []:
                    if r.get("name") == res:
                        return parse_quantity(r.get("nominalQuota", 0))
    return Decimal(0)
