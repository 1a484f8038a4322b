"""Kubernetes API requests made by the hub, counted by what the hub was doing.

Each request through an instrumented ``kubernetes_asyncio`` client is counted under the current
*activity* (a context variable: ``options_form``, ``validate``, ``start``, ``stop``, ``poll``,
``watch``, ...) and its method (``GET``, ``POST``, ..., ``WATCH`` for watch streams). The counts
go to the Prometheus metric ``aiinfn_spawner_kubernetes_requests_total`` on the hub's
``/hub/metrics`` and to :data:`COUNTS` for in-process readers (tests, benchmarks). This is how
an admin checks that rendering the spawn form costs no Kubernetes request.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import Counter

ACTIVITY: contextvars.ContextVar[str] = contextvars.ContextVar(
    "aiinfn_kubernetes_activity", default="other"
)
REQUESTS = Counter(
    "aiinfn_spawner_kubernetes_requests",
    "Kubernetes API requests made by the hub process, by activity and method",
    ["activity", "method"],
)
#: (activity, method) -> requests, in this process.
COUNTS: collections.Counter[tuple[str, str]] = collections.Counter()
_MARK = "_aiinfn_counted"


@contextlib.contextmanager
def activity(name: str) -> Iterator[None]:
    """Count requests made in this context (and tasks it creates) under ``name``."""
    token = ACTIVITY.set(name)
    try:
        yield
    finally:
        ACTIVITY.reset(token)


def run_detached(name: str, start: Callable[[], Any]) -> Any:
    """Call ``start`` (which creates background tasks) in a fresh context set to ``name``.

    Tasks copy the context they are created in; long-lived watches started from, say, a form
    render must not count their requests as the form's.
    """
    context = contextvars.copy_context()
    context.run(ACTIVITY.set, name)
    return context.run(start)


def _method(method: str, query: Any) -> str:
    pairs = query.items() if isinstance(query, dict) else (query or ())
    for key, value in pairs:
        if key == "watch" and str(value).lower() in ("true", "1"):
            return "WATCH"
    return method.upper()


def instrument(api_client: Any) -> Any:
    """Count every request ``api_client`` makes (idempotent); returns the client."""
    rest = api_client.rest_client
    if getattr(rest, _MARK, False):
        return api_client
    original: Callable[..., Awaitable[Any]] = rest.request

    async def request(method: str, url: str, query_params: Any = None, *args, **kwargs):
        key = (ACTIVITY.get(), _method(method, query_params))
        COUNTS[key] += 1
        REQUESTS.labels(*key).inc()
        return await original(method, url, query_params, *args, **kwargs)

    rest.request = request
    setattr(rest, _MARK, True)
    return api_client


def total(activity_name: str, *, watches: bool = False) -> int:
    """Requests counted in this process under ``activity_name`` (watch streams optional)."""
    return sum(
        n
        for (name, method), n in COUNTS.items()
        if name == activity_name and (watches or method != "WATCH")
    )
