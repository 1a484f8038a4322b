"""Which nodes are a site's: the nodes its wiring selects, whatever the cluster calls them.

One rule, used wherever the product asks which nodes a site has (its health, the ``/sites``
capacity, the placement's "down" check, the spawner's live GPU counts), so that the answer
never depends on node names: a real cluster names its nodes ``worker-a`` or ``dgx-01``, and
labels the local ones ``aiinfn.infn.it/site=local`` (helm-values/README.md, step 2).

Pure functions over Node manifests as the API server returns them (plain dicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .sites import INTERLINK_TAINT_KEY, Wiring

#: The kubelet sets this label to the node's name; a selector on it names one node.
HOSTNAME_LABEL = "kubernetes.io/hostname"


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Kubernetes' rule for one toleration and one taint.

    The effects must agree unless the toleration names none; ``Exists`` matches any value of
    its key (and, without a key, every taint); ``Equal`` (the default) also needs the value.
    """
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if (toleration.get("operator") or "Equal") == "Exists":
        return key in ("", taint.get("key"))
    same_value = (toleration.get("value") or "") == (taint.get("value") or "")
    return key == taint.get("key") and same_value


def node_labels(node: Mapping[str, Any]) -> dict[str, str]:
    """The node's labels, with ``kubernetes.io/hostname`` defaulting to its name."""
    meta = node.get("metadata") or {}
    return {HOSTNAME_LABEL: meta.get("name", ""), **(meta.get("labels") or {})}


def belongs_to(wiring: Wiring, node: Mapping[str, Any]) -> bool:
    """Whether ``node`` (a Node manifest) is one of the nodes of the site wired by ``wiring``.

    - Its labels hold every key and value of ``wiring.node_selector``, as the scheduler and
      Kueue's flavor read them. For ``kubernetes.io/hostname`` the node's name counts when the
      label is missing, since the kubelet sets that label to the node's name.
    - A node with interLink's taint (``virtual-node.interlink/no-schedule``, a virtual node in
      front of a remote site) belongs only to a site whose tolerations tolerate it, so a local
      site with a loose selector never claims a virtual node.
    - ``wiring.nodes``, when an admin lists names, only narrows the selection: a listed node
      still has to match the selector. Empty (the default) means every node that matches.
    """
    if wiring.nodes and (node.get("metadata") or {}).get("name") not in wiring.nodes:
        return False
    labels = node_labels(node)
    if any(labels.get(key) != value for key, value in wiring.node_selector.items()):
        return False
    taints = (node.get("spec") or {}).get("taints") or ()
    return all(
        any(tolerates(toleration, taint) for toleration in wiring.tolerations)
        for taint in taints
        if taint.get("key") == INTERLINK_TAINT_KEY
    )


def site_nodes(wiring: Wiring, nodes: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The nodes of ``nodes`` that belong to the site wired by ``wiring`` (see belongs_to)."""
    return [node for node in nodes if belongs_to(wiring, node)]


def missing_nodes(wiring: Wiring) -> str:
    """Plain words for a site none of whose nodes is in the cluster: what its nodes must be."""
    wanted = [
        f"named {value}" if key == HOSTNAME_LABEL else f"labelled {key}={value}"
        for key, value in wiring.node_selector.items()
    ]
    if wiring.nodes:
        wanted.append("named " + (" or ".join(wiring.nodes)))
    if not wanted:
        return "the cluster has no node this site may use"
    return "no node is " + " and ".join(wanted)
