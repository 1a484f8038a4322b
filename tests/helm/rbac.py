"""The hub service account's RBAC as the API server's authorizer applies it.

Two sources grant it rights: the zero-to-jupyterhub chart's own Role (its
templates/hub/rbac.yaml, modelled in :data:`CHART_RULES`) and helm-values/rbac.yaml (a Role in
the hub's namespace and a ClusterRole). A request is allowed when a rule of a Role in the
request's namespace, or of the ClusterRole anywhere, names its API group, its resource (with
``/subresource``) and its verb. No wildcards: tests/helm/test_rbac.py keeps rbac.yaml free of
them, and the chart uses none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .helpers import HELM_VALUES, load_all

#: The chart's own Role for the hub (templates/hub/rbac.yaml, chart 4.x and 5.x).
CHART_RULES: list[dict[str, list[str]]] = [
    {
        "apiGroups": [""],
        "resources": ["pods", "persistentvolumeclaims", "secrets", "services"],
        "verbs": ["get", "watch", "list", "create", "delete"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
]

#: (API group, resource or resource/subresource, verb)
Grant = tuple[str, str, str]


def documents() -> list[dict[str, Any]]:
    """The objects of helm-values/rbac.yaml."""
    return load_all(HELM_VALUES / "rbac.yaml")


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in rbac.yaml, found {len(found)}"
    return found[0]


def grants(rules: Iterable[Mapping[str, Any]]) -> set[Grant]:
    """Every (group, resource, verb) the rules name."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def allows(rules: Iterable[Mapping[str, Any]], group: str, resource: str, verb: str) -> bool:
    """Whether ``rules`` grant ``verb`` on ``resource`` of ``group``."""
    return (group, resource, verb) in grants(rules)


@dataclass(frozen=True)
class HubRbac:
    """What the hub's service account may do: Role rules (the chart's and ours) in its own
    namespace, ClusterRole rules everywhere (cluster-scoped kinds, or across namespaces)."""

    namespace: str
    role: tuple[Grant, ...]
    cluster_role: tuple[Grant, ...]

    @classmethod
    def from_files(cls, namespace: str) -> HubRbac:
        """The chart's Role and helm-values/rbac.yaml, as if installed in ``namespace``."""
        docs = documents()
        role = grants(CHART_RULES) | grants(one(docs, "Role")["rules"])
        cluster_role = grants(one(docs, "ClusterRole")["rules"])
        return cls(namespace, tuple(sorted(role)), tuple(sorted(cluster_role)))

    def allows(self, group: str, resource: str, verb: str, namespace: str) -> bool:
        """Whether a request for ``verb`` on ``resource`` in ``namespace`` ('' for a
        cluster-scoped kind or all namespaces) is authorized."""
        grant = (group, resource, verb)
        return grant in self.cluster_role or (namespace == self.namespace and grant in self.role)
