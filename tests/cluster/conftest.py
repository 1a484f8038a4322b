"""The real-stack suite: tests that need the real control plane of ``aiinfn-hub cluster``.

``make test-cluster`` runs them through ``aiinfn-hub cluster run``, which exports
``AIINFN_CLUSTER_STATE_DIR`` (the running cluster's state folder: its kubeconfig, its fault
endpoint). Without it there is no cluster to test, so pytest does not collect this folder:
``make test`` covers the sandbox, ``make test-cluster`` this.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aiinfn_hub.cluster.cluster import ClusterState
from aiinfn_hub.cluster.kubeapi import KubeApi

STATE_DIR = os.environ.get("AIINFN_CLUSTER_STATE_DIR")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if STATE_DIR is None and collection_path.is_relative_to(Path(__file__).parent):
        return True
    return None


@pytest.fixture(scope="session")
def state() -> ClusterState:
    found = ClusterState.read(Path(STATE_DIR))
    assert found is not None and found.alive, f"no cluster runs from {STATE_DIR}"
    return found


@pytest.fixture(scope="session")
def admin(state: ClusterState) -> KubeApi:
    """The cluster's admin, with the client certificate of ``system:masters``."""
    from aiinfn_hub.cluster.certs import Pair

    certs = Path(STATE_DIR) / "certs"
    return KubeApi(state.server, certs / "ca.crt", Pair(certs / "admin.crt", certs / "admin.key"))
