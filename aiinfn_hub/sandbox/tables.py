"""Server-side ``meta.k8s.io/v1`` Tables, so that ``kubectl get`` prints the usual columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .objects import Obj, get_condition, now, parse_time
from .registry import ResourceType

Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def human_age(stamp: str | None) -> str:
    """A duration like kubectl prints it: 45s, 3m12s, 2h5m, 3d4h, 120d."""
    moment = parse_time(stamp)
    if moment is None:
        return "<unknown>"
    return human_duration(int((now() - moment).total_seconds()))


def human_duration(seconds: int) -> str:
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _name(o: Obj) -> str:
    return o["metadata"]["name"]


def _age(o: Obj) -> str:
    return human_age(o["metadata"].get("creationTimestamp"))


def _pod_ready(o: Obj) -> str:
    statuses = (o.get("status") or {}).get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(o: Obj) -> str:
    status = o.get("status") or {}
    if o["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    return reason


def _restarts(o: Obj) -> int:
    statuses = (o.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _node_status(o: Obj) -> str:
    ready = get_condition(o, "Ready")
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(o: Obj) -> str:
    labels = o["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    if labels.get("kubernetes.io/role"):
        roles.append(labels["kubernetes.io/role"])
    return ",".join(roles) or "<none>"


def _job_status(o: Obj) -> str:
    for ctype in ("Complete", "Failed", "Suspended"):
        cond = get_condition(o, ctype)
        if cond and cond.get("status") == "True":
            return ctype
    return "Running"


def _job_completions(o: Obj) -> str:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    want = spec.get("completions")
    return f"{status.get('succeeded', 0)}/{want if want is not None else 1}"


def _job_duration(o: Obj) -> str:
    status = o.get("status") or {}
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    if start is None:
        return ""
    return human_duration(int(((end or now()) - start).total_seconds()))


def _condition_status(ctype: str) -> Callable[[Obj], str]:
    def cell(o: Obj) -> str:
        cond = get_condition(o, ctype)
        return cond.get("status", "") if cond else ""

    return cell


def _path(*parts: str) -> Callable[[Obj], Any]:
    def cell(o: Obj) -> Any:
        node: Any = o
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        return "" if node is None else node

    return cell


def _involved(o: Obj) -> str:
    inv = o.get("involvedObject") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


_COLUMNS: dict[str, list[Column]] = {
    "pods": [
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _restarts),
        ("Age", "string", 0, _age),
        ("IP", "string", 1, _path("status", "podIP")),
        ("Node", "string", 1, _path("spec", "nodeName")),
    ],
    "nodes": [
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        ("Age", "string", 0, _age),
        ("Version", "string", 0, _path("status", "nodeInfo", "kubeletVersion")),
    ],
    "jobs": [
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, _job_completions),
        ("Duration", "string", 0, _job_duration),
        ("Age", "string", 0, _age),
    ],
    "events": [
        ("Last Seen", "string", 0, lambda o: human_age(o.get("lastTimestamp"))),
        ("Type", "string", 0, _path("type")),
        ("Reason", "string", 0, _path("reason")),
        ("Object", "string", 0, _involved),
        ("Message", "string", 0, _path("message")),
    ],
    "namespaces": [("Status", "string", 0, _path("status", "phase")), ("Age", "string", 0, _age)],
    "workloads": [
        ("Queue", "string", 0, _path("spec", "queueName")),
        ("Reserved in", "string", 0, _path("status", "admission", "clusterQueue")),
        ("Admitted", "string", 0, _condition_status("Admitted")),
        ("Finished", "string", 0, _condition_status("Finished")),
        ("Age", "string", 0, _age),
    ],
    "clusterqueues": [
        ("Cohort", "string", 0, _path("spec", "cohortName")),
        ("Strategy", "string", 0, _path("spec", "queueingStrategy")),
        ("Pending Workloads", "integer", 0, _path("status", "pendingWorkloads")),
        ("Admitted Workloads", "integer", 0, _path("status", "admittedWorkloads")),
    ],
    "localqueues": [
        ("ClusterQueue", "string", 0, _path("spec", "clusterQueue")),
        ("Pending Workloads", "integer", 0, _path("status", "pendingWorkloads")),
        ("Admitted Workloads", "integer", 0, _path("status", "admittedWorkloads")),
    ],
}


def wants_table(accept: str) -> bool:
    return "as=Table" in (accept or "")


def to_table(
    rt: ResourceType, objects: list[Obj], resource_version: str, include_object: str = ""
) -> dict[str, Any]:
    """A Table with kubectl's usual columns; rows carry partial metadata by default."""
    columns = [
        ("Name", "string", 0, _name),
        *(_COLUMNS.get(rt.plural) or [("Age", "string", 0, _age)]),
    ]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, _, _, cell in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": ctype,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": priority,
            }
            for name, ctype, priority, _ in columns
        ],
        "rows": rows,
    }
