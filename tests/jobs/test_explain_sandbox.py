"""The explanation end to end on the sandbox: a job waiting for quota, one a remote site
refuses, and one whose site loses its connection each say why in one sentence, the same
through ``GET /jobs/{id}``, ``aiinfn-jobs show`` and ``jobs.why`` (the Python API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiinfn_hub.jobs import cli, client, connection
from aiinfn_hub.sandbox.faults import DEFAULT_PROVIDER_ERROR
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import Api, serve, wait_for

#: a user name as a real hub has them (an e-mail login, capitals and dots)
OWNER = "Maria.Rossi@infn.it"
TOKEN = "maria-token"


@pytest.fixture
async def maria(manager) -> AsyncIterator[Api]:
    with serve(manager, {TOKEN: OWNER}, set()) as served:
        yield served


@pytest.fixture
def fresh_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and the Python API connect anew here, and forget it after the test."""
    monkeypatch.setattr(connection, "_connection", None)


async def explained(api: Api, job_id: str, layer: str, words: str = "") -> dict[str, Any]:
    """The job's explanation through the API once it comes from ``layer`` and says ``words``
    (Kueue writes its reason a moment after the Workload exists)."""

    async def found() -> dict[str, Any] | None:
        status, job = await api.call("GET", f"jobs/{job_id}", token=TOKEN)
        assert status == 200, job
        explanation = job.get("explanation") or {}
        if explanation.get("layer") == layer and words in explanation.get("sentence", ""):
            return explanation
        return None

    async def poll() -> dict[str, Any]:
        while True:
            got = await found()
            if got:
                return got
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), 60)


async def shown(api: Api, job_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What ``aiinfn-jobs show`` prints of the job (run in a thread: the API serves here)."""
    capsys.readouterr()
    argv = ["--url", api.url, "--token", TOKEN, "show", job_id]
    assert await asyncio.to_thread(cli.main, argv) == 0
    return capsys.readouterr().out


async def submit(api: Api, body: dict[str, Any]) -> str:
    status, job = await api.call("POST", "jobs", body, token=TOKEN)
    assert status == 201, job
    assert job["owner"] == OWNER
    return str(job["id"])


async def test_a_job_waiting_for_quota_says_so(maria, manager, sandbox, capsys, fresh_connection):
    sandbox.faults.stall_admission("leonardo")
    job_id = await submit(
        maria, {"command": ["true"], "resources": {"gpus": 1}, "site": "leonardo"}
    )
    explanation = await explained(maria, job_id, "kueue", "waiting for free")
    sentence = explanation["sentence"]
    assert sentence.startswith("Queued at CINECA Leonardo: waiting for free ")
    assert sentence.endswith(
        "in the site's queue (1 more needed); it starts when running jobs end."
    )
    kueue = explanation["details"][0]
    assert kueue["source"] == "Workload condition QuotaReserved"
    assert kueue["reason"] == "Pending"
    assert kueue["message"].startswith("couldn't assign flavors to pod set ")

    out = await shown(maria, job_id, capsys)
    assert out.splitlines()[1] == f"  {sentence}"
    assert "why, layer by layer:" in out and "Workload condition QuotaReserved" in out
    assert await asyncio.to_thread(client.why, job_id) == sentence


async def test_a_remote_sites_refusal_is_the_sites(
    maria, manager, sandbox, capsys, fresh_connection
):
    sandbox.faults.provider_failure("tier1")
    job_id = await submit(maria, {"command": ["true"], "site": "tier1"})
    await wait_for(manager, job_id)
    explanation = await explained(maria, job_id, "site")
    assert explanation["sentence"] == (
        f"Failed at CNAF Tier-1: the site refused the job ({DEFAULT_PROVIDER_ERROR}); "
        "no other site was left to try."
    )
    pod = next(d for d in explanation["details"] if d["layer"] == "pod")
    assert (pod["reason"], pod["message"]) == ("ProviderFailed", DEFAULT_PROVIDER_ERROR)

    out = await shown(maria, job_id, capsys)
    assert out.splitlines()[1] == f"  {explanation['sentence']}"
    status, page = await maria.call("GET", "jobs", token=TOKEN)
    assert status == 200
    assert page["jobs"][0]["explanation"]["sentence"] == explanation["sentence"]


async def test_a_site_losing_its_connection_explains_a_job_there(
    maria, manager, sandbox, capsys, fresh_connection
):
    job_id = await submit(
        maria, {"command": ["sleep", "120"], "resources": {"gpus": 1}, "site": "leonardo"}
    )
    await wait_for(manager, job_id, ("running",))
    sandbox.faults.site_down("leonardo", message="Ping to InterLink API failed: status 503")
    explanation = await explained(maria, job_id, "node")
    assert explanation["sentence"] == (
        "Running at CINECA Leonardo: the connection to the site is lost "
        "(Ping to InterLink API failed: status 503)."
    )
    link = next(d for d in explanation["details"] if d["layer"] == "node")
    assert link["reason"] == "InterlinkPingFailed"
    assert "vk-leonardo" in link["source"]  # the node's name is in the raw words only
    assert "vk-leonardo" not in explanation["sentence"]
    out = await shown(maria, job_id, capsys)
    assert out.splitlines()[1] == f"  {explanation['sentence']}"

    sandbox.faults.site_down("leonardo", on=False)
    await wait_until(
        lambda: manager.jobs[job_id].view["explanation"]["layer"] == "service",
        timeout=30,
        message="the explanation to clear",
    )
    assert manager.jobs[job_id].view["explanation"]["sentence"] == "Running at CINECA Leonardo."
