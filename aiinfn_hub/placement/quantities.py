"""Parsing and formatting of Kubernetes-style quantities and durations.

Accepted forms are the ones users already know: CPU and memory as Kubernetes quantities (CPU
as ``2`` or ``500m``; memory as ``8Gi``, ``512Mi``, ``4G`` or plain bytes), read by the one
parser of :mod:`aiinfn_hub.kube.quantity`; walltime as ``90s``, ``30m``, ``2h``, ``1d``,
``1h30m`` or ``HH:MM:SS`` (Slurm's form). Errors are :class:`RequestError` naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..kube.quantity import QuantityError, format_quantity, parse_quantity, whole_units
from .errors import RequestError

_DURATION_PART_RE = re.compile(r"(\d+)([dhms])")
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_CLOCK_RE = re.compile(r"^(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})$")

MEMORY_FORM = "a size such as 8Gi, 512Mi, 4G or a number of bytes"
CPU_FORM = "a number of cores such as 2 or 0.5, or millicores such as 500m"
WALLTIME_FORM = "a duration such as 90s, 30m, 2h, 1d, 1h30m or HH:MM:SS"


def _quantity(value: object, field: str, form: str) -> Decimal:
    """A positive Kubernetes quantity; raises :class:`RequestError` naming ``field``."""
    try:
        quantity = parse_quantity(value)
    except QuantityError:
        raise RequestError(f"expected {form}, got {value!r}", field) from None
    if quantity <= 0:
        raise RequestError(f"must be more than zero, got {value!r}", field)
    return quantity


def parse_memory(value: object, field: str = "memory") -> int:
    """Bytes from ``8Gi``-style text or a number (a fraction of a byte rounds up, as in
    Kubernetes); raises :class:`RequestError`."""
    return whole_units(_quantity(value, field, MEMORY_FORM))


def parse_cpu(value: object, field: str = "cpu") -> float:
    """Cores from ``2``, ``0.5`` or ``500m``; raises :class:`RequestError`."""
    return float(_quantity(value, field, CPU_FORM))


def parse_duration(value: object, field: str = "walltime") -> int:
    """Seconds from ``2h``, ``1h30m``, ``90`` (seconds) or ``[D-]HH:MM:SS``."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        elif match := _CLOCK_RE.match(text):
            days, hours, minutes, secs = (int(g or 0) for g in match.groups())
            seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
        elif text and _DURATION_PART_RE.sub("", text) == "":
            seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART_RE.findall(text))
    if seconds is None:
        raise RequestError(f"expected {WALLTIME_FORM}, got {value!r}", field)
    if seconds <= 0:
        raise RequestError(f"must be more than zero, got {value!r}", field)
    return seconds


def format_memory(size: int) -> str:
    """The shortest exact binary form: ``8Gi``, ``512Mi``, else bytes."""
    return format_quantity(Decimal(size), "memory")


def format_duration(seconds: int) -> str:
    """``1d``, ``2h``, ``1h30m``, ``45s``: the compact form users type."""
    parts = []
    for unit, size in _DURATION_UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_cpu(cores: float) -> str:
    """``2`` or ``500m``."""
    return format_quantity(Decimal(str(cores)), "cpu")
