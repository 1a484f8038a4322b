"""The jobs service on the real control plane, as it runs on the AI_INFN cluster: in the
hub's namespace, with the hub's ServiceAccount (the chart's Role and helm-values/rbac.yaml,
nothing more), Kueue and interLink wired by helm-values/ unchanged."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator

import pytest
from traitlets.config import Config

from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.sandbox.testing import wait_until
from tests.jobs.conftest import (
    SLOW_AT_TIER1,
    evict_running_pod,
    fell_back_from_a_drained_node,
    serve,
    wait_for,
)

from .test_control_plane import fault

pytestmark = pytest.mark.cluster
NAMESPACE = "jhub"
CPU_JOB = {"command": ["python", "-c", "print('hello from the job')"]}
GPU_JOB = {
    "command": ["python", "-c", "print('hello from a GPU')"],
    "resources": {"gpus": 1, "gpu_model": "A100"},
}


def config(policy: dict | None = None, **sites: dict) -> Config:
    found = Config()
    found.JobsManager.namespace = NAMESPACE
    # The tests share the cluster's job records, from which a service rebuilds its breakers:
    # a site an earlier test made fail on purpose would be skipped (tests/jobs/test_breaker.py
    # tests the breaker).
    found.BreakerPolicy.failures = 0
    found.PlacementConfig.site_overrides = sites
    if policy:
        found.FallbackPolicy.sites = policy
    return found


async def start(policy: dict | None = None, **sites: dict) -> JobsManager:
    """A jobs service with the hub's rights, once it sees every site usable: a fault an earlier
    test switched off (a virtual node NotReady) may take a few seconds to heal."""
    api = await kube_client(os.environ["AIINFN_CLUSTER_HUB_KUBECONFIG"])
    started = JobsManager(Kube(api, NAMESPACE), config=config(policy, **sites))
    await started.start()
    await wait_until(
        lambda: all(s["health"]["usable"] for s in started.sites()), 120, 0.2, "every site usable"
    )
    return started


async def stop(manager: JobsManager) -> None:
    await manager.stop()
    await manager.kube.api_client.close()


@pytest.fixture
async def manager() -> AsyncIterator[JobsManager]:
    started = await start()
    try:
        yield started
    finally:
        await stop(started)


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


async def fell_back(
    body: dict, fault_args: tuple[str, ...], policy: dict | None = None, **sites: dict
) -> dict:
    """Submit ``body`` with a fault of the real stack on; the first attempt once the job ends
    at the local site."""
    manager = await start(policy, **sites)
    fault(*fault_args)
    try:
        view, _ = await manager.submit("mario.rossi@infn.it", body)
        done = await wait_for(manager, view["id"], timeout=180)
    finally:
        fault(*fault_args, "--off")
        await stop(manager)
    assert done["state"] == "succeeded", done
    assert [a["site"] for a in done["attempts"]][-1] == "local", done["attempts"]
    assert done["attempts"][0]["outcome"] == "fell_back", done["attempts"]
    return done["attempts"][0]


LONG = {"timeouts": {"admission": 600, "start": 600}}


async def test_kueue_saying_it_can_never_admit_falls_back_at_once() -> None:
    first = await fell_back(GPU_JOB, ("no-quota", "leonardo"), leonardo=LONG)
    assert first["site"] == "leonardo"
    assert first["reason"].startswith("cannot be admitted there (ExceedsMaxQuota: "), first
    assert first["kueue"]["reason"] == "Pending"  # Kueue 0.17's own word, kept


async def test_a_stopped_queue_is_inactive_and_falls_back_at_once() -> None:
    """Kueue 0.17 writes a stopped ClusterQueue's pending workload as any inactive one's."""
    first = await fell_back(GPU_JOB, ("stop-queue", "leonardo"), leonardo=LONG)
    assert first["reason"] == (
        "cannot be admitted there (Misconfigured: ClusterQueue leonardo is inactive)"
    ), first
    assert first["kueue"]["reason"] == "Inadmissible"


async def test_not_admitted_in_time_falls_back() -> None:
    """Kueue keeps the workload pending (Leonardo's ClusterQueue stopped) and the site is set
    not to fall back on that reason at once: the admission timeout moves the job on, with
    Kueue's own words for why it waited."""
    first = await fell_back(
        GPU_JOB,
        ("stop-queue", "leonardo"),
        policy={"leonardo": {"inadmissible_reasons": []}},
        leonardo={"timeouts": {"admission": 3, "start": 600}},
    )
    assert first["site"] == "leonardo"
    assert first["reason"] == "not admitted within 3s (ClusterQueue leonardo is inactive)", first


async def test_a_remote_start_timeout_falls_back() -> None:
    first = await fell_back(
        GPU_JOB, ("hold", "leonardo"), leonardo={"timeouts": {"admission": 600, "start": 5}}
    )
    assert first["reason"].startswith("did not start within 5s"), first


async def test_the_virtual_node_going_not_ready_moves_a_waiting_job_on() -> None:
    manager = await start(tier1=LONG)
    fault("hold", "tier1")
    try:
        view, _ = await manager.submit("mario.rossi@infn.it", CPU_JOB)
        await wait_for(manager, view["id"], ("admitted", "queued", "running"), timeout=60)
        fault("interlink-down", "tier1")
        done = await wait_for(manager, view["id"], timeout=180)
    finally:
        fault("interlink-down", "tier1", "--off")
        fault("hold", "tier1", "--off")
        await stop(manager)
    assert done["state"] == "succeeded", done
    first = done["attempts"][0]
    assert first["site"] == "tier1" and first["outcome"] == "fell_back", done["attempts"]
    assert "InterlinkPingFailed" in first["reason"] or "connection" in first["reason"], first


async def test_an_eviction_by_kueue_falls_back() -> None:
    manager = await start(tier1=LONG)
    try:
        body = {"command": ["python", "-c", "import time; time.sleep(8); print('done')"]}
        view, _ = await manager.submit("mario.rossi@infn.it", body)
        await wait_for(manager, view["id"], ("running",), timeout=90)
        fault("drain-queue", "tier1")
        try:
            done = await wait_for(manager, view["id"], timeout=180)
        finally:
            fault("drain-queue", "tier1", "--off")
    finally:
        await stop(manager)
    assert done["state"] == "succeeded", done
    first = done["attempts"][0]
    assert first["site"] == "tier1" and "evicted by Kueue (ClusterQueueStopped" in first["reason"]


async def test_a_running_job_whose_node_is_drained_falls_back_blamed_on_the_site() -> None:
    """An admin's ``kubectl drain`` (the eviction API) stops the job at interLink's virtual
    node; the pod's DisruptionTarget says Kubernetes, not the user's code, ended it."""
    manager = await start(tier1=LONG)
    try:
        view, _ = await manager.submit("mario.rossi@infn.it", SLOW_AT_TIER1)
        await wait_for(manager, view["id"], ("running",), timeout=90)
        await evict_running_pod(os.environ["KUBECONFIG"], NAMESPACE, view["id"])
        done = await wait_for(manager, view["id"], timeout=180)
    finally:
        await stop(manager)
    fell_back_from_a_drained_node(done)


async def test_cancel_rerun_elsewhere_and_an_array(manager: JobsManager) -> None:
    user = "mario.rossi@infn.it"
    long, _ = await manager.submit(user, {"command": ["sleep", "300"]})
    await wait_for(manager, long["id"], ("running",), timeout=90)
    cancelled = await manager.cancel(user, False, long["id"])
    assert cancelled["state"] == "cancelled"
    again = await manager.rerun(user, False, long["id"], site="local")
    assert again["site"] == "local" and again["id"] != long["id"]
    await manager.cancel(user, False, again["id"])
    array, _ = await manager.submit(
        user,
        {
            "command": [
                "python",
                "-c",
                "import os; print('index', os.environ['JOB_COMPLETION_INDEX'])",
            ],
            "completions": 3,
            "parallelism": 3,
        },
    )
    done = await wait_for(manager, array["id"], timeout=180)
    assert done["state"] == "succeeded", done
    assert done["progress"] == {"completions": 3, "succeeded": 3, "failed": 0, "active": 0}
    assert done["site"] == "tier1"
    for index in range(3):
        log = await manager.logs(user, False, array["id"], completion_index=index)
        assert log["data"] == f"index {index}\n", log


async def test_an_offloaded_notebook_comes_back_executed(manager: JobsManager) -> None:
    import nbformat

    from aiinfn_hub.runner import decode_block

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    script = {"path": "answer.ipynb", "content": nbformat.writes(notebook)}
    view, _ = await manager.submit("mario.rossi@infn.it", {"script": script})
    assert view["site"] == "tier1"
    done = await wait_for(manager, view["id"], timeout=180)
    assert done["state"] == "succeeded", done
    log = await manager.logs("mario.rossi@infn.it", False, view["id"])
    _name, executed = decode_block(log["data"])
    outputs = nbformat.reads(executed, as_version=4).cells[0].outputs
    assert outputs[0]["text"] == "42\n"


async def test_a_waiting_jobs_place_is_kueues_own_through_the_visibility_api() -> None:
    """Kueue's visibility API, aggregated by the real API server and read with the hub's
    rights (helm-values/rbac.yaml), gives the positions: the basis says so (no "counted from
    the waiting jobs"), for the plan of a third job and for each waiting job."""
    manager = await start({"leonardo": {"inadmissible_reasons": []}}, leonardo=LONG)
    fault("no-quota", "leonardo")
    ids: list[str] = []
    try:
        for owner in ("mario.rossi@infn.it", "Anna.Bianchi_2@infn.it"):
            if ids:  # Kueue orders by creation time, to the second
                await asyncio.sleep(1.1)
            view, _ = await manager.submit(owner, GPU_JOB)
            ids.append(view["id"])

        def pending() -> bool:
            return (
                sum(
                    1
                    for w in manager.workloads.values()
                    if w["spec"].get("queueName") == "leonardo"
                    and "admission" not in (w.get("status") or {})
                )
                == 2
            )

        await wait_until(pending, 120, 0.2, "two workloads pending at Leonardo")
        with serve(manager, {"t": "Anna.Bianchi_2@infn.it"}, set()) as api:
            status, plan = await api.call("POST", "plan", GPU_JOB, token="t")
            assert status == 200, plan
            queue = plan["sites"][0]["queue"]
            assert plan["sites"][0]["name"] == "leonardo"
            assert (queue["position"], queue["ahead"]) == (3, 2), queue
            assert queue["basis"].startswith("3rd in CINECA Leonardo's queue;"), queue
            status, view = await api.call("GET", f"jobs/{ids[1]}", token="t")
            assert status == 200, view
            assert (view["queue"]["position"], view["queue"]["ahead"]) == (2, 1), view
            assert view["reason"].startswith("2nd in CINECA Leonardo's queue"), view
    finally:
        fault("no-quota", "leonardo", "--off")
        for job_id in ids:
            await manager.cancel("mario.rossi@infn.it", True, job_id)
        await stop(manager)


async def test_why_a_job_waits_at_a_remote_site_comes_from_interlink() -> None:
    """The real virtual kubelet's and plugin's words reach the job's one sentence: a job the
    remote batch system holds in its queue is explained by the site, with its remote job id,
    as the real virtual kubelet reports it."""
    manager = await start(leonardo=LONG)
    fault("hold", "leonardo")
    try:
        view, _ = await manager.submit("Anna.Bianchi_2@infn.it", GPU_JOB)

        def remote_wait() -> dict | None:
            found = manager.get("Anna.Bianchi_2@infn.it", False, view["id"])
            explanation = found.get("explanation") or {}
            remote = explanation.get("layer") == "site" and "remote job" in explanation["sentence"]
            return found if remote else None  # the JobID annotation comes after the submission

        waiting = await wait_until(remote_wait, 120, 0.2, "the site explains the wait")
        sentence = waiting["explanation"]["sentence"]
        assert re.fullmatch(
            r"Admitted at CINECA Leonardo: waiting in the site's batch queue as remote job "
            r"slurm-\d+\.",
            sentence,
        ), sentence
        raw = {(d["layer"], d["reason"]) for d in waiting["explanation"]["details"]}
        assert ("pod", "Remote pod submitted") in raw, raw  # interLink's own words
        assert ("node", "InterlinkPingSuccessful") in raw, raw
    finally:
        fault("hold", "leonardo", "--off")
        await manager.cancel("Anna.Bianchi_2@infn.it", True, view["id"])
        await stop(manager)


async def test_the_remote_batch_queues_delay_enters_the_estimate() -> None:
    """How long Leonardo's pods lately waited in its batch queue (bound to the virtual node,
    not yet running, as the real virtual kubelet reports them) is added to its estimate."""
    manager = await start(leonardo=LONG)
    long_gpu = {**GPU_JOB, "command": ["sleep", "300"]}
    fault("hold", "leonardo")
    try:
        view, _ = await manager.submit("Anna.Bianchi_2@infn.it", long_gpu)
        await asyncio.sleep(35)  # the remote batch system keeps it queued this long
    finally:
        fault("hold", "leonardo", "--off")
    try:
        await wait_for(manager, view["id"], ("running",), timeout=120)
        with serve(manager, {"t": "Anna.Bianchi_2@infn.it"}, set()) as api:
            status, plan = await api.call("POST", "plan", GPU_JOB, token="t")
        assert status == 200, plan
        basis = plan["sites"][0]["queue"]["basis"]
        assert plan["sites"][0]["name"] == "leonardo"
        assert re.search(r"its own batch queue adds about \d", basis), basis
    finally:
        await manager.cancel("Anna.Bianchi_2@infn.it", True, view["id"])
        await stop(manager)
