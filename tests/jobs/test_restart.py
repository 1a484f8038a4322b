"""Kubernetes is the state of record: the service killed with SIGKILL while 100 jobs are in
flight, then restarted, keeps every job and its history and submits nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
from kubernetes_asyncio import client

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.kube.cache import Reflector
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.sandbox.testing import wait_until

from .service import ServiceProcess, call

TERMINAL = {"succeeded", "failed", "cancelled"}


def request(i: int) -> dict:
    """Four kinds: GPU jobs that fall back from Leonardo, Tier-1 jobs, and local jobs."""
    kind = i % 4
    if kind == 0:
        body = {"command": ["sleep", "1"], "resources": {"gpus": 1}}
    elif kind == 1:
        body = {"command": ["sleep", "3"]}
    else:
        body = {"command": ["sleep", str(3 * kind)], "local_only": True}
    return {**body, "name": f"job-{i}", "client_request_id": f"restart-{i}"}


async def all_jobs(url: str, session: aiohttp.ClientSession) -> dict[str, dict]:
    status, page = await call("GET", url + "jobs?limit=1000", token="admin-token", session=session)
    assert status == 200, page
    return {job["id"]: job for job in page["jobs"]}


def attempts_seen(api: client.ApiClient, kube: Kube, added: Counter[str]) -> Reflector:
    """A started watch of the service's attempt Jobs that counts each name's creations."""

    def on_job(_kind: str, event: str, obj: dict) -> None:
        if event == "ADDED":
            added[obj["metadata"]["name"]] += 1

    jobs = client.BatchV1Api(api).list_namespaced_job
    selector = f"{L.MANAGED_BY}={L.MANAGER}"
    reflector = Reflector(kube, "job", jobs, ("default",), selector, on_job)
    reflector.start()
    return reflector


async def test_sigkill_with_100_jobs_in_flight_loses_nothing(sandbox, tmp_path):
    sandbox.faults.provider_failure("leonardo")
    api = await kube_client(str(sandbox.kubeconfig))
    kube = Kube(api, "default")
    added: Counter[str] = Counter()
    jobs_seen = attempts_seen(api, kube, added)
    # Fallbacks here come from the provider failures only: no timeout fires under this load.
    patient = {
        site: {"timeouts": {"admission": 600, "start": 600}} for site in ("leonardo", "tier1")
    }
    service = ServiceProcess(
        sandbox.kubeconfig, tmp_path, PlacementConfig={"site_overrides": patient}
    )
    await service.start()
    session = aiohttp.ClientSession()
    try:
        limit = asyncio.Semaphore(10)

        async def submit(i: int) -> tuple[int, dict]:
            async with limit:
                return await call("POST", service.url + "jobs", request(i), session=session)

        answers = await asyncio.gather(*(submit(i) for i in range(100)))
        assert {status for status, _ in answers} == {201}
        ids = [job["id"] for _, job in answers]

        async def fallbacks_recorded():
            jobs = await all_jobs(service.url, session)
            fell = [
                j
                for j in jobs.values()
                if j["attempts"][:1] and j["attempts"][0]["outcome"] == "fell_back"
            ]
            return len(fell) >= 3 and jobs

        before = await wait_until(fallbacks_recorded, timeout=60, message="3 fallbacks")
        service.kill()
        in_flight = [j for j in before.values() if j["state"] not in TERMINAL]
        assert len(in_flight) >= 20, "the kill must hit jobs in flight"

        await service.start()
        after = await all_jobs(service.url, session)
        assert set(after) == set(ids)
        for job_id, job in before.items():
            kept = [a for a in job["attempts"] if a["outcome"] == "fell_back"]
            assert after[job_id]["attempts"][: len(kept)] == kept, "history intact"

        async def all_ended():
            jobs = await all_jobs(service.url, session)
            return all(j["state"] in TERMINAL for j in jobs.values()) and jobs

        done = await wait_until(all_ended, timeout=180, interval=0.5, message="every job ended")
        for i, job_id in enumerate(ids):
            job = done[job_id]
            assert job["state"] == "succeeded", job
            sites = [(a["site"], a["outcome"]) for a in job["attempts"]]
            if i % 4 == 0:
                assert sites == [("leonardo", "fell_back"), ("local", "succeeded")]
            else:
                assert sites == [("tier1" if i % 4 == 1 else "local", "succeeded")], job

        retries = await asyncio.gather(
            *(call("POST", service.url + "jobs", request(i), session=session) for i in range(100))
        )
        assert [status for status, _ in retries] == [200] * 100
        assert [job["id"] for _, job in retries] == ids
        records = await kube.call(
            "list configmap",
            client.CoreV1Api(api).list_namespaced_config_map,
            "default",
            label_selector=f"{L.ROLE}=record",
        )
        assert len(records["items"]) == 100
        assert set(added.values()) == {1}, "no attempt Job was created twice"
        assert sum(added.values()) == 125
    finally:
        service.stop()
        await session.close()
        await jobs_seen.stop()
        await api.close()


async def test_ended_jobs_whose_jobs_are_deleted_stay_ended_across_restarts(sandbox, tmp_path):
    """A succeeded job and a failed one (its code exited 3) keep their outcome and history
    when their batch/v1 Jobs are deleted while the service is down, and are not run again."""
    api = await kube_client(str(sandbox.kubeconfig))
    kube = Kube(api, "default")
    added: Counter[str] = Counter()
    jobs_seen = attempts_seen(api, kube, added)
    service = ServiceProcess(sandbox.kubeconfig, tmp_path)
    await service.start()
    session = aiohttp.ClientSession()
    try:
        ids = {}
        for state, code in (("succeeded", "print('ok')"), ("failed", "raise SystemExit(3)")):
            body = {"command": ["python", "-c", code], "local_only": True}
            status, job = await call("POST", service.url + "jobs", body, session=session)
            assert status == 201, job
            ids[state] = job["id"]

        async def ended():
            jobs = await all_jobs(service.url, session)
            return all(jobs[i]["state"] in TERMINAL for i in ids.values()) and jobs

        before = await wait_until(ended, timeout=60, message="both jobs ended")
        for state, job_id in ids.items():
            assert before[job_id]["state"] == state
        # the outcome is in the record before the service goes away
        for job_id in ids.values():
            await wait_until(
                lambda job_id=job_id: _final(kube, job_id), timeout=60, message="outcome recorded"
            )
        service.kill()
        for job_id in ids.values():
            await kube.delete("job", L.attempt_name(job_id, 1))
        await wait_until(lambda: not jobs_seen.objects, timeout=60, message="the Jobs are gone")

        await service.start()  # serves once every job found has been reconciled
        for _ in range(2):  # and again after a second restart
            after = await all_jobs(service.url, session)
            for state, job_id in ids.items():
                job = after[job_id]
                assert job["state"] == state, job
                assert job["reason"] == before[job_id]["reason"]
                assert job["attempts"] == before[job_id]["attempts"]
                assert [(a["site"], a["outcome"]) for a in job["attempts"]] == [("local", state)]
            assert not jobs_seen.objects, "no new attempt was created"
            service.stop()
            await service.start()
        assert set(added.values()) == {1} and len(added) == 2
    finally:
        service.stop()
        await session.close()
        await jobs_seen.stop()
        await api.close()


async def _final(kube: Kube, job_id: str) -> bool:
    record = await kube.get("configmap", L.record_name(job_id))
    return L.FINAL in (record["metadata"].get("annotations") or {})
