"""The cluster's nodes as processes: a node agent per local node, and per interLink site a
virtual kubelet in front of a plugin that behaves like the site's batch system."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass

import yaml

from ..sandbox.process import free_port
from ..sandbox.topology import NodeSpec, SiteSpec
from .controlplane import ControlPlane
from .kubeapi import KubeApi
from .supervisor import Component

#: How often a virtual kubelet pings its plugin and asks for its pods' states (interLink's
#: defaults are 30 s and 5 s; shorter here so that tests see a site go down within seconds).
PING_INTERVAL = "2s"
STATUS_INTERVAL = "1s"


def _node_ready(api: KubeApi, name: str) -> bool:
    node = api.request("GET", f"/api/v1/nodes/{name}")
    conditions = (node.get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def node_agent(plane: ControlPlane, site: SiteSpec, node: NodeSpec, index: int) -> Component:
    """A local node: the sandbox's kubelet as ``system:node:<name>``; ``index`` (0, 1, ...
    over the local nodes) gives it pod addresses of its own."""
    client = plane.certs.client(f"node-{node.name}", f"system:node:{node.name}", ("system:nodes",))
    serving = plane.certs.serving(f"kubelet-{node.name}", ("127.0.0.1", "localhost", node.name))
    folder = plane.state / "nodes"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "server": plane.server,
        "ca": str(plane.certs.ca.pair.cert),
        "cert": str(client.cert),
        "key": str(client.key),
        "site": site.name,
        "node": {k: v for k, v in asdict(node).items()},
        "kubelet_port": free_port(),
        "serving_cert": str(serving.cert),
        "serving_key": str(serving.key),
        "state_dir": str(folder / node.name),
        "claims_dir": str(plane.state / "claims"),
        "address_block": index,
    }
    path = folder / f"{node.name}.json"
    path.write_text(json.dumps(config, indent=1))
    api = plane.admin()
    return Component(
        f"node-{node.name}",
        [sys.executable, "-m", "aiinfn_hub.cluster.nodeagent", str(path)],
        lambda: _node_ready(api, node.name),
    )


@dataclass(frozen=True)
class PluginPorts:
    api: int
    admin: int


def plugin(plane: ControlPlane, site: SiteSpec, node: NodeSpec) -> tuple[Component, PluginPorts]:
    """The site's batch system behind interLink's plugin API, and its ports."""
    folder = plane.state / "sites" / site.name
    folder.mkdir(parents=True, exist_ok=True)
    port, admin = free_port(), free_port()
    config = {
        "site": site.name,
        "node": node.name,
        "port": port,
        "admin_port": admin,
        "state_dir": str(folder / "jobs"),
        "job_id_prefix": site.job_id_prefix,
        "queue_delay": site.remote_queue_delay,
    }
    path = folder / "plugin.json"
    path.write_text(json.dumps(config, indent=1))

    def ready() -> bool:
        from urllib.request import urlopen

        with urlopen(f"http://127.0.0.1:{admin}/aiinfn/faults", timeout=2) as answer:
            return answer.status == 200

    component = Component(
        f"plugin-{site.name}",
        [sys.executable, "-m", "aiinfn_hub.cluster.plugin", str(path)],
        ready,
    )
    return component, PluginPorts(port, admin)


def virtual_kubelet(
    plane: ControlPlane, site: SiteSpec, node: NodeSpec, plugin_port: int
) -> Component:
    """interLink's virtual kubelet for ``node``, pointed at the site's plugin."""
    folder = plane.state / "sites" / site.name
    serving = plane.certs.serving(f"kubelet-{node.name}", ("127.0.0.1", "localhost", node.name))
    kubeconfig = plane.kubeconfig(
        f"vk-{node.name}", f"interlink-vk-{node.name}", ("system:masters",)
    )
    resources: dict = {"CPU": node.cpu, "Memory": node.memory, "Pods": str(node.pods)}
    if node.gpus:
        resources["Accelerators"] = [
            {
                "ResourceType": "nvidia.com/gpu",
                "Model": node.gpu_model or "",
                "Available": node.gpus,
            }
        ]
    config = {
        "InterlinkURL": "http://127.0.0.1",
        "InterlinkPort": str(plugin_port),
        "NodeName": node.name,
        "Resources": resources,
        "NodeLabels": [
            f"aiinfn.infn.it/site={site.name}",
            *(f"{k}={v}" for k, v in node.labels.items()),
        ],
        "KubeletAddress": "127.0.0.1",
        "KubeletPort": free_port(),
        "KubeletCert": str(serving.cert),
        "KubeletKey": str(serving.key),
        "ClientCA": str(plane.certs.ca.pair.cert),
        "PingInterval": PING_INTERVAL,
        "StatusInterval": STATUS_INTERVAL,
    }
    path = folder / "virtual-kubelet.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    api = plane.admin()
    return Component(
        f"vk-{node.name}",
        [str(plane.cache.binary("interlink-vk")), f"--config={path}", f"--kubeconfig={kubeconfig}"],
        lambda: _node_ready(api, node.name),
    )
