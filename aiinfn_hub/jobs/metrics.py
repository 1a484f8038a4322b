"""The jobs service's metrics (``GET /metrics``): what they count, in the Prometheus text
format. They count every user's jobs, so only admins and metrics readers may read them
(:mod:`.auth`)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .manager import JobsManager

#: Each metric: name, type, help, the label it is split by, and the key of its values.
METRICS = (
    ("aiinfn_jobs", "gauge", "Jobs by state.", "state", "by_state"),
    ("aiinfn_job_events_total", "counter", "Submissions, fallbacks and endings.", "event",
     "counters"),
    ("aiinfn_kube_requests_total", "counter", "Kubernetes API requests by the jobs service.",
     "request", "kube_requests"),
    ("aiinfn_site_usable", "gauge", "Whether a site takes jobs now (1) or is skipped (0).",
     "site", "health"),
)  # fmt: skip


def prometheus(data: dict[str, Any]) -> str:
    """The manager's metrics in the Prometheus text format."""
    lines = []
    for name, kind, text, label, key in METRICS:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [f'{name}{{{label}="{k}"}} {int(v)}' for k, v in sorted(data[key].items())]
    return "\n".join(lines) + "\n"


def collect(manager: JobsManager) -> dict[str, Any]:
    """Jobs by state, the manager's counters, Kubernetes requests and site usability."""
    by_state: dict[str, int] = defaultdict(int)
    for tracked in manager.jobs.values():
        if tracked.state:  # its view has been built (a resting job's is not parsed)
            by_state[tracked.state] += 1
    return {
        "by_state": dict(by_state),
        "counters": dict(manager.counters),
        "kube_requests": dict(manager.kube.requests),
        "health": {name: h.usable for name, h in manager.health.items()},
    }
