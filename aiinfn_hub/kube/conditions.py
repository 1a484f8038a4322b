"""Reading Kubernetes objects' status: conditions and the times Kubernetes writes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any


def now_iso() -> str:
    """UTC now in RFC 3339 with milliseconds, so jobs submitted in one second keep their order."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def parse_time(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp as Kubernetes writes them."""
    if not text:
        return None
    try:  # fromisoformat is many times faster than strptime (a restart reads every record)
        return datetime.fromisoformat(text[:19]).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def condition(obj: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any] | None:
    """The status condition of type ``kind``, if present."""
    if not obj:
        return None
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            found: Mapping[str, Any] = cond
            return found
    return None


def is_true(obj: Mapping[str, Any] | None, kind: str) -> bool:
    cond = condition(obj, kind)
    return bool(cond and cond.get("status") == "True")
