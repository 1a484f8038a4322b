"""Least privilege, proven from what the hub really does.

A real hub (JupyterHub, AIInfnSpawner, the jobs service) runs the flows users drive: a server
with a GPU profile and one with the automatic profile falling back from CINECA Leonardo; a
background job that falls back, one followed, read and cancelled, and a rerun; an old job's
record deleted past its history window; then it stops.
The sandbox's audit trail then holds every Kubernetes request the hub's two clients made (they
name themselves by User-Agent). Each must be allowed by the chart's Role plus
helm-values/rbac.yaml in the right scope; and each grant of rbac.yaml must be either used or
listed in :data:`NOT_HIT` with the code path that needs it.
"""

from __future__ import annotations

from typing import Any

import httpx

from aiinfn_hub.kube.client import USER_AGENT as JOBS
from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import wait_until
from aiinfn_hub.spawner.spawner import USER_AGENT as SPAWNER

from ..helm.rbac import Grant, HubRbac, documents, grants, one
from .conftest import HubClient, running_hub

JOBS_API = "/services/aiinfn-jobs/jobs"
IMAGE = "aiinfn-hub/singleuser:sandbox"

#: Grants of rbac.yaml that a clean run does not exercise, and the code that needs them.
NOT_HIT: dict[Grant, str] = {
    # Kube.create (aiinfn_hub/jobs/kube.py) retries a create whose answer was lost (no answer,
    # 5xx). Attempt Jobs have deterministic names, so if the first create had landed the retry
    # answers 409 AlreadyExists, and the service reads the existing Job and goes on with it.
    # The sandbox's api-errors fault refuses requests before acting, so it cannot stage this.
    ("batch", "jobs", "get"): "Kube.create: read the existing attempt Job after a 409",
    # The same for a job's record ConfigMap, whose name derives from a client_request_id: a
    # lost answer retried, or two POST /jobs with one client_request_id at once (the second
    # waits on the first's lock, then meets its record); racy to stage, so not staged here.
    ("", "configmaps", "get"): "Kube.create: read the existing job record after a 409",
}


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [e.get("message", "") for e in events]


async def spawn(hub: HubClient, user: str, options: dict[str, str]) -> list[str]:
    response = await hub.spawn(user, options)
    assert response.status_code == 202, response.text
    events = await hub.progress(user)
    assert events[-1].get("ready"), events
    return messages(events)


async def servers(hub: HubClient) -> None:
    """A GPU profile; the automatic profile falling back from a Leonardo that fails to submit
    (the spawner deletes the failed server and starts it on a local GPU node)."""
    await spawn(hub, "alice", {"profile": "gpu-t4", "gpus": "1"})
    assert hub.pod("alice")["spec"]["nodeName"] == "local-gpu-t4-1"
    await hub.stop("alice")
    hub.sandbox.faults.provider_failure("leonardo")
    try:
        said = await spawn(hub, "bob", {"profile": "automatic", "gpus": "1"})
    finally:
        hub.sandbox.faults.provider_failure("leonardo", on=False)
    assert any(
        m.startswith("your server runs at Local resources; it fell back from CINECA Leonardo")
        for m in said
    ), said
    await hub.stop("bob")


