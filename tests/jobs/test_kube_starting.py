"""A refusal from a restarting API server is retried, one from a ready server is not.

A kube-apiserver that has just restarted serves requests before its RBAC caches are filled:
for a few seconds it answers 403 "RBAC: clusterrole ... not found" to every request of an
account that is in fact allowed, while its ``/readyz`` says it is not ready. Seen on the real
control plane (tests/cluster/test_chaos.py): a job whose attempt was created in that window
was failed as forbidden. Here an API server over HTTP that behaves that way, for the client
the jobs service uses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from kubernetes_asyncio import client
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from aiinfn_hub.kube.client import Kube, KubeError

FORBIDDEN = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "reason": "Forbidden",
    "code": 403,
    "message": 'jobs.batch is forbidden: User "system:serviceaccount:jhub:hub" cannot create '
    'resource "jobs" in API group "batch" in the namespace "jhub": RBAC: clusterrole.rbac.'
    'authorization.k8s.io "aiinfn-hub-jhub" not found',
}


@dataclass
class Restarting:
    """Not ready for its first ``refusals`` answers, then ready; a ready server still
    refuses when ``forbidden``."""

    refusals: int
    forbidden: bool = False
    seen: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.seen.count("create") > self.refusals


class ReadyHandler(web.RequestHandler):
    def get(self) -> None:
        server: Restarting = self.settings["server"]
        server.seen.append("readyz")
        self.set_status(200 if server.ready else 500)
        self.finish("ok" if server.ready else "[-]informer-sync failed\nreadyz check failed")


class JobsHandler(web.RequestHandler):
    def post(self, namespace: str) -> None:
        server: Restarting = self.settings["server"]
        server.seen.append("create")
        self.set_header("Content-Type", "application/json")
        if server.forbidden or not server.ready:
            self.set_status(403)
            self.finish(json.dumps(FORBIDDEN))
            return
        self.set_status(201)
        self.finish(
            json.dumps({"kind": "Job", "metadata": json.loads(self.request.body)["metadata"]})
        )


@pytest.fixture
async def kube(request) -> AsyncIterator[tuple[Kube, Restarting]]:
    server = Restarting(**request.param)
    app = web.Application(
        [(r"/readyz", ReadyHandler), (r"/apis/batch/v1/namespaces/([^/]+)/jobs", JobsHandler)],
        server=server,
    )
    sock, port = bind_unused_port()
    http = HTTPServer(app)
    http.add_sockets([sock])
    configuration = client.Configuration(host=f"http://127.0.0.1:{port}")
    api = client.ApiClient(configuration)
    try:
        yield Kube(api, "jhub", retries=6, backoff=0.01), server
    finally:
        await api.close()
        http.stop()


JOB = {"metadata": {"name": "aiinfn-0a1b2c3d4e-1"}, "spec": {}}


@pytest.mark.parametrize("kube", [{"refusals": 2}], indirect=True)
async def test_a_refusal_while_the_api_server_is_not_ready_is_retried(kube) -> None:
    api, server = kube
    created, new = await api.create("job", JOB)
    assert new and created["metadata"]["name"] == "aiinfn-0a1b2c3d4e-1"
    assert server.seen == ["create", "readyz", "create", "readyz", "create"]


@pytest.mark.parametrize("kube", [{"refusals": 100}], indirect=True)
async def test_a_refusal_while_never_ready_is_reported_as_transient(kube) -> None:
    api, server = kube
    with pytest.raises(KubeError) as info:
        await api.create("job", JOB)
    assert info.value.status == 403 and info.value.transient
    assert info.value.plain() == "the Kubernetes API server is failing (403 Forbidden)"
    assert server.seen.count("create") == 6, "retried as often as any transient failure"


@pytest.mark.parametrize("kube", [{"refusals": 0, "forbidden": True}], indirect=True)
async def test_a_refusal_from_a_ready_api_server_is_believed_at_once(kube) -> None:
    api, server = kube
    with pytest.raises(KubeError) as info:
        await api.create("job", JOB)
    assert info.value.status == 403 and not info.value.transient
    assert info.value.plain().startswith(
        "the jobs service is not allowed to do this in Kubernetes (jobs.batch is forbidden"
    )
    assert server.seen == ["create", "readyz"]
