"""The node agent: a kubelet for one local node of the real control plane.

It registers its Node (the same object the sandbox makes for that node), renews its Lease in
``kube-node-lease`` every 10 s and reports its status, runs the pods bound to it with the
sandbox's kubelet over a mirror of the real API server (:mod:`.mirror`), and serves the
kubelet API over TLS (``/containerLogs``, ``/healthz``, and ``/exec``, ``/portForward`` over
WebSocket with the sandbox's own streaming code) for ``kubectl logs``, ``exec`` and
``port-forward`` through the real API server: its Node declares ``ExtendWebSocketsToKubelet``,
so the API server hands those WebSockets over unchanged. It acts as ``system:node:<name>``:
the Node authorizer and NodeRestriction check it as they check a kubelet.

Run: ``python -m aiinfn_hub.cluster.nodeagent CONFIG.json`` (``aiinfn-hub cluster up``
writes the file).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado import httpserver, web

from ..sandbox.api import Api
from ..sandbox.kubelet import AddressPool, Kubelet
from ..sandbox.logs import read_log
from ..sandbox.registry import Registry
from ..sandbox.store import Store
from ..sandbox.streaming import ExecHandler, KubeletFront, PortForwardHandler
from ..sandbox.topology import NodeSpec, SiteSpec, node_object
from .aiokube import MERGE_PATCH, AsyncKube, KubeRefused
from .mirror import PodMirror

log = logging.getLogger("aiinfn_hub.cluster.nodeagent")
LEASE_SECONDS = 40
RENEW_EVERY = 10.0
STATUS_EVERY = 60.0
KUBELET_VERSION = "v1.36.3"
#: What this kubelet declares (Node status.declaredFeatures): it serves exec and
#: port-forward over WebSocket itself (kube-apiserver would otherwise speak SPDY to it).
DECLARED_FEATURES = ("ExtendWebSocketsToKubelet",)


class NoFaults:
    """A local node of the real control plane has no simulated faults: its faults are real."""

    def site_is_down(self, site: str) -> bool:
        return False

    def provider_failure_message(self, site: str) -> str | None:
        return None

    def exit_code_of(self, site: str) -> int | None:
        return None


@dataclass
class AgentConfig:
    """What ``aiinfn-hub cluster up`` tells one node agent."""

    server: str
    ca: str
    cert: str
    key: str
    site: str
    node: dict[str, Any]
    kubelet_port: int
    serving_cert: str
    serving_key: str
    state_dir: str
    claims_dir: str
    address_block: int = 0  # this node's pod addresses: 127.(1 + block).x.y

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        return cls(**json.loads(path.read_text()))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeAgent:
    """One node: registration, heartbeats, the kubelet and its API."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.node_spec = NodeSpec(**config.node)
        self.site = SiteSpec(name=config.site, type="local", nodes=(self.node_spec,))
        self.name = self.node_spec.name
        self.kube = AsyncKube(
            config.server,
            Path(config.ca),
            Path(config.cert),
            Path(config.key),
            agent=f"aiinfn-hub-node-agent/{self.name}",
        )
        self.api = Api(Store(), Registry())
        state = Path(config.state_dir)
        _share_claims(state, Path(config.claims_dir))
        self.kubelet = Kubelet(
            self.api,
            [self.site],
            state,
            NoFaults(),
            api_host="127.0.0.1",
            api_port=_port(config.server),
        )
        self.kubelet.addresses = AddressPool(config.address_block)
        self.mirror = PodMirror(self.kube, self.api, self.name)
        self.streams = KubeletFront(self.api, self.kubelet)
        self.started = _now()[:19] + "Z"
        self._tasks: list[asyncio.Task] = []

    # -- the Node and its Lease --------------------------------------------------------------

    def node_object(self) -> dict[str, Any]:
        node = node_object(self.site, self.node_spec)
        status = node["status"]
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self.config.kubelet_port}}
        status["nodeInfo"]["kubeletVersion"] = KUBELET_VERSION
        # the API server then hands exec and port-forward WebSockets to us as they come
        status["declaredFeatures"] = list(DECLARED_FEATURES)
        now = _now()[:19] + "Z"
        status["conditions"] = [
            {
                "type": kind,
                "status": value,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self.started,
            }
            for kind, value, reason, message in (
                ("Ready", "True", "KubeletReady", "the node agent is posting ready status"),
                ("MemoryPressure", "False", "KubeletHasSufficientMemory", ""),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", ""),
                ("PIDPressure", "False", "KubeletHasSufficientPID", ""),
            )
        ]
        return node

    async def register(self) -> None:
        node = self.node_object()
        try:
            await self.kube.request("POST", "/api/v1/nodes", node)
        except KubeRefused as exc:
            if exc.status != 409:
                raise
            labels = {"metadata": {"labels": node["metadata"]["labels"]}}
            await self.kube.request(
                "PATCH", f"/api/v1/nodes/{self.name}", labels, content_type=MERGE_PATCH
            )
        await self.report_status()

    async def report_status(self) -> None:
        node = self.node_object()
        await self.kube.request(
            "PATCH",
            f"/api/v1/nodes/{self.name}/status",
            {"status": node["status"]},
            content_type=MERGE_PATCH,
        )

    async def renew_lease(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _now(),
        }
        try:
            await self.kube.request("PATCH", path, {"spec": spec}, content_type=MERGE_PATCH)
        except KubeRefused as exc:
            if exc.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                "spec": spec,
            }
            await self.kube.request(
                "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease
            )

    async def heartbeat(self) -> None:
        last_status = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                await self.renew_lease()
                if asyncio.get_running_loop().time() - last_status >= STATUS_EVERY:
                    await self.report_status()
                    last_status = asyncio.get_running_loop().time()
            except KubeRefused as exc:
                log.warning("node %s heartbeat: %s", self.name, exc)

    # -- the kubelet API ---------------------------------------------------------------------

    def app(self) -> web.Application:
        streams = {"front": self.streams}
        return web.Application(
            [
                (r"/healthz", HealthHandler),
                (r"/containerLogs/([^/]+)/([^/]+)/([^/]+)", LogsHandler, {"agent": self}),
                (r"/exec/([^/]+)/([^/]+)/(?:([^/]+)/)?([^/]+)", ExecHandler, streams),
                (r"/portForward/([^/]+)/([^/]+)(?:/([^/]+))?", PortForwardHandler, streams),
            ]
        )

    def tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.config.ca)
        context.load_cert_chain(self.config.serving_cert, self.config.serving_key)
        context.verify_mode = ssl.CERT_REQUIRED  # the API server's kubelet client certificate
        return context

    # -- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        server = httpserver.HTTPServer(self.app(), ssl_options=self.tls())
        server.listen(self.config.kubelet_port, "127.0.0.1")
        await self.register()
        await self.renew_lease()
        self.kubelet.start()
        self.mirror.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self.heartbeat()))
        log.info("node %s ready; kubelet API on 127.0.0.1:%s", self.name, self.config.kubelet_port)
        await stop.wait()
        server.stop()
        self.streams.close_all()
        for task in self._tasks:
            task.cancel()
        await self.mirror.stop()
        await self.kubelet.stop(grace=2.0)
        await self.kube.close()


