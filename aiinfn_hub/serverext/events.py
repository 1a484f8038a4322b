"""The job-status event schema on the Jupyter Server event bus."""

SCHEMA_ID = "https://aiinfn.infn.it/schemas/aiinfn-hub/job-status/v1"

SCHEMA = {
    "$id": SCHEMA_ID,
    "version": "1",
    "title": "aiinfn-hub job status",
    "description": "A background job changed: its state, site or attempts. "
    "`job` is the whole job view, as GET /aiinfn-hub/api/jobs/{id} returns it.",
    "type": "object",
    "required": ["type", "job"],
    "properties": {
        "type": {"type": "string", "title": "kind of change", "description": "Always `job`."},
        "job": {"type": "object", "title": "job", "description": "The job view."},
        "time": {"type": "string", "title": "time", "description": "When it changed (UTC)."},
    },
}
