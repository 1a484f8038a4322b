"""The cluster under test: a kubernetes_asyncio client, a namespace, and raw HTTP for what the
typed client cannot express (trailing slashes, content types, watch streams as sent)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

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


def compact_etcd() -> None:
    """Compact the real stack's etcd to its current revision, through etcd's own JSON gateway
    (what kube-apiserver does every ``--etcd-compaction-interval``): a watch from an old
    resourceVersion then fails whether the watch cache or etcd serves it."""
    state = ClusterState.read(Path(os.environ["AIINFN_CLUSTER_STATE_DIR"]))
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
        else:
            await asyncio.to_thread(compact_etcd)

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
