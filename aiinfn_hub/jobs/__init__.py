"""Background jobs.

For users, the Python API: ``from aiinfn_hub import jobs``, then ``jobs.submit``, ``jobs.get``,
``jobs.list``, ``jobs.logs``, ``jobs.cancel``, ``jobs.wait``, ``jobs.rerun``, ``jobs.plan``,
``jobs.sites`` and ``jobs.why`` (why a job waits or failed, in one sentence). The submodules
hold the hub-side jobs service: the job model, REST API, Kubernetes backend and fallback
controller.
"""

from .client import (
    JobsClientError,
    cancel,
    connect,
    get,
    list,
    log_chunks,
    logs,
    plan,
    rerun,
    sites,
    submit,
    wait,
    why,
)

__all__ = [
    "JobsClientError",
    "cancel",
    "connect",
    "get",
    "list",
    "log_chunks",
    "logs",
    "plan",
    "rerun",
    "sites",
    "submit",
    "wait",
    "why",
]
