"""The placement table, end to end through requirement detection and the plan."""

import pytest

from aiinfn_hub.placement import Placer, SiteHealth


@pytest.fixture
def placer():
    return Placer()


@pytest.mark.parametrize(
    ("request_data", "requires_gpu", "offloadable", "sites"),
    [
        ({"cpu": 2, "volumes": ["pvc"]}, False, False, ["local"]),
        ({"cpu": 8, "walltime": "12h"}, False, True, ["tier1", "local"]),
        ({"gpus": 1, "local_only": True}, True, False, ["local"]),
        ({"gpus": 2, "gpu_model": "A100"}, True, True, ["leonardo", "local"]),
    ],
    ids=["cpu-local", "cpu-offloadable", "gpu-local", "gpu-offloadable"],
)
def test_each_row_of_the_table(placer, request_data, requires_gpu, offloadable, sites):
    plan = placer.plan(placer.parse(request_data))
    assert plan.requirements.requires_gpu is requires_gpu
    assert plan.requirements.offloadable is offloadable
    assert [c.site.name for c in plan.sites] == sites
    every = {c.site.name for c in plan.sites} | {e.site.name for e in plan.ruled_out}
    assert every == set(placer.sites), "every site is either planned or ruled out with a reason"
    assert all(e.reason for e in plan.ruled_out)
    assert all(c.reason for c in plan.sites)


def test_first_choice_and_fallback_reasons(placer):
    plan = placer.plan(placer.parse({"gpus": 1}))
    assert plan.sites[0].reason.startswith("first choice for GPU jobs that can be offloaded")
    assert plan.sites[1].reason == "fallback if CINECA Leonardo cannot serve"
    after = plan.next_site(["leonardo"], {})
    assert (after.site.name, after.reason, after.last) == (
        "local",
        "fallback if CINECA Leonardo cannot serve",
        True,
    )
    assert plan.next_site(["leonardo", "local"], {}) is None


@pytest.mark.parametrize(
    ("request_data", "first", "then"),
    [
        ({"gpus": 1}, "leonardo", "local"),  # GPU and offloadable: Leonardo, then local
        ({"cpu": 8, "walltime": "12h"}, "tier1", "local"),  # CPU and offloadable: Tier-1
        ({"gpus": 1, "local_only": True}, "local", None),  # not offloadable: local only
    ],
)
def test_next_site_follows_the_table(placer, request_data, first, then):
    plan = placer.plan(placer.parse(request_data))
    chosen = plan.next_site([], {})
    assert chosen.site.name == first
    assert chosen.last is (then is None)
    following = plan.next_site([first], {})
    assert (following.site.name if following else None) == then


def test_next_site_passes_over_a_site_that_went_down(placer):
    """Planned while every site was up; Leonardo fails afterwards."""
    plan = placer.plan(placer.parse({"gpus": 1}))
    down = {"leonardo": SiteHealth(connected=False, message="InterlinkPingFailed")}
    chosen = plan.next_site([], down)
    assert chosen.site.name == "local"
    assert chosen.last is False, "Leonardo is still left to try"
    assert chosen.reason == (
        "fallback if CINECA Leonardo cannot serve; CINECA Leonardo is down: the connection "
        "to the site is lost (InterlinkPingFailed)"
    )
    assert plan.next_site(["local"], down).site.name == "leonardo", "waiting beats failing"


def test_next_site_waits_at_the_last_site_when_none_is_usable(placer):
    plan = placer.plan(placer.parse({"gpus": 1}))
    down = {"leonardo": SiteHealth(maintenance=True), "local": SiteHealth(ready=False)}
    chosen = plan.next_site([], down)
    assert (chosen.site.name, chosen.last) == ("local", False)
    assert chosen.reason == (
        "no site left is usable now (CINECA Leonardo is in maintenance; Local resources is "
        "down: its node is not ready): it waits at Local resources"
    )


@pytest.mark.parametrize(
    ("down", "request_data", "expected"),
    [
        ("leonardo", {"gpus": 1}, ["local"]),
        ("tier1", {"cpu": 1}, ["local"]),
    ],
)
def test_site_down_is_skipped_with_reason(placer, down, request_data, expected):
    health = {down: SiteHealth(ready=False, connected=False, message="InterlinkPingFailed")}
    plan = placer.plan(placer.parse(request_data), health)
    assert [c.site.name for c in plan.sites] == expected
    skipped = next(e for e in plan.ruled_out if e.site.name == down)
    assert skipped.reason == "down: the connection to the site is lost (InterlinkPingFailed)"
    assert "tried first because" in plan.sites[0].reason


def test_maintenance_is_skipped(placer):
    plan = placer.plan(placer.parse({"gpus": 1}), {"leonardo": SiteHealth(maintenance=True)})
    assert plan.site_names == ("local",)
    assert [e.reason for e in plan.ruled_out if e.site.name == "leonardo"] == ["in maintenance"]


def test_excluded_site_after_a_failed_attempt(placer):
    plan = placer.plan(
        placer.parse({"gpus": 1}), exclude={"leonardo": "not admitted within 10 min"}
    )
    assert plan.site_names == ("local",)
    assert any(e.reason == "not admitted within 10 min" for e in plan.ruled_out)


def test_plan_json_shape(placer):
    data = placer.plan(placer.parse({"gpus": 1})).to_dict()
    assert data["requires_gpu"] is True
    assert data["offloadable"] is True
    assert [s["name"] for s in data["sites"]] == ["leonardo", "local"]
    assert set(data["sites"][0]) == {"name", "reason"}
    assert data["ruled_out"] == [{"name": "tier1", "reason": "has no GPUs"}]


def test_explain_lists_sites_in_order(placer):
    text = placer.plan(placer.parse({"cpu": 1})).explain()
    assert text.index("CNAF Tier-1") < text.index("Local resources")
    assert "offloadable: needs no shared volume and no inbound network" in text
