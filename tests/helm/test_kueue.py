"""helm-values/kueue.yaml: valid Kueue v1beta2 objects that match the placement catalogue."""

from __future__ import annotations

import copy
import re

import jsonschema
import pytest

from aiinfn_hub.placement import default_catalogue

from .helpers import (
    HELM_VALUES,
    INTERLINK_TAINT_KEY,
    NAMESPACE,
    crds_by_kind,
    load_all,
    need_schemas,
    quantity,
    structural,
    tolerates,
    version_schema,
)

API_VERSION = "kueue.x-k8s.io/v1beta2"
COVERED = ["cpu", "memory", "nvidia.com/gpu"]
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TAINT_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}

DOCUMENTS = load_all(HELM_VALUES / "kueue.yaml")
SITES = {site.name: site for site in default_catalogue()}


def _ids(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def _by_kind(kind):
    return {d["metadata"]["name"]: d for d in DOCUMENTS if d["kind"] == kind}


FLAVORS = _by_kind("ResourceFlavor")
CLUSTER_QUEUES = _by_kind("ClusterQueue")
LOCAL_QUEUES = _by_kind("LocalQueue")


@pytest.fixture(scope="module")
def crds():
    return crds_by_kind(need_schemas())


def _schema_errors(crds, doc):
    crd = crds[doc["kind"]]
    schema = structural(version_schema(crd, API_VERSION.rpartition("/")[2]))
    return list(jsonschema.Draft7Validator(schema).iter_errors(doc))


# ----------------------------------------------------------------------------- schema validity


def test_the_stream_holds_exactly_the_site_objects():
    kinds = [d["kind"] for d in DOCUMENTS]
    assert sorted(kinds) == sorted(["ResourceFlavor", "ClusterQueue", "LocalQueue"] * 3)
    # flavors first, then the queues that name them, then the local queues that name those
    assert kinds == sorted(kinds, key=["ResourceFlavor", "ClusterQueue", "LocalQueue"].index)


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_ids)
def test_every_document_validates_against_its_crd(crds, doc):
    assert doc["apiVersion"] == API_VERSION
    crd = crds[doc["kind"]]
    assert crd["spec"]["group"] == API_VERSION.partition("/")[0]
    metadata = doc["metadata"]
    assert set(metadata) <= {"name", "namespace", "labels", "annotations"}
    assert DNS_SUBDOMAIN.match(metadata["name"]) and len(metadata["name"]) <= 253
    if crd["spec"]["scope"] == "Namespaced":
        assert metadata.get("namespace") == NAMESPACE
    else:
        assert "namespace" not in metadata, "cluster-scoped objects take no namespace"
    errors = _schema_errors(crds, doc)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("kind", "mutate"),
    [
        # the v1beta1 name of cohortName
        ("ClusterQueue", lambda d: d["spec"].update(cohort=d["spec"].pop("cohortName"))),
        ("ClusterQueue", lambda d: d["spec"]["resourceGroups"][0]["flavors"][0].pop("resources")),
        ("ClusterQueue", lambda d: d["spec"].update(queueingStrategy="FIFO")),
        ("ResourceFlavor", lambda d: d["spec"].update(nodeSelector=d["spec"]["nodeLabels"])),
        ("LocalQueue", lambda d: d["spec"].update(clusterQueue="Local_Queue")),
    ],
    ids=["v1beta1-cohort", "no-resources", "bad-enum", "unknown-field", "bad-name"],
)
def test_a_broken_document_fails_validation(crds, kind, mutate):
    doc = copy.deepcopy(next(d for d in DOCUMENTS if d["kind"] == kind))
    mutate(doc)
    assert _schema_errors(crds, doc), f"the {kind} schema accepted a broken document"


# -------------------------------------------------- rules Kueue enforces in CEL and its webhook


def test_cluster_queue_rules_beyond_the_openapi_schema():
    for name, queue in CLUSTER_QUEUES.items():
        spec = queue["spec"]
        for group in spec["resourceGroups"]:
            for flavor in group["flavors"]:
                names = [r["name"] for r in flavor["resources"]]
                assert names == group["coveredResources"], f"{name}/{flavor['name']}"
                assert flavor["name"] in FLAVORS, f"{name}: no ResourceFlavor {flavor['name']}"
                for resource in flavor["resources"]:
                    nominal = quantity(resource["nominalQuota"])
                    assert nominal >= 0
                    if "borrowingLimit" in resource:
                        assert spec.get("cohortName"), "borrowingLimit needs a cohort"
                    if "lendingLimit" in resource:
                        assert spec.get("cohortName"), "lendingLimit needs a cohort"
                        assert quantity(resource["lendingLimit"]) <= nominal


