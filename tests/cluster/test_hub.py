"""JupyterHub with AIInfnSpawner on the real control plane: configurable-http-proxy, the hub and
the jobs service (a managed service) configured from helm-values/values.yaml, both talking to the
real kube-apiserver as the hub's ServiceAccount (the chart's Role and helm-values/rbac.yaml only).

Users' servers are pods that kube-scheduler places on the node agents; their home claims are
bound by the cluster's volume provisioner, as a real cluster's default StorageClass binds them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiinfn_hub.cluster.kubeapi import KubeApi
from aiinfn_hub.hubprocess import HubProcess
from tests.hub.conftest import HubClient, started_hub
from tests.hub.test_home_claims import home_round_trip

from .test_control_plane import NAMESPACE, fault

pytestmark = pytest.mark.cluster


class ClusterHubClient(HubClient):
    """The hub's client, reading the cluster as its admin."""

    def __init__(self, process: HubProcess, token: str, admin: KubeApi) -> None:
        super().__init__(process, None, token, NAMESPACE)
        self.admin = admin

    def cluster_get(self, path: str) -> dict[str, Any]:
        return self.admin.request("GET", path)


@pytest.fixture(scope="module")
def hub(admin: KubeApi, tmp_path_factory) -> Iterator[ClusterHubClient]:
    kubeconfig = Path(os.environ["AIINFN_CLUSTER_HUB_KUBECONFIG"])
    state_dir = tmp_path_factory.mktemp("hub-on-cluster")
    with started_hub(kubeconfig, state_dir, NAMESPACE, interactive_offload=True) as started:
        yield ClusterHubClient(*started, admin)


async def test_a_user_with_a_dotted_name_gets_a_bound_home_that_a_home_job_reads(
    hub: ClusterHubClient, admin: KubeApi
) -> None:
    user = "mario.rossi@infn.it"
    await home_round_trip(hub, user)
    claims = admin.request("GET", f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")
    (claim,) = [c for c in claims["items"] if c["metadata"]["name"].startswith("claim-mario")]
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == "aiinfn-local"  # the cluster's default class


async def test_automatic_falls_back_from_leonardo_refusing_to_a_local_gpu_node(
    hub: ClusterHubClient,
) -> None:
    """Leonardo's batch system refuses the server: interLink fails the pod, the spawner
    removes it and starts the server on a local A100 node, and the page says where and why."""
    user = "anna_bianchi"
    fault("refuse", "leonardo", "--message", "sbatch: error: invalid account")
    try:
        said = await hub.spawn_ready(user, {"profile": "automatic", "gpus": "1"})
    finally:
        fault("refuse", "leonardo", "--off")
    assert any(m.startswith("starting your server at CINECA Leonardo") for m in said), said
    failed = next(m for m in said if m.startswith("CINECA Leonardo could not run your server"))
    assert "sbatch: error: invalid account" in failed, failed
    assert "starting your server at Local resources on A100 GPUs (fallback)" in said, said
    final = next(m for m in said if m.startswith("your server runs at"))
    assert final.startswith("your server runs at Local resources; it fell back from CINECA"), final

    pod = hub.user_pod(user)
    assert pod["spec"]["nodeName"] == "dgx-01.lab.infn.it"  # the node labelled with A100s
    assert pod["status"]["phase"] == "Running"
    state = (await hub.server(user))["state"]
    assert [a["site"] for a in state["aiinfn_attempts"]] == ["leonardo", "local"]
    async with hub.login(user) as browser:
        lab = await browser.get(f"/user/{user}/lab")
        assert lab.status_code == 200 and "<title>JupyterLab</title>" in lab.text
    await hub.stop(user)
