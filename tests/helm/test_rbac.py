"""helm-values/rbac.yaml: what the hub's service account needs beyond the chart's Role."""

from __future__ import annotations

import pytest

from .helpers import HELM_VALUES, NAMESPACE, load_all

RBAC = "rbac.authorization.k8s.io"
DOCUMENTS = load_all(HELM_VALUES / "rbac.yaml")

#: The chart's own Role for the hub (templates/hub/rbac.yaml), which ours adds to.
CHART_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods", "persistentvolumeclaims", "secrets", "services"],
        "verbs": ["get", "watch", "list", "create", "delete"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
]

#: (API group, resource, verbs) the jobs service and the spawner use in the hub's namespace.
NAMESPACED_NEEDS = [
    ("batch", "jobs", {"get", "list", "watch", "create", "delete", "patch", "update"}),
    ("", "configmaps", {"get", "list", "watch", "create", "delete", "patch"}),
    ("", "pods", {"get", "list", "watch"}),
    ("", "pods/log", {"get"}),
    ("", "events", {"create", "list", "watch"}),
    ("kueue.x-k8s.io", "workloads", {"get", "list", "watch", "patch"}),
    ("kueue.x-k8s.io", "localqueues", {"get", "list", "watch"}),
]
#: ... and cluster-wide, read-only.
CLUSTER_NEEDS = [
    ("", "nodes", {"get", "list", "watch"}),
    ("kueue.x-k8s.io", "clusterqueues", {"get", "list", "watch"}),
    ("kueue.x-k8s.io", "resourceflavors", {"get", "list", "watch"}),
]
CLUSTER_SCOPED = {("", "nodes"), ("kueue.x-k8s.io", "clusterqueues")}
CLUSTER_SCOPED |= {("kueue.x-k8s.io", "resourceflavors")}
READ = {"get", "list", "watch"}


def _one(kind):
    found = [d for d in DOCUMENTS if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def allows(rules, group, resource, verb):
    """Whether RBAC ``rules`` grant ``verb`` on ``resource`` of ``group`` (no wildcards)."""
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in rules
    )


def test_documents_are_rbac_v1_objects():
    assert sorted(d["kind"] for d in DOCUMENTS) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ]
    for doc in DOCUMENTS:
        assert doc["apiVersion"] == f"{RBAC}/v1"
        if doc["kind"] in ("Role", "RoleBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE
        else:
            assert "namespace" not in doc["metadata"]
            # cluster-scoped names carry the namespace: two hubs must not share a binding
            assert doc["metadata"]["name"].endswith(f"-{NAMESPACE}")


def test_rules_are_explicit():
    for kind in ("Role", "ClusterRole"):
        for rule in _one(kind)["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], f"{kind}: wildcard in {key}"


@pytest.mark.parametrize(("group", "resource", "verbs"), NAMESPACED_NEEDS, ids=lambda x: x)
def test_the_hub_can_do_its_namespaced_work(group, resource, verbs):
    rules = CHART_RULES + _one("Role")["rules"]
    missing = {verb for verb in verbs if not allows(rules, group, resource, verb)}
    assert not missing, f"{group or 'core'}/{resource}: missing {sorted(missing)}"


@pytest.mark.parametrize(("group", "resource", "verbs"), CLUSTER_NEEDS, ids=lambda x: x)
def test_the_hub_can_read_cluster_state(group, resource, verbs):
    rules = _one("ClusterRole")["rules"]
    missing = {verb for verb in verbs if not allows(rules, group, resource, verb)}
    assert not missing, f"{group or 'core'}/{resource}: missing {sorted(missing)}"


def test_least_privilege():
    role, cluster_role = _one("Role")["rules"], _one("ClusterRole")["rules"]
    # the cluster-wide grant is read-only and about cluster-scoped kinds only
    for rule in cluster_role:
        assert set(rule["verbs"]) <= READ, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) in CLUSTER_SCOPED, f"{group}/{resource} is namespaced"
    # nothing beyond what the service uses
    assert not allows(role, "", "pods", "patch")
    assert not allows(role, "", "secrets", "get")
    assert not allows(role, "batch", "jobs", "deletecollection")
    assert not allows(role, "kueue.x-k8s.io", "workloads", "delete")
    assert not allows(role, "kueue.x-k8s.io", "localqueues", "create")
    assert not allows(role + cluster_role, "", "nodes", "patch")


@pytest.mark.parametrize(
    ("binding", "role"), [("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")]
)
def test_bindings_name_the_hub_service_account(binding, role):
    doc, target = _one(binding), _one(role)
    assert doc["roleRef"] == {"apiGroup": RBAC, "kind": role, "name": target["metadata"]["name"]}
    assert doc["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": NAMESPACE}]
