"""The jobs service on the real control plane, as it runs on the AI_INFN cluster: in the
hub's namespace, with the hub's ServiceAccount (the chart's Role and helm-values/rbac.yaml,
nothing more), Kueue and interLink wired by helm-values/ unchanged."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from traitlets.config import Config

from aiinfn_hub.jobs.app import kube_client
from aiinfn_hub.jobs.kube import Kube
from aiinfn_hub.jobs.manager import JobsManager
from tests.jobs.conftest import wait_for

from .test_control_plane import fault

pytestmark = pytest.mark.cluster
NAMESPACE = "jhub"
CPU_JOB = {"command": ["python", "-c", "print('hello from the job')"]}
GPU_JOB = {
    "command": ["python", "-c", "print('hello from a GPU')"],
    "resources": {"gpus": 1, "gpu_model": "A100"},
}


def config(**sites: dict) -> Config:
    found = Config()
    found.JobsManager.namespace = NAMESPACE
    found.PlacementConfig.site_overrides = sites
    return found


@pytest.fixture
async def manager() -> AsyncIterator[JobsManager]:
    api = await kube_client(os.environ["AIINFN_CLUSTER_HUB_KUBECONFIG"])
    started = JobsManager(Kube(api, NAMESPACE), config=config())
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
        await api.close()


@pytest.mark.parametrize(
    ("body", "first"),
    [
        ({**CPU_JOB, "local_only": True}, "local"),
        (CPU_JOB, "tier1"),
        ({**GPU_JOB, "local_only": True}, "local"),
        (GPU_JOB, "leonardo"),
    ],
    ids=["cpu-local", "cpu-offloadable", "gpu-local", "gpu-offloadable"],
)
async def test_every_row_of_the_table_runs_where_the_table_says(
    manager: JobsManager, body: dict, first: str
) -> None:
    view, _ = await manager.submit("mario.rossi@infn.it", body)
    assert view["site"] == first
    done = await wait_for(manager, view["id"], timeout=120)
    assert done["state"] == "succeeded", done
    assert [a["site"] for a in done["attempts"]] == [first]
    log = await manager.logs("mario.rossi@infn.it", False, view["id"])
    assert "hello from" in log["data"], log


async def test_a_refused_remote_submission_falls_back_to_local(manager: JobsManager) -> None:
    fault("refuse", "tier1", "--message", "condor_submit: the schedd refuses new jobs")
    try:
        view, _ = await manager.submit("mario.rossi@infn.it", CPU_JOB)
        done = await wait_for(manager, view["id"], timeout=120)
    finally:
        fault("refuse", "tier1", "--off")
    assert done["state"] == "succeeded", done
    sites = [a["site"] for a in done["attempts"]]
    assert sites == ["tier1", "local"], done["attempts"]
    first = done["attempts"][0]
    assert first["outcome"] == "fell_back"
    assert "condor_submit: the schedd refuses new jobs" in first["reason"]
