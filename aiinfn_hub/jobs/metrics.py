"""The jobs service's metrics (``GET /metrics``), collected from the manager at each scrape and
written by ``prometheus_client`` in the Prometheus text format. They count every user's jobs,
so only admins and metrics readers may read them (:mod:`.auth`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..placement.breaker import BreakerState

if TYPE_CHECKING:
    from .manager import JobsManager

#: Each metric: its family, name, help, the label it is split by, and the key of its values.
METRICS = (
    (GaugeMetricFamily, "aiinfn_jobs", "Jobs by state.", "state", "by_state"),
    (CounterMetricFamily, "aiinfn_job_events", "Submissions, fallbacks and endings.", "event",
     "counters"),
    (CounterMetricFamily, "aiinfn_kube_requests", "Kubernetes API requests by the jobs service.",
     "request", "kube_requests"),
    (GaugeMetricFamily, "aiinfn_site_usable",
     "Whether a site takes jobs now (1) or is skipped (0).", "site", "health"),
)  # fmt: skip


class ManagerCollector(Collector):
    """The manager's figures as metric families, read afresh at each scrape."""

    def __init__(self, manager: JobsManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        data = collect(self.manager)
        for family, name, text, label, key in METRICS:
            metric = family(name, text, labels=[label])
            for value, count in sorted(data[key].items()):
                metric.add_metric([value], float(count))
            yield metric
        breaker = GaugeMetricFamily(
            "aiinfn_site_breaker",
            "Each site's circuit breaker: 1 for the state it is in (closed, open, probing).",
            labels=["site", "state"],
        )
        for site, state in sorted(data["breakers"].items()):
            for each in BreakerState:
                breaker.add_metric([site, each.value], float(each.value == state))
        yield breaker


def prometheus(manager: JobsManager) -> bytes:
    """The manager's metrics in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ManagerCollector(manager))
    return generate_latest(registry)


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
        "breakers": manager.status.breakers.states(),
    }
