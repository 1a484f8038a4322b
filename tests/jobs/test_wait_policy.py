"""The opt-in wait-aware policy (issue 16, section 4): with ``c.WaitPolicy`` set, a first
choice where a job would start much later than at the next site is skipped, in ``POST /plan``
and in a submitted job's plan and first attempt alike; off by default."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from traitlets import TraitError
from traitlets.config import Config

from aiinfn_hub.jobs import openapi
from aiinfn_hub.jobs.clitext import plan_lines
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.jobs.waiting import WaitPolicy
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.placement import ConfigError, default_catalogue
from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import Api, serve, wait_for
from .test_queue_estimates import GPU_JOB, NS, OWNER, TOKENS, _config, _topology, _two_waiting

#: Leonardo's likely start behind the 1 h job and the two waiting ones (each lasting half
#: its walltime, no job having been seen ending): 30 min + 15 min, less the seconds since the
#: 1 h job started; Local has room now.
GAP = 45 * 60
SKIPPED = re.compile(r"skipped: expected start in 4[45] min, Local resources free now")


def _with(**wait: Any) -> Config:
    config = _config()
    for key, value in wait.items():
        setattr(config.WaitPolicy, key, value)
    return config


@contextlib.asynccontextmanager
async def _service(tmp_path, config: Config) -> AsyncIterator[tuple[Sandbox, JobsManager, Api]]:
    async with Sandbox(_topology()) as sandbox:
        api = await kube_client(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
        manager = JobsManager(Kube(api, NS), config=config)
        await manager.start()
        try:
            with serve(manager, TOKENS, set()) as client:
                yield sandbox, manager, client
        finally:
            await manager.stop()
            await api.close()


@contextlib.contextmanager
def _reads(manager: JobsManager) -> Iterator[list[str]]:
    """The sites whose queue the service reads meanwhile (each a request to Kubernetes)."""
    read: list[str] = []
    positions = manager.queues.positions

    async def counted(site):
        read.append(site.name)
        return await positions(site)

    manager.queues.positions = counted  # type: ignore[method-assign]
    try:
        yield read
    finally:
        manager.queues.positions = positions  # type: ignore[method-assign]


def _skipped(plan: dict) -> str | None:
    return next((r["reason"] for r in plan["ruled_out"] if r["name"] == "leonardo"), None)


async def test_off_by_default_the_table_decides_even_with_a_long_queue(tmp_path) -> None:
    async with _service(tmp_path, _config()) as (_, manager, client):
        await _two_waiting(manager)
        status, plan = await client.call("POST", "plan", GPU_JOB, token="anna-token")
        assert status == 200, plan
        assert [s["name"] for s in plan["sites"]] == ["leonardo", "local"]
        assert plan["sites"][0]["queue"]["position"] == 3
        with _reads(manager) as read:
            view, _ = await manager.submit(OWNER, {**GPU_JOB, "name": "waits.at-leonardo"})
        assert read == []  # off: a submission reads no queue
        assert [s["name"] for s in view["plan"]["sites"]] == ["leonardo", "local"]
        await wait_for(manager, view["id"], ("queued",))
        assert manager.jobs[view["id"]].view["site"] == "leonardo"


@pytest.mark.parametrize(
    "config",
    [_with(margin=35 * 60), _with(sites={"leonardo": {"margin": 35 * 60}})],
    ids=["margin", "per-site"],
)
async def test_on_a_long_wait_at_leonardo_sends_the_job_to_local(tmp_path, config) -> None:
    # the two jobs put in Leonardo's queue first would start there 30 min later: not skipped
    async with _service(tmp_path, config) as (_, manager, client):
        await _two_waiting(manager)
        status, plan = await client.call("POST", "plan", GPU_JOB, token="anna-token")
        assert status == 200, plan
        openapi.validate("Plan", plan)
        assert [s["name"] for s in plan["sites"]] == ["local"]
        assert SKIPPED.fullmatch(_skipped(plan) or ""), plan["ruled_out"]
        assert plan["sites"][0]["reason"].endswith(
            "tried first because CINECA Leonardo is ruled out"
        )
        assert plan["sites"][0]["queue"]["basis"].endswith("room for it now")

        with _reads(manager) as read:
            status, view = await client.call(
                "POST", "jobs", {**GPU_JOB, "name": "skips.leonardo"}, token="anna-token"
            )
        assert status == 201, view
        assert sorted(read) == ["leonardo", "local"]  # on: the two sites weighed, no more
        assert view["owner"] == OWNER
        assert [s["name"] for s in view["plan"]["sites"]] == ["local"]
        assert SKIPPED.fullmatch(_skipped(view["plan"]) or "")
        done = await wait_for(manager, view["id"], ("running", "succeeded", "failed"))
        assert [a["site"] for a in done["attempts"]] == ["local"]
        status, shown = await client.call("GET", f"jobs/{view['id']}", token="anna-token")
        assert SKIPPED.fullmatch(_skipped(shown["plan"]) or "")
        lines = plan_lines(shown["plan"])
        assert any(SKIPPED.search(line) and "x  CINECA Leonardo: " in line for line in lines)


async def test_the_margin_is_respected(tmp_path) -> None:
    # Leonardo's likely start is a few seconds under 45 min later than Local's
    async with _service(tmp_path, _with(sites={"leonardo": {"margin": GAP}})) as (_, manager, _c):
        await _two_waiting(manager)
        view, _ = await manager.submit(OWNER, {**GPU_JOB, "name": "just-under"})
        assert [s["name"] for s in view["plan"]["sites"]] == ["leonardo", "local"]
        assert _skipped(view["plan"]) is None
        manager.operations.wait.margins["leonardo"] = GAP - 5 * 60
        view, _ = await manager.submit(OWNER, {**GPU_JOB, "name": "just-over"})
        assert [s["name"] for s in view["plan"]["sites"]] == ["local"]


async def test_an_unknown_start_never_skips_a_site(tmp_path) -> None:
    async with _service(tmp_path, _with(margin=60)) as (sandbox, manager, client):
        # jobs wait at Leonardo though it has room, and none was admitted there lately
        sandbox.faults.stall_admission("leonardo")
        first, _ = await manager.submit(OWNER, {**GPU_JOB, "name": "stalled"})
        await wait_for(manager, first["id"], ("queued",))

        def pending_at_leonardo() -> bool:  # its Workload, made after its Job, is in the queue
            return any(
                w["spec"].get("queueName") == "leonardo" and "admission" not in w["status"]
                for w in manager.workloads.values()
            )

        await wait_until(pending_at_leonardo, message="the stalled job's Workload pending")
        status, plan = await client.call("POST", "plan", GPU_JOB, token="anna-token")
        assert status == 200, plan
        assert [s["name"] for s in plan["sites"]] == ["leonardo", "local"]
        assert plan["sites"][0]["queue"]["estimated_start"] is None
        view, _ = await manager.submit(OWNER, {**GPU_JOB, "name": "still-leonardo"})
        assert [s["name"] for s in view["plan"]["sites"]] == ["leonardo", "local"]


def test_the_policy_checks_its_settings() -> None:
    sites = default_catalogue()
    assert WaitPolicy().margins(sites) == {"leonardo": 0, "tier1": 0, "local": 0}
    policy = WaitPolicy(margin=600, sites={"tier1": {"margin": 0}})
    assert policy.margins(sites) == {"leonardo": 600, "tier1": 0, "local": 600}
    with pytest.raises(ConfigError, match=r"WaitPolicy.sites names unknown sites \['Leonardo'\]"):
        WaitPolicy(sites={"Leonardo": {"margin": 60}}).margins(sites)
    with pytest.raises(TraitError, match=r"unknown keys \['delay'\]"):
        WaitPolicy(sites={"leonardo": {"delay": 60}})
    with pytest.raises(TraitError, match="whole number of seconds"):
        WaitPolicy(sites={"leonardo": {"margin": "1h"}})
    with pytest.raises(TraitError):
        WaitPolicy(margin=-1)
