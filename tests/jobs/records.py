"""Job records as a service leaves them, written directly (an old service's, a benchmark's)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.manifests import build_record
from aiinfn_hub.jobs.model import parse_spec
from aiinfn_hub.jobs.retention import DAY
from aiinfn_hub.placement import Placer

COMMAND = {"command": ["python", "-c", "print(42)"], "local_only": True}


def ended_record(
    placer: Placer, job_id: str, owner: str, days_ago: float, namespace: str = "default"
) -> dict[str, Any]:
    """The record of a command job that succeeded at the local site ``days_ago`` days ago."""
    spec = parse_spec(COMMAND, placer, 1 << 20)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days_ago * DAY))
    plan = placer.plan(spec.request, {}).to_dict()
    record = build_record(job_id, owner, spec=spec, plan=plan, namespace=namespace, now=stamp)
    attempt = {
        "number": 1,
        "site": "local",
        "site_display": placer.sites["local"].display_name,
        "started": stamp,
        "ended": stamp,
        "outcome": "succeeded",
        "reason": "completed",
    }
    annotations = record["metadata"]["annotations"]
    annotations[L.ATTEMPTS] = json.dumps([attempt])
    annotations[L.FINAL] = json.dumps({"state": "succeeded", "reason": "completed", "attempt": 1})
    return record
