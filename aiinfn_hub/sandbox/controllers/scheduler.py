"""A kube-scheduler stand-in: filters nodes as its plugins do and explains failures alike.

Modelled plugins: VolumeBinding's PreFilter (a claim that does not exist or is being deleted
leaves the pod Pending, for every node), NodeUnschedulable, TaintToleration, NodeAffinity,
NodeResourcesFit (with LeastAllocated scoring) and the pod count; then DefaultPreemption's
words. Not modelled: claims not yet bound, topology spread, inter-pod affinity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from ..api import Api
from ..objects import Obj, is_terminal_pod, set_condition
from ..quantity import Resources, parse_resources, pod_requests, shortfall
from ..selectors import node_affinity_matches, untolerated_taint
from ..store import Event
from .base import Controller

SCHEDULER = "default-scheduler"
CYCLE = "cycle"
_UNSCHEDULABLE = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_NOT_HELPFUL = "Preemption is not helpful for scheduling"
_NO_VICTIMS = "No preemption victims found for incoming pod"


#: the one key, CYCLE
SchedulerKey = str


class Scheduler(Controller[SchedulerKey]):
    """Binds pending pods whose ``schedulerName`` is ``default-scheduler`` to a node."""

    name = SCHEDULER

    def __init__(self, api: Api) -> None:
        super().__init__(api)
        self.pods = self.registry.get("pods")
        self.nodes = self.registry.get("nodes")
        self.claims = self.registry.get("persistentvolumeclaims")

    def keys(self, event: Event) -> Iterable[SchedulerKey]:
        if event.rt is self.nodes or event.rt is self.claims:
            yield CYCLE
        elif event.rt is self.pods:
            spec = event.obj.get("spec") or {}
            frees = event.type == "DELETED" or is_terminal_pod(event.obj)
            if frees or (not spec.get("nodeName") and spec.get("schedulerName") == SCHEDULER):
                yield CYCLE

    def initial_keys(self) -> Iterable[SchedulerKey]:
        return [CYCLE]

    async def reconcile(self, key: SchedulerKey) -> float | None:
        nodes = self.store.list(self.nodes)
        allocatable = {
            n["metadata"]["name"]: parse_resources((n.get("status") or {}).get("allocatable"))
            for n in nodes
        }
        used: dict[str, Resources] = {name: {} for name in allocatable}
        count: Counter[str] = Counter()
        pending = []
        for pod in self.store.list(self.pods):
            spec = pod.get("spec") or {}
            node = spec.get("nodeName")
            if node:
                if not is_terminal_pod(pod) and node in used:
                    for res, q in pod_requests(spec).items():
                        used[node][res] = used[node].get(res, Decimal(0)) + q
                    count[node] += 1
            elif spec.get("schedulerName") == SCHEDULER and not pod["metadata"].get(
                "deletionTimestamp"
            ):
                pending.append(pod)
        pending.sort(
            key=lambda p: (
                -int((p.get("spec") or {}).get("priority") or 0),
                p["metadata"]["creationTimestamp"],
                p["metadata"]["name"],
            )
        )
        for pod in pending:
            missing = self._claim_problem(pod)
            if missing:
                self._unschedulable(pod, unschedulable_message(len(nodes), {}, missing))
                continue
            requests = pod_requests(pod["spec"])
            fits: list[tuple[float, str]] = []
            reasons: dict[str, list[str]] = {}
            for node in nodes:
                name = node["metadata"]["name"]
                free = {r: q - used[name].get(r, Decimal(0)) for r, q in allocatable[name].items()}
                why = self._filter(pod, node, requests, free, count[name])
                if why:
                    reasons[name] = why
                else:
                    fits.append((self._score(requests, free, allocatable[name]), name))
            if fits:
                _, chosen = min(fits, key=lambda f: (-f[0], f[1]))
                self._bind(pod, chosen)
                for res, q in requests.items():
                    used[chosen][res] = used[chosen].get(res, Decimal(0)) + q
                count[chosen] += 1
            else:
                self._unschedulable(pod, unschedulable_message(len(nodes), reasons))
        return None

    def _claim_problem(self, pod: Obj) -> str:
        """The VolumeBinding plugin's PreFilter: the first claim of the pod that does not
        exist or is being deleted, in its words; '' if none."""
        namespace = pod["metadata"]["namespace"]
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            source = volume.get("persistentVolumeClaim")
            if source is None:
                continue
            name = source.get("claimName", "")
            claim = self.store.get(self.claims, namespace, name)
            if claim is None:
                return f'persistentvolumeclaim "{name}" not found'
            if claim["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{name}" is being deleted'
        return ""

    @staticmethod
    def _filter(
        pod: Obj, node: Obj, requests: Resources, free: Resources, pods_on_node: int
    ) -> list[str]:
        spec = pod.get("spec") or {}
        tolerations = spec.get("tolerations") or []
        node_spec = node.get("spec") or {}
        if node_spec.get("unschedulable") and untolerated_taint(tolerations, [_UNSCHEDULABLE]):
            return ["node(s) were unschedulable"]
        taint = untolerated_taint(tolerations, node_spec.get("taints"))
        if taint:
            return [
                f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
            ]
        if not node_affinity_matches(spec, node):
            return ["node(s) didn't match Pod's node affinity/selector"]
        lacking = [f"Insufficient {r}" for r in shortfall(requests, free)]
        if "pods" in free and pods_on_node + 1 > free["pods"]:
            lacking.insert(0, "Too many pods")
        return lacking

    @staticmethod
    def _score(requests: Resources, free: Resources, allocatable: Resources) -> float:
        """LeastAllocated: the share of cpu and memory left free after placing the pod."""
        shares = []
        for res in ("cpu", "memory"):
            total = allocatable.get(res) or Decimal(0)
            if total > 0:
                shares.append(
                    float((free.get(res, Decimal(0)) - requests.get(res, Decimal(0))) / total)
                )
        return sum(shares) / len(shares) if shares else 0.0

    def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]

        def bind(p: Obj) -> None:
            p["spec"]["nodeName"] = node
            set_condition(p.setdefault("status", {}), "PodScheduled", True, probe_times=True)

        self.api.modify(self.pods, meta["namespace"], meta["name"], bind)
        message = f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}"
        self.api.event(pod, "Scheduled", message, component=SCHEDULER)

    def _unschedulable(self, pod: Obj, message: str) -> None:
        meta = pod["metadata"]
        changed = False

        def mark(p: Obj) -> None:
            nonlocal changed
            changed = set_condition(
                p.setdefault("status", {}),
                "PodScheduled",
                False,
                "Unschedulable",
                message,
                probe_times=True,
            )

        self.api.modify(self.pods, meta["namespace"], meta["name"], mark)
        if changed:
            self.api.event(pod, "FailedScheduling", message, type="Warning", component=SCHEDULER)


def unschedulable_message(total: int, reasons: dict[str, list[str]], prefilter: str = "") -> str:
    """kube-scheduler's FitError text: a sorted histogram of the nodes' reasons, then
    preemption's; or the words of a PreFilter plugin that failed for every node, then what
    1.36.3's preemption answers then (its dry run fails on the same missing object: an error
    status whose message is just "not found", seen on the real control plane)."""
    if prefilter:
        return f"0/{total} nodes are available: {prefilter}. not found"
    else:
        histogram: Counter[str] = Counter(r for why in reasons.values() for r in why)
        parts = sorted(f"{n} {reason}" for reason, n in histogram.items())
        resolvable = sum(
            1
            for why in reasons.values()
            if why and (why[0].startswith("Insufficient") or why[0] == "Too many pods")
        )
        unresolvable = len(reasons) - resolvable
    preemption = sorted(
        f"{n} {text}" for n, text in ((resolvable, _NO_VICTIMS), (unresolvable, _NOT_HELPFUL)) if n
    )
    message = f"0/{total} nodes are available: {', '.join(parts)}."
    if preemption:
        message += f" preemption: 0/{total} nodes are available: {', '.join(preemption)}."
    return message
