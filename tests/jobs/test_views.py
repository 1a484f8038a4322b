"""The one-line fallback summary and the job view."""

from aiinfn_hub.jobs.model import State
from aiinfn_hub.jobs.views import build_view, fallback_summary
from aiinfn_hub.placement import Placer

LOCAL = Placer().sites["local"]


def test_fallback_summary():
    history = [
        {
            "site_display": "CINECA Leonardo",
            "reason": "not admitted within 10m (quota)",
            "outcome": "fell_back",
        }
    ]
    assert fallback_summary(history, "Local resources") == (
        "CINECA Leonardo: not admitted within 10m, now on Local resources"
    )
    assert fallback_summary([], "Local resources") == ""


def test_view_of_a_running_job():
    view = build_view(
        "abc",
        "alice",
        spec={"name": "t", "completions": 3},
        plan={"sites": []},
        submitted="2026-01-01T00:00:00Z",
        history=[],
        state=State.RUNNING,
        current={"number": 1, "site": "local", "started": "s", "ended": None},
        site=LOCAL,
        job={"status": {"succeeded": 1, "active": 2}},
        reason="",
    )
    assert view["state"] == "running"
    assert view["reason"] == "running at Local resources"
    assert view["progress"] == {"completions": 3, "succeeded": 1, "failed": 0, "active": 2}
    assert view["ended"] is None
    assert view["started"] == "s"
