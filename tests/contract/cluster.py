"""The cluster under test: a kubernetes_asyncio client, a namespace, and raw HTTP for what the
typed client cannot express (trailing slashes, content types, watch streams as sent)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import aiohttp
from kubernetes_asyncio import client

from aiinfn_hub.cluster.cluster import ClusterState
from aiinfn_hub.sandbox import SandboxProcess

IMAGE = "busybox:1.36"


@dataclass
class Response:
    status: int
    body: Any  # parsed JSON, or text when not JSON
    content_type: str


def status_of(exc: client.ApiException) -> dict[str, Any]:
    """The metav1.Status body of an error answer."""
    body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
    return json.loads(body)


def expire_real_history() -> None:
    """On the one-machine real stack: compact etcd to its current revision, through etcd's own
    JSON gateway (what kube-apiserver does every ``--etcd-compaction-interval``), then restart
    kube-apiserver, whose watch cache starts again from now. A young cluster's watch cache
    still holds its first events (resourceVersion 1 onwards), so without the restart a watch
    from there is served, not 410 Gone as on any cluster that has run a while."""
    state_dir = os.environ["AIINFN_CLUSTER_STATE_DIR"]
    compact_etcd(Path(state_dir))
    command = [sys.executable, "-m", "aiinfn_hub", "cluster", "fault", "apiserver-stop"]
    subprocess.run([*command, "--seconds", "1", "--state-dir", state_dir], check=True, timeout=60)


def compact_etcd(state_dir: Path) -> None:
    """Compact the real stack's etcd to its current revision."""
    state = ClusterState.read(state_dir)
    assert state is not None, "the real control plane's state.json"
    base = f"http://127.0.0.1:{state.ports['etcd']}/v3/kv"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = Request(f"{base}/{path}", json.dumps(body).encode(), method="POST")
        with urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    revision = int(post("range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
    post("compaction", {"revision": str(revision), "physical": True})


class Cluster:
    """One test's view of the cluster: ``api``, its own ``namespace``, and helpers."""

    def __init__(self, api: client.ApiClient, namespace: str, sandbox: SandboxProcess | None):
        self.api = api
        self.namespace = namespace
        self.sandbox = sandbox
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    async def raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> Response:
        """One request as sent, whatever the status; the body parsed as JSON when it is."""
        response = await self._open(method, path, body, content_type, query, accept)
        try:
            text = await response.text()
        finally:
            response.release()
        kind = response.headers.get("Content-Type", "")
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = text
        return Response(response.status, parsed, kind)

    async def _open(self, method, path, body, content_type, query, accept):
        if body is not None and "json" not in content_type and not isinstance(body, bytes):
            body = json.dumps(body).encode()  # the client serializes only JSON types itself
        return await self.api.call_api(
            path,
            method,
            query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": accept},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )

    async def watch_events(
        self, path: str, query: dict[str, Any], until: Any = None, timeout: float = 60
    ) -> tuple[int, list[dict]]:
        """Read a watch stream until it ends, or until ``until(events)`` is true."""
        query = {"watch": "true", **query}
        response = await self._open("GET", path, None, "application/json", query, "*/*")
        events: list[dict] = []
        try:

            async def read() -> None:
                while line := await response.content.readline():
                    if line.strip():
                        events.append(json.loads(line))
                        if until is not None and until(events):
                            return

            await asyncio.wait_for(read(), timeout)
        finally:
            response.close()
        return response.status, events

    def pod(self, name: str, command: str, **spec: Any) -> dict[str, Any]:
        """A pod running ``sh -c command`` in busybox (the host's sh on the sandbox)."""
        container = {"name": "main", "image": IMAGE, "command": ["sh", "-c", command]}
        container.update(spec.pop("container", {}))
        metadata = {"name": name, **spec.pop("metadata", {})}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 2,
                "containers": [container],
                **spec,
            },
        }

    def job(self, name: str, command: str, **spec: Any) -> dict[str, Any]:
        labels = spec.pop("labels", {})
        pod_spec = self.pod("x", command)["spec"]
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": labels},
            "spec": {"template": {"spec": pod_spec}, **spec},
        }

    async def configmap(self, name: str, labels: dict | None = None, **data: str) -> Any:
        body = {"metadata": {"name": name, "labels": labels or {}}, "data": data}
        return await self.core.create_namespaced_config_map(self.namespace, body)

    async def expire_history(self) -> None:
        """Make resourceVersions older than now unusable for watches and continue tokens.

        The sandbox compacts its event log as etcd compaction would; a real cluster's watch
        cache never reaches back to resourceVersion 1, which the tests use there."""
        if self.sandbox is not None:
            self.sandbox.compact()
        elif os.environ.get("AIINFN_CLUSTER_STATE_DIR"):
            await asyncio.to_thread(expire_real_history)
            await self._api_back()

    async def _api_back(self) -> None:
        """Wait until the API server stopped by :func:`expire_real_history` has gone down
        and answers again."""

        async def answers() -> bool:
            try:
                await self.core.list_namespace(limit=1, _request_timeout=5)
                return True
            except (client.ApiException, OSError, aiohttp.ClientError, asyncio.TimeoutError):
                return False

        for expected, what in ((False, "stop"), (True, "come back")):
            for _ in range(240):
                if await answers() is expected:
                    break
                await asyncio.sleep(0.25)
            else:
                raise TimeoutError(f"kube-apiserver did not {what} for its restart")
        # until its watch cache serves ConfigMaps again (the watches of the tests after this
        # one read bookmarks, which only the cache sends), watches go to etcd
        path = f"/api/v1/namespaces/{self.namespace}/configmaps"
        for _ in range(30):
            now = (await self.core.list_namespaced_config_map(self.namespace)).metadata
            query = {"resourceVersion": now.resource_version, "timeoutSeconds": 3}
            _, events = await self.watch_events(
                path,
                {**query, "allowWatchBookmarks": "true"},
                until=lambda ev: any(e["type"] == "BOOKMARK" for e in ev),
            )
            if any(e["type"] == "BOOKMARK" for e in events):
                return
        raise TimeoutError("kube-apiserver's watch cache did not serve ConfigMaps again")

    async def workload_of(self, version: str, job_uid: str) -> dict[str, Any] | None:
        """The Kueue Workload of the Job ``job_uid`` (by Kueue's job-uid label), if any yet."""
        listed = await self.custom.list_namespaced_custom_object(
            "kueue.x-k8s.io",
            version,
            self.namespace,
            "workloads",
            label_selector=f"kueue.x-k8s.io/job-uid={job_uid}",
        )
        return listed["items"][0] if listed["items"] else None

    @property
    def old_resource_version(self) -> str:
        return "1"

    async def preferred_version(self, group: str) -> str | None:
        """The group's preferred version by discovery, None when the group is not served."""
        groups = await client.ApisApi(self.api).get_api_versions()
        for item in groups.groups:
            if item.name == group:
                return item.preferred_version.version
        return None
