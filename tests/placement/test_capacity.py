"""A site's capacity reads every Kubernetes quantity form a node or pod may carry."""

from __future__ import annotations

import pytest

from aiinfn_hub.placement import Placer
from aiinfn_hub.placement.capacity import node_usage, quantity_value, site_capacity

LOCAL = Placer().sites["local"]


def _node(name, cpu, gpus):
    return {
        "metadata": {"name": name, "labels": {"aiinfn.infn.it/site": "local"}},
        "spec": {},
        "status": {
            "allocatable": {"cpu": cpu, "nvidia.com/gpu": gpus},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _pod(node, cpu, gpus):
    resources = {"requests": {"cpu": cpu}, "limits": {"nvidia.com/gpu": gpus}}
    return {
        "spec": {"nodeName": node, "containers": [{"name": "main", "resources": resources}]},
        "status": {"phase": "Running"},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 0.0), ("", 0.0), ("2", 2.0), ("1500m", 1.5), ("1e2", 100.0), ("2k", 2000.0), (4, 4.0)],
)
def test_quantity_values(value, expected):
    assert quantity_value(value) == expected


def test_capacity_of_nodes_with_exponent_and_suffix_forms():
    nodes = [_node("wn-gpu-07.cnaf.infn.it", "1e2", "8"), _node("Worker_B", "2k", "4e0")]
    pods = [_pod("wn-gpu-07.cnaf.infn.it", "1500m", "1"), _pod("Worker_B", "0.5e3", "2")]
    capacity = site_capacity(LOCAL, nodes, node_usage(pods))
    assert capacity["gpus"] == {"total": 12, "free": 9}
    assert capacity["cpu"] == {"total": 2100.0, "free": 1598.5}
