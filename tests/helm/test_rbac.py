"""helm-values/rbac.yaml: what the hub's service account needs beyond the chart's Role.

Its shape (RBAC v1 objects, bindings, no wildcards, cluster-wide only for cluster-scoped kinds,
read-only) is checked here, and its rules against the README's RBAC table both ways. That
the table is what the code really does is tests/hub/test_rbac_audit.py's job: it checks these
rules against the audit trail of a real hub on the sandbox.
"""

from __future__ import annotations

import re

import pytest

from .helpers import NAMESPACE, REPO
from .rbac import CHART_RULES, Grant, documents, grants, one

RBAC = "rbac.authorization.k8s.io"
DOCUMENTS = documents()
CLUSTER_SCOPED = {("", "nodes"), ("kueue.x-k8s.io", "clusterqueues")}
CLUSTER_SCOPED |= {("kueue.x-k8s.io", "resourceflavors")}
READ = {"get", "list", "watch"}
#: The README table's "granted by" column, and the rules each means.
GRANTORS = {
    "the chart's Role": CHART_RULES,
    "`rbac.yaml` Role": one(DOCUMENTS, "Role")["rules"],
    "`rbac.yaml` ClusterRole": one(DOCUMENTS, "ClusterRole")["rules"],
}


def readme_table() -> list[tuple[str, set[Grant]]]:
    """(granted by, grants) per row of the "The RBAC the service needs" table (the jobs
    service's guide, docs/jobs-service.md)."""
    text = (REPO / "docs" / "jobs-service.md").read_text(encoding="utf-8")
    section = text.split("## The RBAC the service needs", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("resource", "---"):
            continue
        what, verbs, _why, grantor = cells
        match = re.fullmatch(r"(?:`([a-z0-9.-]+)` )?([a-z/]+)(?: \(cluster-scoped\))?", what)
        assert match, f"README RBAC table: cannot read the resource {what!r}"
        group, resource = match.group(1) or "", match.group(2)
        names = {v.strip().strip("()") for v in verbs.split(",")}
        rows.append((grantor, {(group, resource, verb) for verb in names}))
    assert rows, "the README has no RBAC table under 'The RBAC the service needs'"
    return rows


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
        for rule in one(DOCUMENTS, kind)["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], f"{kind}: wildcard in {key}"


@pytest.mark.parametrize("row", readme_table(), ids=lambda row: sorted(row[1])[0][1])
def test_each_row_of_the_readme_table_is_granted_by_what_it_names(row):
    grantor, needed = row
    assert grantor in GRANTORS, f"README RBAC table: unknown 'granted by' {grantor!r}"
    missing = needed - grants(GRANTORS[grantor])
    assert not missing, f"{grantor} does not grant {sorted(missing)}"


def test_rbac_yaml_grants_exactly_the_readme_rows_it_is_named_for():
    for kind in ("Role", "ClusterRole"):
        grantor = f"`rbac.yaml` {kind}"
        listed = set().union(*(g for who, g in readme_table() if who == grantor))
        assert grants(GRANTORS[grantor]) == listed, f"rbac.yaml's {kind} vs the README table"


def test_the_cluster_wide_grant_is_read_only_and_for_cluster_scoped_kinds():
    for group, resource, verb in grants(one(DOCUMENTS, "ClusterRole")["rules"]):
        assert verb in READ, f"{group}/{resource}: {verb} cluster-wide"
        assert (group, resource.split("/")[0]) in CLUSTER_SCOPED, f"{resource} is namespaced"


def test_nothing_the_hub_must_not_do():
    ours = grants(one(DOCUMENTS, "Role")["rules"]) | grants(one(DOCUMENTS, "ClusterRole")["rules"])
    forbidden = {
        ("", "pods", "patch"),
        ("", "pods/exec", "create"),
        ("", "secrets", "get"),
        ("", "serviceaccounts/token", "create"),
        ("batch", "jobs", "deletecollection"),
        ("", "configmaps", "deletecollection"),
        ("kueue.x-k8s.io", "workloads", "patch"),
        ("kueue.x-k8s.io", "workloads", "delete"),
        ("", "nodes", "patch"),
        (RBAC, "roles", "create"),
        (RBAC, "rolebindings", "create"),
    }
    assert not ours & forbidden


@pytest.mark.parametrize(
    ("binding", "role"), [("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")]
)
def test_bindings_name_the_hub_service_account(binding, role):
    doc, target = one(DOCUMENTS, binding), one(DOCUMENTS, role)
    assert doc["roleRef"] == {"apiGroup": RBAC, "kind": role, "name": target["metadata"]["name"]}
    assert doc["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": NAMESPACE}]


#: `kubectl auth can-i VERB RESOURCE[.GROUP] [-n NS] --as=system:serviceaccount:NS:SA` and the
#: answer the deployment guides promise (`# yes`, `# no: ...`, "says yes").
CAN_I = re.compile(
    r"kubectl auth can-i (?P<verb>\S+) (?P<resource>[a-z/]+)(?:\.(?P<group>[a-z0-9.-]+))?"
    r"(?: -n (?P<namespace>\S+))? --as=system:serviceaccount:(?P<sa_namespace>[^:\s]+):"
    r"(?P<account>[^\s`]+)`?\s*(?:#\s*|says )(?P<answer>yes|no)\b"
)


DOCS = REPO / "docs"


def guide_checks() -> list[tuple[str, re.Match]]:
    found = []
    for path in (REPO / "README.md", REPO / "helm-values" / "README.md", *DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        found += [(f"{path.name}: {m.group(0)}", m) for m in CAN_I.finditer(text)]
    return found


def test_the_guides_can_i_checks_answer_as_the_rbac_files_say():
    """An admin following the guide must get the answers it promises, not a stale grant."""
    from .rbac import HubRbac

    checks = guide_checks()
    assert len(checks) >= 3, "the deployment guides have no `kubectl auth can-i` checks"
    rbac = HubRbac.from_files(NAMESPACE)
    for where, check in checks:
        assert (check["sa_namespace"], check["account"]) == (NAMESPACE, "hub"), where
        allowed = rbac.allows(
            check["group"] or "", check["resource"], check["verb"], check["namespace"] or ""
        )
        assert allowed == (check["answer"] == "yes"), where
