"""A pod's effective requests and resource arithmetic, over Kubernetes quantities ("500m",
"64Gi", "2") parsed by the shared parser (:mod:`aiinfn_hub.kube.quantity`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..kube.quantity import parse_quantity

Resources = dict[str, Decimal]


def parse_resources(mapping: Mapping[str, Any] | None) -> Resources:
    return {name: parse_quantity(q) for name, q in (mapping or {}).items()}


def add(total: Resources, extra: Mapping[str, Decimal], times: int = 1) -> Resources:
    """``total`` plus ``extra`` times ``times``, as a new dict."""
    out = dict(total)
    for name, q in extra.items():
        out[name] = out.get(name, Decimal(0)) + q * times
    return out


def pod_requests(spec: Mapping[str, Any]) -> Resources:
    """What the scheduler counts for a pod: sum of containers, at least each init container."""
    total: Resources = {}
    for container in spec.get("containers") or []:
        total = add(total, _container_requests(container))
    for container in spec.get("initContainers") or []:
        for name, q in _container_requests(container).items():
            total[name] = max(total.get(name, Decimal(0)), q)
    return add(total, parse_resources(spec.get("overhead")))


def _container_requests(container: Mapping[str, Any]) -> Resources:
    resources = container.get("resources") or {}
    requests = parse_resources(resources.get("requests"))
    for name, q in parse_resources(resources.get("limits")).items():
        requests.setdefault(name, q)
    return requests


def shortfall(requests: Mapping[str, Decimal], free: Mapping[str, Decimal]) -> list[str]:
    """Names of the requested resources (non-zero) that ``free`` cannot cover, sorted."""
    return sorted(n for n, q in requests.items() if q > 0 and q > free.get(n, Decimal(0)))


def subtract_all(capacity: Mapping[str, Decimal], used: Iterable[Resources]) -> Resources:
    free = dict(capacity)
    for resources in used:
        for name, q in resources.items():
            free[name] = free.get(name, Decimal(0)) - q
    return free