class HealthHandler(web.RequestHandler):
    def get(self) -> None:
        self.finish("ok")


class LogsHandler(web.RequestHandler):
    """``GET /containerLogs/NS/POD/CONTAINER`` as the kubelet serves it (the API server has
    checked the caller and the options; it forwards them here)."""

    def initialize(self, agent: NodeAgent) -> None:
        self.agent = agent

    async def get(self, namespace: str, name: str, container: str) -> None:
        kubelet = self.agent.kubelet
        pod = self.agent.api.find(kubelet.pods, namespace, name)
        path = kubelet.log_path(pod, container) if pod else None
        if pod is None or path is None:
            raise web.HTTPError(404, f"container {container!r} of {namespace}/{name} has no log")
        self.set_header("Content-Type", "text/plain")

        def number(arg: str) -> int | None:
            value = self.get_query_argument(arg, None)
            return int(value) if value not in (None, "") else None

        follow = self.get_query_argument("follow", "false") in ("true", "1")
        async for chunk in read_log(
            path,
            follow=follow,
            alive=lambda: kubelet.container_running(pod, container),
            tail_lines=number("tailLines"),
            limit_bytes=number("limitBytes"),
        ):
            self.write(chunk)
            await self.flush()


def _share_claims(state: Path, claims: Path) -> None:
    """The kubelet keeps claims under its state folder; every node agent of the cluster
    links that to one folder, so a claim holds the same files on every node (as a
    ReadWriteMany volume would)."""
    state.mkdir(parents=True, exist_ok=True)
    claims.mkdir(parents=True, exist_ok=True)
    link = state / "claims"
    if not link.is_symlink():
        if link.exists():
            link.rmdir()
        link.symlink_to(claims, target_is_directory=True)


def _port(server: str) -> int:
    return int(server.rsplit(":", 1)[1].split("/")[0])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m aiinfn_hub.cluster.nodeagent CONFIG.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    agent = NodeAgent(AgentConfig.load(Path(args[0])))

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
