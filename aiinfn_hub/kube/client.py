"""A thin, retrying layer over ``kubernetes_asyncio`` that speaks plain JSON dicts.

Every call goes over HTTP through the typed client with ``_preload_content=False``; bodies
stay dicts (no model round trips). Transient failures (connection errors, 429 and 5xx) are
retried with exponential backoff; everything else raises :class:`KubeError` with the
API server's own reason and message. Retrying is safe for every call the service makes:
creates use deterministic names (a repeat answers 409 and returns the existing object),
patches are merge patches that set values, deletes accept 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config

from .. import __version__

log = logging.getLogger(__name__)

#: How the jobs service names itself to the API server (its audit log, API priority and
#: fairness), as Kubernetes' own controllers do.
USER_AGENT = f"aiinfn-hub-jobs/{__version__}"

MERGE_PATCH = "application/merge-patch+json"
RETRIABLE = frozenset({429, 500, 502, 503, 504})


class KubeError(Exception):
    """An error answer from the API server, or no answer at all (``status`` 0)."""

    def __init__(self, status: int, reason: str, message: str, *, starting: bool = False) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        #: Refused (401 or 403) by an API server that says it is not ready yet: a restarted
        #: kube-apiserver answers before its RBAC and token caches are filled.
        self.starting = starting
        super().__init__(f"{status} {reason}: {message}")

    @classmethod
    def from_body(cls, status: int, body: bytes) -> KubeError:
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(
            status,
            data.get("reason") or "Error",
            data.get("message") or body[:200].decode(errors="replace"),
        )

    @property
    def transient(self) -> bool:
        """Worth retrying later: no answer, a conflict, throttling, a server error, or a
        refusal from an API server that is still starting."""
        return self.status in (0, 409) or self.status in RETRIABLE or self.starting

    def plain(self) -> str:
        """The error in words for a user."""
        if self.status == 0:
            return f"the Kubernetes API server cannot be reached ({self.message})"
        if self.status in RETRIABLE or self.starting:
            return f"the Kubernetes API server is failing ({self.status} {self.reason})"
        if self.status == 403:
            return f"the jobs service is not allowed to do this in Kubernetes ({self.message})"
        return f"Kubernetes refused the request: {self.message}"


@dataclass
class Contact:
    """Whether the API server answers: when it last did, and since when it has not.

    Every request and watch reports here; an answer of any status counts (a 403 comes from a
    server that is up), no answer or a 5xx does not. No request is made for it.
    """

    answered_at: float | None = None  # time.monotonic() of the last answer
    failing_since: float | None = None  # first failure after the last answer
    last_failure: KubeError | None = None  # the latest, while failing

    def answered(self) -> None:
        self.answered_at = time.monotonic()
        self.failing_since = None
        self.last_failure = None

    def failed(self, error: KubeError) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_failure = error

    def failing_for(self) -> float:
        """Seconds the API server has failed to answer (0 while it answers)."""
        if self.failing_since is None:
            return 0.0
        return time.monotonic() - self.failing_since


class Kube:
    """The API calls the jobs service makes, in one namespace, with retries and a request count."""

    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        retries: int = 6,
        backoff: float = 0.05,
    ) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.retries = retries
        self.backoff = backoff
        self.requests: Counter[str] = Counter()
        #: Transient failures (no answer, 429, 5xx) seen, each retried or reported.
        self.failures: Counter[str] = Counter()
        self.contact = Contact()

    async def call(
        self,
        label: str,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        tries: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Call ``fn`` and return its JSON body; retries transient failures (``tries``
        attempts in all, else the client's ``retries``)."""
        delay = self.backoff
        tries = tries or self.retries
        for attempt in range(tries):
            self.requests[label] += 1
            try:
                response = await fn(*args, _preload_content=False, **kwargs)
                body: bytes = await response.read()
                status = response.status
                response.release()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                error = KubeError(0, "Unreachable", str(exc) or type(exc).__name__)
            else:
                if 200 <= status < 300:
                    self.contact.answered()
                    return json.loads(body) if body else {}
                error = KubeError.from_body(status, body)
                if status in (401, 403) and not await self.ready():
                    error.starting = True
                elif status not in RETRIABLE:
                    self.contact.answered()
                    raise error
            self.contact.failed(error)
            self.failures[label] += 1
            if attempt + 1 == tries:
                raise error
            log.info("retrying %s after %s", label, error)
            await asyncio.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    async def ready(self) -> bool:
        """Whether the API server says it is ready (``GET /readyz``, which every account may
        read). A refusal is only believed from a ready server: one that has just restarted
        refuses everything until its RBAC caches are filled, while its readyz says so."""
        self.requests["readyz"] += 1
        try:
            response = await self.api_client.call_api(
                "/readyz",
                "GET",
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=10,
            )
            status: int = response.status
            response.release()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False
        return status == 200

    async def get_path(
        self, label: str, path: str, *, tries: int = 1, **query: Any
    ) -> dict[str, Any]:
        """GET a path no typed API of the client covers (an aggregated API server's, such as
        Kueue's visibility API); by default once, since a caller has a fallback."""
        return await self.call(label, self._get_path, path, query, tries=tries)

    async def _get_path(self, path: str, query: dict[str, Any], **kwargs: Any) -> Any:
        return await self.api_client.call_api(
            path, "GET", query_params=list(query.items()), auth_settings=["BearerToken"], **kwargs
        )

    async def create(self, kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create; if the name exists, return the existing object (idempotent) and False."""
        name = body["metadata"]["name"]
        try:
            created = await self.call(
                f"create {kind}", self._fn(kind, "create"), self.namespace, body
            )
        except KubeError as exc:
            if exc.status != 409:
                raise
            return await self.get(kind, name), False
        return created, True

    async def get(self, kind: str, name: str) -> dict[str, Any]:
        return await self.call(f"get {kind}", self._fn(kind, "read"), name, self.namespace)

    async def list(self, kind: str, label_selector: str) -> dict[str, Any]:
        """The objects of ``kind`` in the namespace that ``label_selector`` selects."""
        return await self.call(
            f"list {kind}", self._fn(kind, "list"), self.namespace, label_selector=label_selector
        )

    async def patch(self, kind: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386), which every API server accepts for every kind."""
        return await self.call(
            f"patch {kind}",
            self._fn(kind, "patch"),
            name,
            self.namespace,
            patch,
            _content_type=MERGE_PATCH,
        )

    async def delete(self, kind: str, name: str) -> None:
        """Delete with background propagation; a missing object is fine (idempotent)."""
        try:
            await self.call(
                f"delete {kind}",
                self._fn(kind, "delete"),
                name,
                self.namespace,
                body={"propagationPolicy": "Background"},
            )
        except KubeError as exc:
            if exc.status != 404:
                raise

    async def pod_log(self, name: str) -> str:
        self.requests["log pod"] += 1
        try:
            response = await self.core.read_namespaced_pod_log(
                name, self.namespace, _preload_content=False
            )
            body: bytes = await response.read()
            status = response.status
            response.release()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = KubeError(0, "Unreachable", str(exc) or type(exc).__name__)
            self.contact.failed(error)
            raise error from None
        if status == 200:
            self.contact.answered()
            return body.decode(errors="replace")
        error = KubeError.from_body(status, body)
        self.heard(error)
        raise error

    def heard(self, error: KubeError) -> None:
        """An error answer arrived: the API server is up unless it says it is failing."""
        if error.status in RETRIABLE:
            self.contact.failed(error)
        else:
            self.contact.answered()

    @property
    def host(self) -> str:
        """The API server's URL, for messages."""
        host: str = self.api_client.configuration.host
        return host

    def _fn(self, kind: str, verb: str) -> Callable[..., Awaitable[Any]]:
        api = self.batch if kind == "job" else self.core
        plural = {
            "job": "job",
            "configmap": "config_map",
            "pod": "pod",
            "pvc": "persistent_volume_claim",
        }[kind]
        fn: Callable[..., Awaitable[Any]] = getattr(api, f"{verb}_namespaced_{plural}")
        return fn

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


async def kube_client(
    kubeconfig: str | None = None, host: str | None = None, user_agent: str = USER_AGENT
) -> client.ApiClient:
    """An API client from in-cluster credentials, else the kubeconfig (``KUBECONFIG``), that
    names itself ``user_agent``."""
    configuration = client.Configuration()
    try:
        if kubeconfig:
            raise config.ConfigException("explicit kubeconfig")
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if path and not os.path.isfile(os.path.expanduser(path)):
            # kubernetes_asyncio would say "Expected key current-context in kube-config"
            raise config.ConfigException(f"kubeconfig {path}: no such file") from None
        await config.load_kube_config(config_file=path, client_configuration=configuration)
    if host:
        configuration.host = host
    api = client.ApiClient(configuration)
    api.user_agent = user_agent
    return api
