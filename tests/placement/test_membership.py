"""A site's nodes are the nodes its wiring selects, whatever the cluster calls them."""

from __future__ import annotations

import dataclasses

import pytest

from aiinfn_hub.placement import Placer, Wiring, belongs_to, site_nodes
from aiinfn_hub.placement.membership import missing_nodes, tolerates

SITES = Placer().sites
LOCAL, LEONARDO, TIER1 = SITES["local"].wiring, SITES["leonardo"].wiring, SITES["tier1"].wiring
INTERLINK = {"key": "virtual-node.interlink/no-schedule", "value": "true", "effect": "NoSchedule"}


def node(name, labels=None, taints=()):
    return {"metadata": {"name": name, "labels": dict(labels or {})}, "spec": {"taints": [*taints]}}


def local_node(name, **extra):
    return node(name, {"aiinfn.infn.it/site": "local", **extra})


def virtual(name, **labels):
    return node(name, {"kubernetes.io/hostname": name, **labels}, [INTERLINK])


def names(wiring, nodes):
    return [n["metadata"]["name"] for n in site_nodes(wiring, nodes)]


def test_the_catalogue_lists_no_node_names():
    assert all(site.wiring.nodes == () for site in SITES.values())


@pytest.mark.parametrize("count", [1, 2, 9])
def test_local_nodes_are_the_labelled_ones_whatever_their_names(count):
    labelled = [local_node(n) for n in ("worker-a", "dgx-01", "gpu-node.example")]
    labelled += [local_node(f"rack{i}-worker-{i:03d}.cluster.infn.it") for i in range(5)]
    others = [
        node("worker-b"),  # not labelled yet
        node("teaching-1", {"aiinfn.infn.it/site": "teaching"}),
        virtual("vk-leonardo"),
    ]
    cluster = labelled[:count] + others
    assert names(LOCAL, cluster) == [n["metadata"]["name"] for n in labelled[:count]]
    assert names(LOCAL, others) == []


def test_a_hostname_selector_names_the_node_with_or_without_the_label():
    assert belongs_to(LEONARDO, virtual("vk-leonardo"))
    unlabelled = node("vk-leonardo", taints=[INTERLINK])  # the kubelet's label not returned
    assert belongs_to(LEONARDO, unlabelled)
    assert not belongs_to(LEONARDO, virtual("vk-tier1"))
    renamed = dataclasses.replace(
        LEONARDO, node_selector={"kubernetes.io/hostname": "interlink-slurm-leonardo.cineca.it"}
    )
    cluster = [virtual("interlink-slurm-leonardo.cineca.it"), virtual("vk-leonardo")]
    assert names(renamed, cluster) == ["interlink-slurm-leonardo.cineca.it"]
    assert not belongs_to(renamed, virtual("vk-leonardo"))


def test_a_virtual_node_belongs_only_to_a_site_that_tolerates_interlink():
    labelled_virtual = node("vk-leonardo", {"aiinfn.infn.it/site": "local"}, [INTERLINK])
    assert not belongs_to(LOCAL, labelled_virtual)
    everything = Wiring(local_queue="all")  # a local site with no selector at all
    cluster = [local_node("worker-a"), node("worker-b"), virtual("vk-leonardo"), virtual("vk-t1")]
    assert names(everything, cluster) == ["worker-a", "worker-b"]
    tolerant = dataclasses.replace(everything, tolerations=LEONARDO.tolerations)
    assert names(tolerant, cluster) == ["worker-a", "worker-b", "vk-leonardo", "vk-t1"]
    # other taints (maintenance, not-ready) leave a node in its site: health reports them
    held = node("worker-c", {"aiinfn.infn.it/site": "local"}, [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
    ])  # fmt: skip
    assert belongs_to(LOCAL, held)


def test_listed_names_only_narrow_the_selection():
    narrowed = dataclasses.replace(LOCAL, nodes=("dgx-01", "worker-z"))
    cluster = [local_node("worker-a"), local_node("dgx-01"), node("worker-z")]
    assert names(narrowed, cluster) == ["dgx-01"]  # worker-z is listed but not labelled


def test_words_for_a_site_without_nodes():
    assert missing_nodes(LOCAL) == "no node is labelled aiinfn.infn.it/site=local"
    assert missing_nodes(TIER1) == "no node is named vk-tier1"
    narrowed = dataclasses.replace(LOCAL, nodes=("dgx-01", "dgx-02"))
    assert missing_nodes(narrowed) == (
        "no node is labelled aiinfn.infn.it/site=local and named dgx-01 or dgx-02"
    )


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        ({"key": INTERLINK["key"], "operator": "Exists", "effect": "NoSchedule"}, True),
        ({"key": INTERLINK["key"], "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),
        ({"key": INTERLINK["key"], "value": "true", "effect": "NoSchedule"}, True),
        ({"key": INTERLINK["key"], "operator": "Equal", "value": "false"}, False),
        ({"key": INTERLINK["key"], "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "pool.vk.io", "operator": "Exists"}, False),
        ({"key": INTERLINK["key"]}, False),  # Equal to an empty value
    ],
)
def test_tolerations_follow_kubernetes_rule(toleration, expected):
    assert tolerates(toleration, INTERLINK) is expected
