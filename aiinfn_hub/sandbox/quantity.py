"""Kubernetes resource quantities ("500m", "64Gi", "2") and a pod's effective requests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")

Resources = dict[str, Decimal]


def parse_quantity(value: Any) -> Decimal:
    """A quantity as a Decimal in base units (cores, bytes, devices); ValueError if malformed."""
    if isinstance(value, bool):
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:
        raise ValueError(f"quantities must match the regular expression: {value!r}") from exc
    return number * _SUFFIXES[match.group(2)]


def format_quantity(value: Decimal, resource: str = "") -> str:
    """A canonical string: whole numbers plain, CPU fractions in millicores, memory binary."""
    if value == value.to_integral_value():
        number = int(value)
        if resource == "memory" or resource.endswith("storage"):
            for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                unit = int(_SUFFIXES[suffix])
                if number and number % unit == 0:
                    return f"{number // unit}{suffix}"
        return str(number)
    millis = (value * 1000).to_integral_value()
    return f"{int(millis)}m"


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
