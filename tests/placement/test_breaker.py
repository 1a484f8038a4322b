"""A site's circuit breaker as pure policy: endings in, state out (placement/breaker.py)."""

from __future__ import annotations

import time

import pytest

from aiinfn_hub.placement import Placer
from aiinfn_hub.placement.breaker import (
    Breaker,
    BreakerSettings,
    BreakerState,
    Ending,
    clock_text,
)
from aiinfn_hub.placement.sites import SiteHealth

T0 = 1_750_000_000.0
SETTINGS = BreakerSettings(failures=3, window=600, cooldown=300, max_cooldown=1000)


def fail(at: float, started: float | None = None) -> Ending:
    return Ending(at - 5 if started is None else started, at, True, "the site said no")


def served(at: float, started: float | None = None) -> Ending:
    return Ending(at - 5 if started is None else started, at, False, "")


def opened(settings: BreakerSettings = SETTINGS) -> Breaker:
    breaker = Breaker("CNAF Tier-1", settings)
    for i in range(3):
        breaker.fold(fail(T0 + i))
    return breaker


def test_failures_within_the_window_open_it_and_older_ones_do_not():
    breaker = Breaker("CNAF Tier-1", SETTINGS)
    breaker.fold(fail(T0))
    breaker.fold(served(T0 + 10))
    breaker.fold(fail(T0 + 700))  # the first failure left the window
    breaker.fold(fail(T0 + 710))
    assert breaker.at(T0 + 711).state is BreakerState.CLOSED
    breaker.fold(fail(T0 + 720))
    found = breaker.at(T0 + 721)
    assert found.state is BreakerState.OPEN
    assert found.reason == "3 of the last 3 submissions to CNAF Tier-1 failed: the site said no"
    assert found.retry_at == T0 + 720 + 300
    assert found.skip == f"{found.reason}; will try again at {clock_text(T0 + 1020, T0 + 721)}"


def test_served_submissions_in_the_window_are_counted_but_do_not_reset_it():
    breaker = Breaker("CNAF Tier-1", SETTINGS)
    for i, ending in enumerate([fail, served, fail, served, fail]):
        breaker.fold(ending(T0 + i))
    assert breaker.at(T0 + 5).reason == (
        "3 of the last 5 submissions to CNAF Tier-1 failed: the site said no"
    )


def test_no_failures_setting_never_opens():
    breaker = Breaker("CNAF Tier-1", BreakerSettings(failures=0))
    for i in range(20):
        breaker.fold(fail(T0 + i))
    assert breaker.at(T0 + 20).state is BreakerState.CLOSED


def test_endings_of_attempts_sent_before_it_opened_say_nothing_new():
    breaker = opened()
    breaker.fold(served(T0 + 400, started=T0 - 10))  # sent before: its success is not a test
    breaker.fold(fail(T0 + 401, started=T0 - 10))
    assert breaker.at(T0 + 402).state is BreakerState.PROBING
    assert breaker.retry_at == T0 + 2 + 300


def test_the_cooldown_doubles_up_to_the_limit_and_a_success_closes_it():
    breaker = opened()
    retries = []
    for _ in range(4):
        now = breaker.retry_at
        assert now is not None
        assert breaker.at(now - 1).state is BreakerState.OPEN
        assert breaker.at(now).state is BreakerState.PROBING
        breaker.fold(fail(now + 10, started=now))
        retries.append(breaker.retry_at - (now + 10))
    assert retries == [600, 1000, 1000, 1000]
    assert breaker.at(breaker.retry_at).reason == (
        "the test submission to CNAF Tier-1 failed too: the site said no"
    )
    now = breaker.retry_at
    breaker.fold(served(now + 10, started=now))
    assert breaker.at(now + 11).state is BreakerState.CLOSED
    for i in range(3):  # closed afresh, with the first cool-down again
        breaker.fold(fail(now + 20 + i))
    assert breaker.retry_at == now + 22 + 300


def test_probing_lets_one_submission_through_and_skips_the_site_while_it_runs():
    breaker = opened()
    retry = breaker.retry_at
    assert retry is not None
    assert breaker.at(retry, in_progress=[T0 - 60]).skip == ""  # an old one, not a test
    testing = breaker.at(retry, in_progress=[retry + 1])
    assert testing.state is BreakerState.PROBING
    assert testing.skip.endswith("; one submission is testing it now")


def test_placement_skips_a_degraded_site_by_its_health():
    placer = Placer()
    health = {"tier1": SiteHealth(degraded="3 of the last 3 submissions failed: x")}
    plan = placer.plan(placer.parse({"cpu": 1}), health)
    assert plan.site_names == ("local",)
    assert plan.to_dict()["ruled_out"][0] == {
        "name": "tier1",
        "reason": "degraded: 3 of the last 3 submissions failed: x",
    }
    nxt = plan.next_site(set(), {"local": SiteHealth(), **health})
    assert nxt is not None and nxt.site.name == "local"


@pytest.mark.parametrize("offset, dated", [(0, False), (2 * 86400, True)])
def test_times_read_as_the_panel_shows_them(offset, dated):
    at = T0 + offset
    text = clock_text(at, T0)
    assert text.endswith(time.strftime("%H:%M:%S", time.localtime(at)))
    assert (len(text) > 8) is dated
