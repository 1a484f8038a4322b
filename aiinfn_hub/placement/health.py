"""A site's health from the nodes its wiring selects, as the jobs service and the spawner read
it: usable while one of them is Ready and takes pods (for interLink sites, also connected)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..kube.conditions import condition
from .membership import missing_nodes, site_nodes
from .sites import INTERLINK_TAINT_KEY, Site, SiteHealth


def site_health(site: Site, nodes: Sequence[Mapping[str, Any]]) -> SiteHealth:
    """A site's health from its nodes (those its wiring selects, see
    :func:`~aiinfn_hub.placement.membership.belongs_to`): usable while one of them is Ready,
    connected (interLink's ``InterlinkConnectivity``) and free of maintenance taints."""
    mine = site_nodes(site.wiring, nodes)
    if not mine:
        return SiteHealth(ready=False, registered=False, message=missing_nodes(site.wiring))
    healthy = []
    problems = []
    for node in mine:
        name = node["metadata"]["name"]
        ready = condition(node, "Ready")
        link = condition(node, "InterlinkConnectivity")
        taints = [
            t
            for t in (node.get("spec") or {}).get("taints") or ()
            if t.get("key") != INTERLINK_TAINT_KEY
            and t.get("effect") in ("NoSchedule", "NoExecute")
            and not t.get("key", "").startswith("node.kubernetes.io/")
        ]
        if link and link.get("status") != "True":
            problems.append(
                (
                    "link",
                    f"{name}: {link.get('reason', 'InterlinkPingFailed')}"
                    + (f" ({link['message']})" if link.get("message") else ""),
                )
            )
        elif not ready or ready.get("status") != "True":
            problems.append(("ready", f"node {name} is NotReady"))
        elif taints:
            problems.append(("maintenance", f"{name} tainted {taints[0]['key']}"))
        else:
            healthy.append(name)
    if healthy:
        return SiteHealth()
    kind, message = problems[0]
    return SiteHealth(
        ready=kind != "ready",
        connected=kind != "link",
        maintenance=kind == "maintenance",
        message=message,
    )
