"""Background jobs.

For users, the Python API: ``from aiinfn_hub import jobs``, then ``jobs.submit``, ``jobs.get``,
``jobs.list``, ``jobs.logs``, ``jobs.cancel``, ``jobs.wait``, ``jobs.rerun``, ``jobs.plan``
and ``jobs.sites``. The submodules hold the hub-side jobs service: the job model, REST API,
Kubernetes backend and fallback controller.
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
]
