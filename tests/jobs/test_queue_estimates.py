"""The queue position and estimated start the jobs API shows per site (issue 16, section 1):
in ``POST /plan``, a waiting job's ``GET /jobs/{id}`` and ``GET /sites``; read from Kueue's
visibility API, and counted from the cached Workloads where it is not served or refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import yaml

from aiinfn_hub.jobs import openapi
from aiinfn_hub.jobs.clitext import plan_lines
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.placement.estimate import iso
from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import wait_until
from aiinfn_hub.sandbox.topology import default_config_text

from .conftest import fast_config, serve, wait_for

NS = "ai-infn-jobs"
OWNER = "Anna.Rossi@INFN.it"
OTHER = "m_bianchi@lnf.infn.it"
TOKENS = {"anna-token": OWNER, "mario-token": OTHER}
#: Leonardo keeps its jobs waiting (admission stalled) long enough for the test.
SLOW_LEONARDO = {"leonardo": {"timeouts": {"admission": 600, "start": 600}}}
GPU_JOB = {"command": ["python", "train.py"], "resources": {"gpus": 1}, "walltime": "30m"}
HOG = {"command": ["sleep", "600"], "resources": {"gpus": 2}, "walltime": "1h"}


def _config():
    config = fast_config(**SLOW_LEONARDO)
    config.JobsManager.namespace = NS
    return config


def _topology(visibility: bool = True) -> dict:
    """The default sites, Leonardo with 2 GPUs (its quota), in namespace ``ai-infn-jobs``."""
    topology = yaml.safe_load(default_config_text())
    topology["namespaces"] = [NS]
    topology["kueue"]["visibility_on_demand"] = visibility
    (leonardo,) = [s for s in topology["sites"] if s["name"] == "leonardo"]
    leonardo["nodes"][0]["gpus"] = 2
    return topology


@pytest.fixture(params=[True, False], ids=["visibility-api", "not-served"])
async def served(request, tmp_path) -> AsyncIterator[tuple]:
    """A sandbox (with Kueue's visibility API, or without it), a jobs service in namespace
    ``ai-infn-jobs`` and its API."""
    async with Sandbox(_topology(request.param)) as sandbox:
        api = await kube_client(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
        manager = JobsManager(Kube(api, NS), config=_config())
        await manager.start()
        try:
            with serve(manager, TOKENS, set()) as client:
                yield sandbox, manager, client, request.param
        finally:
            await manager.stop()
            await api.close()


async def _two_waiting(manager: JobsManager) -> list[str]:
    """Leonardo's 2 GPUs held by a job with a 1 h walltime, and two GPU jobs waiting there
    behind it, the second one's owner with a dot, an @ and capitals; their ids once both
    Workloads are cached."""
    hog, _ = await manager.submit(OTHER, {**GPU_JOB, "name": "hog", **HOG})
    await wait_for(manager, hog["id"], ("running",))
    ids = []
    for owner, name in ((OTHER, "sweep-1"), (OWNER, "sweep-2")):
        if ids:  # Kueue orders by creation time, to the second: the second one comes later
            await asyncio.sleep(1.1)
        view, _ = await manager.submit(owner, {**GPU_JOB, "name": name})
        ids.append(view["id"])

    def both_pending() -> bool:
        pending = [
            w
            for w in manager.workloads.values()
            if w["spec"].get("queueName") == "leonardo" and "admission" not in w["status"]
        ]
        return len(pending) == 2

    await wait_until(both_pending, message="two workloads pending at Leonardo")
    return ids


def _source_words(visible: bool) -> str:
    return ";" if visible else " (counted from the waiting jobs: Kueue's queue positions are not"


async def test_plan_shows_each_sites_queue(served) -> None:
    _, manager, client, visible = served
    await _two_waiting(manager)
    status, plan = await client.call("POST", "plan", GPU_JOB, token="anna-token")
    assert status == 200, plan
    openapi.validate("Plan", plan)
    leonardo, local = plan["sites"]
    assert leonardo["name"] == "leonardo" and local["name"] == "local"
    queue = leonardo["queue"]
    assert (queue["position"], queue["ahead"]) == (3, 2)
    assert queue["basis"].startswith("3rd in CINECA Leonardo's queue" + _source_words(visible))
    # the latest: the 1 h job ends, the two ahead take both GPUs for 30 min, then this one
    assert "1 running job ends within 90 min by their time limits" in queue["basis"]
    start = queue["estimated_start"]
    earliest, latest = (datetime.fromisoformat(start[k]).timestamp() for k in start)
    assert abs(latest - earliest - 90 * 60) <= 60  # the 1 h job started seconds ago
    assert (local["queue"]["position"], local["queue"]["ahead"]) == (1, 0)
    assert local["queue"]["basis"].endswith("room for it now")


async def test_a_waiting_job_says_where_it_stands(served) -> None:
    _, manager, client, _ = served
    first, second = await _two_waiting(manager)
    status, view = await client.call("GET", f"jobs/{second}", token="anna-token")
    assert status == 200, view
    openapi.validate("Job", view)
    assert view["state"] == "queued"
    assert (view["queue"]["position"], view["queue"]["ahead"]) == (2, 1)
    assert view["reason"] == "2nd in CINECA Leonardo's queue; expected to start in 0 to 60 min"
    assert view["plan"]["sites"][0]["queue"] == view["queue"]
    # the record's plan is not changed by the view
    assert "queue" not in manager.jobs[second].view["plan"]["sites"][0]
    status, view = await client.call("GET", f"jobs/{first}", token="mario-token")
    assert (view["queue"]["position"], view["queue"]["ahead"]) == (1, 0)


async def test_sites_keep_their_queue_and_add_the_estimate(served) -> None:
    _, manager, client, visible = served
    await _two_waiting(manager)
    status, body = await client.call("GET", "sites", token="anna-token")
    assert status == 200
    sites = {s["name"]: s for s in body["sites"]}
    for site in body["sites"]:
        openapi.validate("Site", site)
    queue = sites["leonardo"]["queue"]
    assert queue["pending"] == 2 and "insufficient unused quota" in queue["reasons"][0]
    assert (queue["position"], queue["ahead"]) == (3, 2)
    assert queue["basis"].startswith("3rd in CINECA Leonardo's queue" + _source_words(visible))
    assert sites["tier1"]["queue"]["position"] == 1


async def test_refused_positions_are_counted_from_the_cache(tmp_path) -> None:
    async with Sandbox(_topology()) as sandbox:
        sandbox.faults.forbid("localqueues/pendingworkloads.visibility.kueue.x-k8s.io")
        api = await kube_client(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
        manager = JobsManager(Kube(api, NS), config=_config())
        await manager.start()
        try:
            await _two_waiting(manager)
            with serve(manager, TOKENS, set()) as client:
                status, plan = await client.call("POST", "plan", GPU_JOB, token="anna-token")
        finally:
            await manager.stop()
            await api.close()
    assert status == 200, plan
    queue = plan["sites"][0]["queue"]
    assert queue["position"] == 3
    assert queue["basis"].startswith(
        "3rd in CINECA Leonardo's queue (counted from the waiting jobs: the jobs service may "
        "not read Kueue's queue positions)"
    )


def test_the_cli_plan_prints_each_sites_queue() -> None:
    now = time.time()
    queue = {
        "position": 3,
        "ahead": 2,
        "estimated_start": {"earliest": iso(now + 600), "latest": iso(now + 1500)},
        "basis": "3rd in CINECA Leonardo's queue; 2 running jobs end within 25 min by their "
        "time limits",
    }
    unknown = {"position": 1, "ahead": 0, "estimated_start": None, "basis": "1st in ..."}
    plan = {
        "sites": [
            {"name": "leonardo", "reason": "first choice", "queue": queue},
            {"name": "local", "reason": "fallback", "queue": unknown},
        ],
        "ruled_out": [],
    }
    assert plan_lines(plan) == [
        "  1. leonardo: first choice",
        "     3rd in CINECA Leonardo's queue; 2 running jobs end within 25 min by their time "
        "limits",
        "     expected to start in 10 to 25 min",
        "  2. local: fallback",
        "     1st in ...",
        "     no estimate of when it starts",
    ]
