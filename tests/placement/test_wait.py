"""The wait-aware policy's decision (issue 16, section 4): pure, over a plan and each site's
estimated start."""

from __future__ import annotations

import pytest

from aiinfn_hub.placement import Placer, SiteHealth
from aiinfn_hub.placement.estimate import Estimate
from aiinfn_hub.placement.wait import wait_candidates, wait_skip

NOW = 1_800_000_000.0
HOUR = 3600.0
GPU = {"gpus": 1}


def _estimate(likely: float | None, *, earliest: float | None = None) -> Estimate:
    """A start at ``likely`` seconds from now (None: cannot be told)."""
    if likely is None:
        return Estimate(1, 0, None, None, None, "cannot be told")
    at = NOW + likely
    return Estimate(1, 0, NOW + (earliest or 0.0), at, at + HOUR, "simulated")


@pytest.fixture
def plan():
    placer = Placer()
    return placer.plan(placer.parse(GPU))


def _skip(plan, leonardo, local, margins=None, health=None) -> dict[str, str]:
    estimates = {"leonardo": _estimate(leonardo), "local": _estimate(local)}
    return wait_skip(
        plan,
        estimates,
        margins={"leonardo": 1800} if margins is None else margins,
        health=health or {},
        now=NOW,
    )


def test_a_long_wait_at_the_first_choice_skips_it(plan) -> None:
    assert plan.site_names == ("leonardo", "local")
    assert _skip(plan, 2 * HOUR, 0) == {
        "leonardo": "skipped: expected start in 2 h, Local resources free now"
    }


def test_the_fallbacks_start_is_said_when_it_is_not_now(plan) -> None:
    assert _skip(plan, 3 * HOUR, 20 * 60) == {
        "leonardo": "skipped: expected start in 3 h, Local resources in 20 min"
    }


def test_the_margin_is_respected(plan) -> None:
    assert _skip(plan, 1800 + 59, 60) == {}  # later by just under the margin
    assert _skip(plan, 1800 + 60, 60) == {}  # by exactly the margin
    assert "leonardo" in _skip(plan, 1800 + 61, 60)


def test_off_by_default_and_per_site(plan) -> None:
    assert _skip(plan, 10 * HOUR, 0, margins={}) == {}
    assert _skip(plan, 10 * HOUR, 0, margins={"leonardo": 0}) == {}
    assert _skip(plan, 10 * HOUR, 0, margins={"tier1": 60}) == {}
    assert wait_candidates(plan, {}) == ()
    assert wait_candidates(plan, {"leonardo": 60}) == ("leonardo", "local")


def test_an_unknown_estimate_never_skips(plan) -> None:
    assert _skip(plan, None, 0) == {}
    assert _skip(plan, 10 * HOUR, None) == {}
    missing = wait_skip(plan, {"local": _estimate(0)}, margins={"leonardo": 60}, health={}, now=NOW)
    assert missing == {}


def test_like_is_compared_with_like_the_likely_start(plan) -> None:
    # Leonardo could start at once if every job ended now (its earliest), but likely in 2 h
    estimates = {"leonardo": _estimate(2 * HOUR, earliest=0.0), "local": _estimate(600)}
    found = wait_skip(plan, estimates, margins={"leonardo": 1800}, health={}, now=NOW)
    assert found == {"leonardo": "skipped: expected start in 2 h, Local resources in 10 min"}


def test_only_a_usable_fallback_takes_the_job(plan) -> None:
    degraded = {"local": SiteHealth(degraded="3 of the last 3 submissions failed")}
    down = {"local": SiteHealth(ready=False, message="down for repairs")}
    assert _skip(plan, 10 * HOUR, 0, health=degraded) == {}
    assert _skip(plan, 10 * HOUR, 0, health=down) == {}


def test_a_plan_without_a_fallback_is_left_alone() -> None:
    placer = Placer()
    alone = placer.plan(placer.parse({**GPU, "local_only": True}))
    assert alone.site_names == ("local",)
    assert wait_candidates(alone, {"local": 60}) == ()
    assert wait_skip(alone, {"local": _estimate(10 * HOUR)}, margins={"local": 60}, health={},
                     now=NOW) == {}  # fmt: skip


def test_planning_again_rules_the_skipped_site_out(plan) -> None:
    placer = Placer()
    skip = _skip(plan, 2 * HOUR, 0)
    again = placer.plan(plan.request, {}, exclude=skip)
    assert again.site_names == ("local",)
    view = again.to_dict()
    assert {
        "name": "leonardo",
        "reason": "skipped: expected start in 2 h, Local resources free now",
    } in view["ruled_out"]
    assert "CINECA Leonardo" in view["sites"][0]["reason"]
