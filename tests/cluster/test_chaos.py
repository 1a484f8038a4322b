"""Chaos on the real stack, with jobs in flight at every site: the jobs service SIGKILLed, the
API server stopped for 10 s, the Kueue controller restarted, the interLink API stopped and
started. Every job reaches the end state it should; none is lost, none runs twice (one
Kubernetes Job of the attempt that ran, named by job and attempt, and each job's output once)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from aiinfn_hub.cluster.kubeapi import KubeApi
from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.sandbox.testing import wait_until
from tests.jobs.conftest import wait_for

from .test_control_plane import NAMESPACE, fault
from .test_jobs import start, stop

pytestmark = pytest.mark.cluster
USER = "mario.rossi@infn.it"


def printing(text: str, seconds: int = 4, **extra: Any) -> dict[str, Any]:
    """A job that takes ``seconds`` and prints ``text`` once."""
    code = f"import time; time.sleep({seconds}); print({text!r})"
    return {"command": ["python", "-c", code], **extra}


GPU = {"gpus": 1, "gpu_model": "A100"}
#: One job per row of the placement table, and an array job.
IN_FLIGHT = {
    "local cpu": printing("local cpu", local_only=True),
    "tier1 cpu": printing("tier1 cpu"),
    "local gpu": printing("local gpu", local_only=True, resources=GPU),
    "leonardo gpu": printing("leonardo gpu", resources=GPU),
}
EXPECTED_SITE = {"local cpu": "local", "tier1 cpu": "tier1", "local gpu": "local"}
EXPECTED_SITE["leonardo gpu"] = "leonardo"


def kube_jobs(admin: KubeApi, job_id: str) -> list[str]:
    """The Kubernetes Jobs (attempts) of one job."""
    found = admin.request(
        "GET",
        f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs",
        query={"labelSelector": f"{L.JOB_ID}={job_id}"},
    )
    return [j["metadata"]["name"] for j in found["items"]]


async def ended_once(
    manager: JobsManager, admin: KubeApi, ids: dict[str, str], sites: dict[str, list[str]]
) -> None:
    """Each job succeeded through exactly the attempts at ``sites[name]``, with one Kubernetes
    Job left (its last attempt's), and printed its text once."""
    for name, job_id in ids.items():
        assert job_id in manager.jobs, f"{name}: lost"
        done = await wait_for(manager, job_id, timeout=240)
        assert done["state"] == "succeeded", (name, done)
        assert [a["site"] for a in done["attempts"]] == sites[name], (name, done["attempts"])
        # a fallback deletes the attempt it leaves; what is left is the last attempt, once
        assert kube_jobs(admin, job_id) == [f"aiinfn-{job_id}-{len(sites[name])}"], name
        log = await manager.logs(USER, False, job_id)
        assert log["data"].count(name) == 1, (name, log)


async def submit_all(manager: JobsManager, bodies: dict[str, dict]) -> dict[str, str]:
    ids = {}
    for name, body in bodies.items():
        view, _ = await manager.submit(USER, body)
        ids[name] = view["id"]
    return ids


async def test_the_jobs_service_sigkilled_with_jobs_in_flight(admin: KubeApi) -> None:
    """Killed right after it submitted (one job's remote submission refused meanwhile): a new
    service picks every job up from Kubernetes, falls back where it must, and runs none twice."""
    bodies = dict(IN_FLIGHT)
    fault("refuse", "tier1", "--message", "condor_submit: the schedd is down for maintenance")
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.cluster.chaos_service",
            USER,
            json.dumps(list(bodies.values())),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        line = await asyncio.to_thread(service.stdout.readline)
        ids = dict(zip(bodies, json.loads(line), strict=True))
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=30)
    manager = await start()
    try:
        # the refused submission fails its pod while no service runs; the new one falls back
        await wait_until(
            lambda: len((manager.jobs[ids["tier1 cpu"]].view or {}).get("attempts", ())) == 2,
            120,
            0.2,
            "the refused job's fallback",
        )
        fault("refuse", "tier1", "--off")
        sites = {name: [site] for name, site in EXPECTED_SITE.items()}
        sites["tier1 cpu"] = ["tier1", "local"]
        await ended_once(manager, admin, ids, sites)
        first = manager.get(USER, False, ids["tier1 cpu"])["attempts"][0]
        assert "the schedd is down for maintenance" in first["reason"], first
    finally:
        fault("refuse", "tier1", "--off")
        await stop(manager)


async def test_the_api_server_stopped_for_10_s_with_jobs_in_flight(admin: KubeApi) -> None:
    manager = await start()
    try:
        ids = await submit_all(manager, IN_FLIGHT)
        fault("apiserver-stop", "--seconds", "10")
        await wait_until(lambda: not admin.reachable(), 30, 0.2, "the API server to stop")
        await wait_until(admin.reachable, 120, 0.5, "the API server to be back")
        await ended_once(manager, admin, ids, {n: [s] for n, s in EXPECTED_SITE.items()})
    finally:
        await stop(manager)


async def test_the_kueue_controller_restarted_mid_run(admin: KubeApi) -> None:
    manager = await start()
    try:
        ids = await submit_all(manager, IN_FLIGHT)
        fault("kueue-restart")  # answers once Kueue serves again
        more = await submit_all(manager, {"after restart": printing("after restart", 1)})
        sites = {n: [s] for n, s in EXPECTED_SITE.items()} | {"after restart": ["tier1"]}
        await ended_once(manager, admin, ids | more, sites)
    finally:
        await stop(manager)


async def test_the_interlink_api_stopped_and_started(admin: KubeApi) -> None:
    """A job running at the Tier-1 carries on through the outage; one submitted while the
    site is down runs locally and says why."""
    manager = await start()
    try:
        ids = await submit_all(manager, {"through the outage": printing("through the outage", 8)})
        await wait_for(manager, ids["through the outage"], ("running",), timeout=90)
        fault("interlink-down", "tier1")
        try:
            await wait_until(
                lambda: (
                    not next(s for s in manager.sites() if s["name"] == "tier1")["health"]["usable"]
                ),
                60,
                0.2,
                "the Tier-1 to read as down",
            )
            during = await submit_all(manager, {"while down": printing("while down", 1)})
        finally:
            fault("interlink-down", "tier1", "--off")
        view = manager.get(USER, False, during["while down"])
        assert view["site"] == "local", view
        plan = view["plan"]
        tier1 = [s for s in plan["sites"] + plan["ruled_out"] if s["name"] == "tier1"]
        assert tier1 and "down" in tier1[0]["reason"], plan
        sites = {"through the outage": ["tier1"], "while down": ["local"]}
        await ended_once(manager, admin, ids | during, sites)
    finally:
        await stop(manager)
