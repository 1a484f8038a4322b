"""Kubernetes API latency and 5xx errors: every job still reaches its right end state, errors
are retried with backoff, and when Kubernetes stays down users are told so in plain words."""

from __future__ import annotations

import asyncio

from .conftest import wait_for

OK = ["python", "-c", "print('ok')"]


async def test_latency_and_5xx_errors_every_job_reaches_its_end_state(manager, sandbox):
    sandbox.faults.provider_failure("leonardo")
    sandbox.faults.api_latency(20)
    sandbox.faults.api_errors(0.2)
    bodies = (
        [{"command": OK, "resources": {"gpus": 1}}] * 3
        + [{"command": OK}] * 3
        + [{"command": OK, "local_only": True}] * 3
        + [{"command": ["python", "-c", "raise SystemExit(3)"], "local_only": True}]
    )
    submitted = await asyncio.gather(*(manager.submit("alice", body) for body in bodies))
    done = [await wait_for(manager, view["id"], timeout=90) for view, _ in submitted]
    sites = [[(a["site"], a["outcome"]) for a in job["attempts"]] for job in done]
    assert sites == (
        [[("leonardo", "fell_back"), ("local", "succeeded")]] * 3
        + [[("tier1", "succeeded")]] * 3
        + [[("local", "succeeded")]] * 3
        + [[("local", "failed")]]
    )
    assert done[-1]["reason"] == "your code exited with code 3; see the job's log"
    assert sum(manager.kube.failures.values()) > 0, "the 5xx answers were retried"


async def test_kubernetes_down_is_reported_in_plain_words(api, manager, sandbox):
    _, running = await api.call("POST", "jobs", {"command": ["sleep", "60"], "local_only": True})
    await wait_for(manager, running["id"], ("running",))
    sandbox.faults.api_errors(1.0)

    status, error = await api.call("POST", "jobs", {"command": OK, "local_only": True})
    assert status == 503
    assert error["error"] == (
        "the job was not submitted: the Kubernetes API server is failing "
        "(503 ServiceUnavailable); try again in a minute"
    )
    status, error = await api.call("DELETE", f"jobs/{running['id']}")
    assert status == 503
    assert error["error"].startswith("the job was not cancelled: the Kubernetes API server")
    status, error = await api.call("GET", f"jobs/{running['id']}/log")
    assert status == 503
    assert error["error"].startswith("the log cannot be read now: the Kubernetes API server")

    status, page = await api.call("GET", "jobs")
    assert status == 200 and [j["state"] for j in page["jobs"]] == ["running"]

    sandbox.faults.api_errors(0)
    status, cancelled = await api.call("DELETE", f"jobs/{running['id']}")
    assert (status, cancelled["state"]) == (200, "cancelled")
