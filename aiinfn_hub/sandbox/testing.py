"""Helpers for code that tests against the sandbox (or a real cluster): a client from a
kubeconfig, and waiting on a condition with a deadline instead of sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config import kube_config

T = TypeVar("T")


async def kube_client(kubeconfig: str | Path) -> client.ApiClient:
    """A kubernetes_asyncio ApiClient for the kubeconfig's current context."""
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


async def wait_until(
    probe: Callable[[], T | Awaitable[T]],
    timeout: float = 60.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; TimeoutError after ``timeout`` s.

    The default deadline is generous (a shared two-core machine can be slow); a condition that
    holds costs no more than its own time, so only a failing test waits it out."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
        await asyncio.sleep(interval)


@contextlib.contextmanager
def default_kubeconfig(path: str | Path) -> Iterator[None]:
    """Make ``path`` the kubeconfig that clients in this process load by default.

    kubernetes_asyncio reads ``KUBECONFIG`` once, when it is imported; clients that load the
    default kubeconfig later (KubeSpawner does) need its copy changed as well as the variable.
    """
    previous = os.environ.get("KUBECONFIG")
    previous_default = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    os.environ["KUBECONFIG"] = kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(path)
    try:
        yield
    finally:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous_default
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
