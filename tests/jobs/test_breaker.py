"""A circuit breaker per site, on the sandbox: the site's own failures open it and new plans
skip the site saying why; a user's own failures never count; after the cool-down the next
submission tests the site; a restarted service has the same breakers; ``GET /sites`` and
``/metrics`` show them. The breakers are read by a clock the tests move, never by waiting."""

from __future__ import annotations

import asyncio
import time

from traitlets.config import Config

from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.conditions import parse_time
from aiinfn_hub.placement.breaker import BreakerState, clock_text
from aiinfn_hub.sandbox.faults import DEFAULT_PROVIDER_ERROR
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import TOKENS, fast_config, serve, start_manager, stop_manager, wait_for

OK = ["python", "-c", "print('ok')"]
USER_FAILS = ["python", "-c", "raise SystemExit(3)"]
#: Owners as a real hub names them.
OWNERS = ("Maria.Rossi@infn.it", "j_doe", "Giulia.Bianchi@pd.infn.it")
COOLDOWN = 300
#: What the plan says of the Tier-1 once three submissions failed there.
OPENED = (
    "3 of the last 3 submissions to CNAF Tier-1 failed: the remote submission failed: "
    f"{DEFAULT_PROVIDER_ERROR}"
)


class Clock:
    """The time the breakers are read by, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def breaker_config() -> Config:
    config = fast_config()
    config.BreakerPolicy.failures = 5  # the default for other sites; the Tier-1's is 3
    config.BreakerPolicy.sites = {"tier1": {"failures": 3, "cooldown": COOLDOWN}}
    config.BreakerPolicy.max_cooldown = 900
    return config


async def started(sandbox, clock: Clock) -> JobsManager:
    manager = await start_manager(str(sandbox.kubeconfig), breaker_config())
    manager.breakers.now = clock
    return manager


async def run(manager: JobsManager, owner: str, command: list[str]) -> dict:
    """Submit a CPU job that may be offloaded (the Tier-1 first) and wait for its end."""
    view, _ = await manager.submit(owner, {"command": command})
    return await wait_for(manager, view["id"])


def tier1_in_plan(manager: JobsManager) -> tuple[list[str], str | None]:
    """The sites a new offloadable CPU job would try, and why the Tier-1 is ruled out."""
    plan = manager.plan({"command": OK}, OWNERS[0])
    why = next((r["reason"] for r in plan["ruled_out"] if r["name"] == "tier1"), None)
    return [s["name"] for s in plan["sites"]], why


async def test_site_failures_open_the_breaker_and_new_plans_skip_the_site(sandbox):
    clock = Clock()
    manager = await started(sandbox, clock)
    sandbox.faults.provider_failure("tier1")
    try:
        done = await asyncio.gather(*(run(manager, owner, OK) for owner in OWNERS))
        assert [
            [(a["site"], a["outcome"], a.get("blame")) for a in j["attempts"]] for j in done
        ] == [[("tier1", "fell_back", "site"), ("local", "succeeded", None)]] * 3
        breaker = manager.breakers.view("tier1")
        assert breaker.state is BreakerState.OPEN
        assert breaker.reason == OPENED
        last = max(parse_time(j["attempts"][0]["ended"]) or 0 for j in done)
        assert breaker.retry_at == last + COOLDOWN
        retry = clock_text(breaker.retry_at, clock())
        sites, why = tier1_in_plan(manager)
        assert sites == ["local"]
        assert why == f"degraded: {OPENED}; will try again at {retry}"

        # a job submitted now goes straight to local resources, saying why
        view, _ = await manager.submit(OWNERS[1], {"command": OK})
        assert view["plan"]["sites"][0]["name"] == "local"
        done = await wait_for(manager, view["id"])
        assert [a["site"] for a in done["attempts"]] == ["local"]

        with serve(manager, TOKENS, {"admin"}) as api:
            status, body = await api.call("GET", "sites")
            assert status == 200
            shown = {s["name"]: s["breaker"] for s in body["sites"]}
            assert shown["tier1"]["state"] == "open"
            assert shown["tier1"]["reason"] == OPENED
            assert shown["tier1"]["retry_at"].endswith("Z")
            assert shown["local"] == {"state": "closed", "reason": None, "retry_at": None}
            status, text = await api.call("GET", "metrics", token="admin-token")
            assert status == 200
            assert 'aiinfn_site_breaker{site="tier1",state="open"} 1.0' in text
            assert 'aiinfn_site_breaker{site="tier1",state="closed"} 0.0' in text
            assert 'aiinfn_site_breaker{site="local",state="closed"} 1.0' in text
    finally:
        await stop_manager(manager)

    # a restarted service folds the same breaker from the jobs' records
    again = await started(sandbox, clock)
    try:
        assert again.breakers.view("tier1") == breaker
        assert tier1_in_plan(again) == (sites, why)
    finally:
        await stop_manager(again)


async def test_users_own_failures_never_count(sandbox):
    clock = Clock()
    manager = await started(sandbox, clock)
    try:
        for owner in OWNERS:  # the Tier-1 ran them: their code failed, not the site
            failed = await run(manager, owner, USER_FAILS)
            assert failed["state"] == "failed"
            assert [(a["site"], a["blame"]) for a in failed["attempts"]] == [("tier1", "user")]
        sandbox.faults.provider_failure("tier1")
        for owner in OWNERS[:2]:
            await run(manager, owner, OK)
        assert manager.breakers.view("tier1").state is BreakerState.CLOSED
        assert tier1_in_plan(manager) == (["tier1", "local"], None)
        await run(manager, OWNERS[2], OK)  # the site's third failure within the window
        breaker = manager.breakers.view("tier1")
        assert breaker.state is BreakerState.OPEN
        assert breaker.reason is not None
        assert breaker.reason.startswith("3 of the last 6 submissions to CNAF Tier-1 failed")
    finally:
        await stop_manager(manager)


async def test_after_the_cooldown_one_submission_tests_the_site(sandbox):
    clock = Clock()
    manager = await started(sandbox, clock)
    sandbox.faults.provider_failure("tier1")
    try:
        await asyncio.gather(*(run(manager, owner, OK) for owner in OWNERS))
        opened = manager.breakers.view("tier1")
        assert opened.state is BreakerState.OPEN

        # the cool-down is over: the next submission goes to the Tier-1, and fails there
        clock.advance(COOLDOWN + 30)
        assert manager.breakers.view("tier1").state is BreakerState.PROBING
        assert tier1_in_plan(manager) == (["tier1", "local"], None)
        probe = await run(manager, OWNERS[0], OK)
        assert [a["site"] for a in probe["attempts"]] == ["tier1", "local"]
        reopened = manager.breakers.view("tier1")
        assert reopened.state is BreakerState.OPEN
        assert reopened.reason == (
            "the test submission to CNAF Tier-1 failed too: the remote submission failed: "
            f"{DEFAULT_PROVIDER_ERROR}"
        )
        ended = parse_time(probe["attempts"][0]["ended"])
        assert ended is not None and reopened.retry_at == ended + 2 * COOLDOWN  # doubled
        clock.now = reopened.retry_at - 1
        assert manager.breakers.view("tier1").state is BreakerState.OPEN
        clock.now = reopened.retry_at
        assert manager.breakers.view("tier1").state is BreakerState.PROBING

        # the site works again: while the one test submission runs, others skip the site
        sandbox.faults.clear()
        view, _ = await manager.submit(OWNERS[1], {"command": ["sleep", "3"]})
        assert view["plan"]["sites"][0]["name"] == "tier1"
        await wait_for(manager, view["id"], ("running",))
        sites, why = tier1_in_plan(manager)
        assert sites == ["local"]
        assert why == f"degraded: {reopened.reason}; one submission is testing it now"
        done = await wait_for(manager, view["id"])
        assert [(a["site"], a["outcome"]) for a in done["attempts"]] == [("tier1", "succeeded")]
        await wait_until(lambda: manager.breakers.view("tier1").state is BreakerState.CLOSED)
        assert tier1_in_plan(manager) == (["tier1", "local"], None)
    finally:
        await stop_manager(manager)