async def submit(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(JOBS_API, json={"image": IMAGE, "resources": {"cpu": 1}, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def reaches(http: httpx.AsyncClient, job_id: str, states: tuple[str, ...]) -> dict:
    async def probe() -> dict[str, Any] | None:
        job = (await http.get(f"{JOBS_API}/{job_id}")).json()
        return job if job["state"] in states else None

    return await wait_until(probe, 120, 0.5, f"job {job_id} to be {' or '.join(states)}")


async def jobs(hub: HubClient) -> None:
    """A fallback, a job followed, read and cancelled, and a rerun, with the token of a user
    whose server has run (KubeSpawner made the home claim a job below mounts)."""
    token = await hub.user_token("alice")
    async with hub.client(headers={"Authorization": f"token {token}"}) as http:
        # the plan preview reads each site's queue positions (Kueue's visibility API)
        plan = await http.post(JOBS_API.rsplit("/", 1)[0] + "/plan", json={"command": ["true"]})
        assert plan.status_code == 200, plan.text
        assert all("queue" in site for site in plan.json()["sites"]), plan.text
        hub.sandbox.faults.provider_failure("tier1")
        try:
            fell = await submit(http, {"name": "falls-back", "command": ["python", "-c", "1"]})
            done = await reaches(http, fell["id"], ("succeeded", "failed"))
        finally:
            hub.sandbox.faults.provider_failure("tier1", on=False)
        assert done["state"] == "succeeded", done
        assert [a["site"] for a in done["attempts"]] == ["tier1", "local"]

        script = "import time; print('started', flush=True); time.sleep(600)"
        long = await submit(
            http, {"name": "long", "command": ["python", "-c", script], "volumes": ["pvc"]}
        )
        await reaches(http, long["id"], ("running",))

        async def started() -> dict[str, Any] | None:
            log = (await http.get(f"{JOBS_API}/{long['id']}/log")).json()
            return log if "started" in log["data"] else None

        await wait_until(started, 60, 0.5, "the running job's log")
        cancelled = await http.delete(f"{JOBS_API}/{long['id']}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"

        rerun = await http.post(f"{JOBS_API}/{fell['id']}/rerun", json={})
        assert rerun.status_code == 201, rerun.text
        again = await reaches(http, rerun.json()["id"], ("succeeded", "failed"))
        assert (again["state"], again["site"]) == ("succeeded", "tier1"), again


def sandbox_call(hub: HubClient, method: str, path: str, body: Any = None) -> int:
    """A request of this test's own to the sandbox's API (User-Agent Python-urllib)."""
    import json
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    data = None if body is None else json.dumps(body).encode()
    request = Request(hub.sandbox.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {hub.sandbox.token}")
    try:
        with urlopen(request, timeout=30) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


async def retention(hub: HubClient, namespace: str) -> None:
    """The record of a job that ended 100 days ago (written by a service before an upgrade):
    older than the default history window, so the service deletes it."""
    from aiinfn_hub.placement import PlacementConfig

    from ..jobs.records import ended_record

    record = ended_record(PlacementConfig().placer(), "00000000aa", "carol", 100, namespace)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    assert sandbox_call(hub, "POST", path, record) == 201

    def gone() -> bool:
        return sandbox_call(hub, "GET", f"{path}/{record['metadata']['name']}") == 404

    await wait_until(gone, 60, 0.5, "the service to delete a record past its history window")


def resource(entry: dict[str, Any]) -> str:
    """RBAC's name for what a request touches: ``pods``, ``pods/log``."""
    sub = entry["subresource"]
    return f"{entry['resource']}/{sub}" if sub else entry["resource"]


def _row(entry: dict[str, Any]) -> str:
    group = entry.get("apiGroup") or "core"
    where = entry.get("namespace") or "(cluster)"
    what = entry.get("nonResourceURL") or f"{group}/{resource(entry)}"
    return f"{entry['userAgent']}: {entry['verb']} {what} in {where}"


async def test_every_request_of_the_hub_is_granted_and_every_grant_is_used(
    sandbox_process: SandboxProcess, tmp_path
):
    sandbox = sandbox_process
    sandbox.reset()
    since = sandbox.audit()["last"]
    with running_hub(sandbox, tmp_path / "hub", interactive_offload=True) as hub:
        namespace = hub.process.hub.namespace
        await servers(hub)
        await jobs(hub)
        await retention(hub, namespace)
    # the hub has stopped (its servers and the jobs service with it): the whole trail is in
    trail = sandbox.audit(since)
    sandbox.reset()
    assert trail["lost"] == 0, "the audit trail overflowed; read it sooner"
    entries = trail["items"]
    hub_side = [e for e in entries if e["userAgent"] in (SPAWNER, JOBS)]
    assert {e["userAgent"] for e in hub_side} == {SPAWNER, JOBS}
    # every other request is this test's own reading of pods; none from an unnamed client
    others = {e["userAgent"] for e in entries} - {SPAWNER, JOBS}
    assert all(agent.startswith("Python-urllib/") for agent in others), others

    # every request the hub made is allowed, in its scope
    rbac = HubRbac.from_files(namespace)
    assert not [e for e in hub_side if "nonResourceURL" in e], "the hub needs no discovery"
    denied = sorted(
        {
            _row(e)
            for e in hub_side
            if not rbac.allows(e["apiGroup"], resource(e), e["verb"], e["namespace"])
        }
    )
    assert not denied, "requests RBAC would refuse:\n" + "\n".join(denied)

    # and every grant of rbac.yaml is used, or said here why this run did not need it
    docs = documents()
    ours = grants(one(docs, "Role")["rules"]) | grants(one(docs, "ClusterRole")["rules"])
    seen = {(e["apiGroup"], resource(e), e["verb"]) for e in hub_side}
    unused = sorted(ours - seen - NOT_HIT.keys())
    assert not unused, f"rbac.yaml grants what the hub never does: {unused}; it did {sorted(seen)}"
    assert NOT_HIT.keys() <= ours, "an allowance for a grant rbac.yaml no longer has"
