"""The event schema of background jobs on the Jupyter Server event bus.

A browser subscribes with JupyterLab's ``app.serviceManager.events.stream`` (the websocket
``/api/events/subscribe``, whose messages carry the data below plus ``schema_id``) and keeps
those whose ``schema_id`` is :data:`SCHEMA_ID`:

- ``type: "job"``: a job changed (state, site, attempts or progress); ``job`` is the whole
  view, as ``GET /aiinfn-hub/api/jobs/{id}`` returns it.
- ``type: "notebook"``: the executed notebook of an ended job was saved at ``path``.
"""

from __future__ import annotations

import time
from typing import Any

SCHEMA_ID = "https://aiinfn.infn.it/schemas/aiinfn-hub/job-status/v1"

SCHEMA: dict[str, Any] = {
    "$id": SCHEMA_ID,
    "version": "1",
    "title": "aiinfn-hub background job",
    "description": "A background job changed, or its executed notebook came back.",
    "type": "object",
    "required": ["type", "job_id", "state", "job", "time"],
    "properties": {
        "type": {
            "enum": ["job", "notebook"],
            "title": "kind of event",
            "description": "`job`: the job changed; `notebook`: its executed notebook was saved.",
        },
        "job_id": {"type": "string", "title": "job id", "description": "The job's id."},
        "state": {
            "type": "string",
            "title": "state",
            "description": "queued, admitted, running, falling_back, succeeded, failed or "
            "cancelled.",
        },
        "site": {
            "type": ["string", "null"],
            "title": "site",
            "description": "The site of the current attempt, if any.",
        },
        "job": {"type": "object", "title": "job", "description": "The job's whole view."},
        "path": {
            "type": "string",
            "title": "executed notebook",
            "description": "For `notebook` events: where the executed notebook was saved, "
            "relative to the server's root.",
        },
        "time": {"type": "string", "title": "time", "description": "When (UTC, ISO 8601)."},
    },
}


def job_event(job: dict[str, Any], kind: str = "job", **extra: Any) -> dict[str, Any]:
    """The event bus payload for ``job``."""
    return {
        "type": kind,
        "job_id": job["id"],
        "state": job["state"],
        "site": job.get("site"),
        "job": job,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