def test_flavor_taints_and_tolerations_are_well_formed():
    for name, flavor in FLAVORS.items():
        for taint in flavor["spec"].get("nodeTaints", []):
            assert taint["effect"] in TAINT_EFFECTS, name
        for toleration in flavor["spec"].get("tolerations", []):
            operator = toleration.get("operator", "Equal")
            assert operator in {"Equal", "Exists"}, name
            if operator == "Exists":
                assert "value" not in toleration, name
            if not toleration.get("key"):
                assert operator == "Exists", name
            if "effect" in toleration:
                assert toleration["effect"] in TAINT_EFFECTS, name


# ------------------------------------------------------------------- the placement catalogue


def test_site_names_match_the_placement_catalogue():
    assert set(FLAVORS) == set(SITES)
    assert set(CLUSTER_QUEUES) == set(SITES)
    assert {site.wiring.local_queue for site in SITES.values()} == set(LOCAL_QUEUES)


@pytest.mark.parametrize("name", sorted(SITES))
def test_each_site_has_its_queue_chain(name):
    """Site -> its LocalQueue -> a ClusterQueue with exactly one flavor: the site's own."""
    site = SITES[name]
    local_queue = LOCAL_QUEUES[site.wiring.local_queue]
    assert local_queue["metadata"]["namespace"] == NAMESPACE
    cluster_queue = CLUSTER_QUEUES[local_queue["spec"]["clusterQueue"]]
    groups = cluster_queue["spec"]["resourceGroups"]
    assert len(groups) == 1 and len(groups[0]["flavors"]) == 1
    assert groups[0]["coveredResources"] == COVERED
    assert groups[0]["flavors"][0]["name"] == name
    assert cluster_queue["spec"]["cohortName"] == "aiinfn"
    selector = cluster_queue["spec"]["namespaceSelector"]
    assert selector == {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}


@pytest.mark.parametrize("name", sorted(SITES))
def test_flavor_matches_the_site_wiring(name):
    """Kueue skips a flavor whose nodeLabels conflict with the Job's nodeSelector, and one
    whose taints the Job does not tolerate: the hub's Jobs must fit their site's flavor."""
    site = SITES[name]
    spec = FLAVORS[name]["spec"]
    assert spec["nodeLabels"] == dict(site.wiring.node_selector)
    taints = spec.get("nodeTaints", [])
    for taint in taints:
        assert any(tolerates(dict(t), taint) for t in site.wiring.tolerations), taint
    if site.is_offload:
        assert set(spec["nodeLabels"]) == {"kubernetes.io/hostname"}  # the virtual node
        interlink = {"key": INTERLINK_TAINT_KEY, "value": "true", "effect": "NoSchedule"}
        assert interlink in taints
        assert any(tolerates(t, interlink) for t in spec["tolerations"])
    else:
        assert taints == [] and "tolerations" not in spec
        assert "kubernetes.io/hostname" not in spec["nodeLabels"]


# ------------------------------------------------------------------------------------- quotas


def _quota(queue_name):
    flavor = CLUSTER_QUEUES[queue_name]["spec"]["resourceGroups"][0]["flavors"][0]
    return {r["name"]: r for r in flavor["resources"]}


@pytest.mark.parametrize(
    ("name", "cpu", "memory"),
    [("local", 64, "256Gi"), ("leonardo", 1024, "8Ti"), ("tier1", 2048, "16Ti")],
)
def test_nominal_quotas(name, cpu, memory):
    quota = _quota(name)
    assert quantity(quota["cpu"]["nominalQuota"]) == cpu
    assert quantity(quota["memory"]["nominalQuota"]) == quantity(memory)
    # the GPU quota is every GPU the catalogue says the site has (local: 2 + 4 + 4 + 7 = 17)
    gpus = sum(pool.total for pool in SITES[name].capabilities.gpus)
    assert quantity(quota["nvidia.com/gpu"]["nominalQuota"]) == gpus
    assert {"local": 17, "leonardo": 32, "tier1": 0}[name] == gpus


def test_remote_queues_cannot_borrow_local_gpus():
    for name, queue in CLUSTER_QUEUES.items():
        flavors = [f["name"] for g in queue["spec"]["resourceGroups"] for f in g["flavors"]]
        if name != "local":
            assert "local" not in flavors, f"{name} may use local nodes"
        for resource in _quota(name).values():
            assert quantity(resource["borrowingLimit"]) == 0, f"{name}/{resource['name']}"
    assert quantity(_quota("local")["nvidia.com/gpu"]["lendingLimit"]) == 0
