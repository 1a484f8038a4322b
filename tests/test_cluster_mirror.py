"""The node agent's mirror fetches a pod's ConfigMap again until the API server gives it.

kube-apiserver's Node authorizer refuses a node the ConfigMaps of a pod just bound to it
("no relationship found between node ... and this object") until its graph has the binding,
and a restarting API server refuses or does not answer for a while. A kubelet keeps trying;
the mirror gave up after one refusal, and a job's pod waited for its ConfigMap forever
(seen on the real control plane, tests/cluster/test_chaos.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiinfn_hub.cluster.aiokube import KubeRefused
from aiinfn_hub.cluster.mirror import PodMirror
from aiinfn_hub.sandbox.api import Api
from aiinfn_hub.sandbox.registry import Registry
from aiinfn_hub.sandbox.store import Store
from aiinfn_hub.sandbox.testing import wait_until

NODE = "dgx-01.lab.infn.it"
RECORD = "/api/v1/namespaces/jhub/configmaps/aiinfn-5d9afcedea"
NO_RELATIONSHIP = (
    f'configmaps "aiinfn-5d9afcedea" is forbidden: User "system:node:{NODE}" cannot get '
    f'resource "configmaps" in API group "" in the namespace "jhub": no relationship '
    f"found between node '{NODE}' and this object"
)


def pod(uid: str = "u1") -> dict[str, Any]:
    return {
        "metadata": {"name": "aiinfn-5d9afcedea-1-x7k2p", "namespace": "jhub", "uid": uid},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "job", "image": "python:3.11"}],
            "volumes": [{"name": "staged", "configMap": {"name": "aiinfn-5d9afcedea"}}],
        },
    }


class RefusingServer:
    """Lists one pod bound to the node; refuses its ConfigMap ``refusals`` times (403, then
    no answer), then serves it."""

    def __init__(self, refusals: int, pods: list[dict[str, Any]]) -> None:
        self.refusals = refusals
        self.pods = pods
        self.gets: Counter[str] = Counter()

    async def list_and_watch(self, path: str, query: dict[str, str]):
        yield "SYNC", {"items": self.pods}
        await asyncio.Event().wait()

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self.gets[path] += 1
        if path == RECORD and self.gets[path] <= self.refusals:
            if self.gets[path] % 2:
                raise KubeRefused(403, NO_RELATIONSHIP)
            raise KubeRefused(0, "Cannot connect to host 127.0.0.1:6443")
        return {"metadata": {"name": "aiinfn-5d9afcedea", "namespace": "jhub"}, "data": {}}


async def test_a_refused_configmap_is_fetched_again_until_it_comes() -> None:
    api = Api(Store(), Registry())
    server = RefusingServer(refusals=4, pods=[pod()])
    mirror = PodMirror(server, api, NODE)  # type: ignore[arg-type]
    mirror.start()
    try:
        configmaps = api.registry.get("configmaps")
        await wait_until(
            lambda: api.store.get(configmaps, "jhub", "aiinfn-5d9afcedea") is not None,
            10,
            0.02,
            "the pod's ConfigMap in the node's store",
        )
        assert server.gets[RECORD] == 5
        assert api.store.get(api.registry.get("pods"), "jhub", pod()["metadata"]["name"])
        await asyncio.sleep(0.3)
        assert server.gets[RECORD] == 5, "fetched again after it came"
    finally:
        await mirror.stop()


async def test_a_pod_gone_from_the_node_is_not_fetched_for_any_more() -> None:
    api = Api(Store(), Registry())
    server = RefusingServer(refusals=10**6, pods=[pod()])
    mirror = PodMirror(server, api, NODE)  # type: ignore[arg-type]
    mirror.start()
    try:
        await wait_until(lambda: server.gets[RECORD] >= 3, 10, 0.02, "fetched again")
        mirror._forget("jhub", pod()["metadata"]["name"])
        await asyncio.sleep(0.5)  # a retry in flight may still finish
        seen = server.gets[RECORD]
        await asyncio.sleep(1.0)
        assert server.gets[RECORD] == seen, "still fetching for a pod the node let go"
        assert not mirror._refetch
    finally:
        await mirror.stop()
