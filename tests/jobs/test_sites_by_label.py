"""Sites on clusters that name their nodes otherwise: the local site is the nodes labelled
``aiinfn.infn.it/site=local`` (as helm-values/README.md tells the operator), whatever they are
called and however many there are, and health and capacity follow nodes that join or leave
while the jobs service runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import CoreV1Api

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import kube_client, wait_until

from .conftest import start_manager, stop_manager, wait_for

A100 = {"gpus": 4, "gpu_product": "NVIDIA-A100-SXM4-40GB"}
REMOTE = [
    {"name": "leonardo", "type": "interlink", "remote_queue_delay": 0,
     "nodes": [{"name": "vk-leonardo", "cpu": "1024", "memory": "8Ti", "gpus": 32,
                "gpu_model": "A100"}]},
    {"name": "tier1", "type": "interlink", "remote_queue_delay": 0,
     "nodes": [{"name": "vk-tier1", "cpu": "2048", "memory": "16Ti"}]},
]  # fmt: skip
WHERE = ["python", "-c", "import os; print('site=' + os.environ['AIINFN_SITE'])"]
GPU_JOB = {"command": WHERE, "resources": {"gpus": 1}, "local_only": True}
MERGE_PATCH = "application/merge-patch+json"


def topology(*sites: dict[str, Any]) -> dict[str, Any]:
    return {"sites": [*sites, *REMOTE]}


def local(*nodes: dict[str, Any], name: str = "local") -> dict[str, Any]:
    return {"name": name, "type": "local", "nodes": list(nodes)}


@asynccontextmanager
async def cluster(tmp_path: Path, config: dict[str, Any]) -> AsyncIterator[JobsManager]:
    """A sandbox with ``config``'s sites and a jobs service on it."""
    async with Sandbox(config, state_dir=tmp_path / "sandbox") as sandbox:
        kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
        manager = await start_manager(str(kubeconfig))
        try:
            yield manager
        finally:
            await stop_manager(manager)


def site(manager: JobsManager, name: str) -> dict[str, Any]:
    return next(s for s in manager.sites() if s["name"] == name)


def node(name: str, cpu: str = "16", **extra: Any) -> dict[str, Any]:
    return {"name": name, "cpu": cpu, "memory": "64Gi", **extra}


FEW = [node("gpu-node.example", **A100)]
OTHERS = [node("worker-a", cpu="8"), node("dgx-01", cpu="64", **A100)]
MANY = [node(f"worker-{c}") for c in "abcdefg"] + [
    node("dgx-01.gpu.infn.it", cpu="64", **A100),
    node("dgx-02.gpu.infn.it", cpu="64", **A100),
    node("t4-node-07", gpus=2, gpu_product="Tesla-T4"),
]


@pytest.mark.parametrize("nodes", [FEW, OTHERS, MANY], ids=["one-node", "two-nodes", "ten-nodes"])
async def test_local_jobs_run_on_labelled_nodes_whatever_their_names(tmp_path, nodes):
    async with cluster(tmp_path, topology(local(*nodes))) as manager:
        shown = site(manager, "local")
        assert shown["health"] == {"usable": True, "state": "ok"}
        assert shown["capacity"]["gpus"]["total"] == sum(n.get("gpus", 0) for n in nodes)
        assert shown["capacity"]["cpu"]["total"] == sum(float(n["cpu"]) for n in nodes)

        view, _ = await manager.submit("mario.rossi", GPU_JOB)
        assert view["site"] == "local"
        done = await wait_for(manager, view["id"])
        assert done["state"] == "succeeded", done["reason"]
        log = await manager.logs("mario.rossi", False, view["id"])
        assert log["data"] == "site=local\n"
        (pod,) = manager.jobs[view["id"]].pods.values()
        gpu_nodes = {n["name"] for n in nodes if n.get("gpu_product") == A100["gpu_product"]}
        assert pod["spec"]["nodeName"] in gpu_nodes


async def test_health_and_capacity_follow_nodes_that_join_and_leave(tmp_path):
    spare = local(node("dgx-01", cpu="64", **A100), name="spare")
    # the local ClusterQueue's quota already counts the GPU node that is to join
    joining = {**local(node("worker-a", cpu="8")), "quota": {"nvidia.com/gpu": "4"}}
    config = topology(joining, spare)
    async with cluster(tmp_path, config) as manager:
        api = await kube_client(tmp_path / "kubeconfig")
        core = CoreV1Api(api)

        async def shows(check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
            return await wait_until(
                lambda: (found := site(manager, "local")) and check(found) and found, 30, 0.05,
                what,
            )  # fmt: skip

        async def label(name: str, value: str) -> None:
            patch = {"metadata": {"labels": {"aiinfn.infn.it/site": value}}}
            await core.patch_node(name, patch, _content_type=MERGE_PATCH)

        try:
            assert site(manager, "local")["capacity"]["gpus"]["total"] == 0
            # an admin labels a GPU node for the local site, as helm-values/README.md says
            await label("dgx-01", "local")
            joined = await shows(lambda s: s["capacity"]["gpus"]["total"] == 4, "dgx-01 to join")
            assert joined["capacity"]["cpu"] == {"total": 72.0, "free": 72.0}
            view, _ = await manager.submit("alice", GPU_JOB)
            done = await wait_for(manager, view["id"])
            assert done["state"] == "succeeded", done["reason"]
            assert done["site"] == "local"

            # the CPU node leaves the cluster and the GPU node is given back: no local node left
            await core.delete_node("worker-a")
            await label("dgx-01", "spare")
            gone = await shows(lambda s: not s["health"]["usable"], "the local site to be down")
            assert gone["health"]["state"] == (
                "down: none of its nodes is in the cluster "
                "(no node is labelled aiinfn.infn.it/site=local)"
            )
            assert gone["capacity"]["gpus"] == {"total": 0, "free": 0}
            with pytest.raises(AIInfnError) as refused:
                await manager.submit("alice", GPU_JOB)
            assert refused.value.status == 422
            assert str(refused.value) == (
                "no site can run this job now: Local resources: down: none of its nodes is in "
                "the cluster (no node is labelled aiinfn.infn.it/site=local)"
            )

            await label("dgx-01", "local")
            back = await shows(lambda s: s["health"]["usable"], "the local site to be back")
            assert back["capacity"]["gpus"]["total"] == 4
        finally:
            await api.close()
