"""``aiinfn-hub cluster up``: the whole real control plane on one machine, until interrupted.

Order: etcd, kube-apiserver, kube-controller-manager, kube-scheduler; Kueue's CRDs, Kueue,
its webhooks; the ``jhub`` namespace with the chart's hub account and Role, and
``helm-values/kueue.yaml`` and ``helm-values/rbac.yaml`` applied unchanged; a node agent
per local node; per interLink site its plugin and its virtual kubelet. Every process is a
child that stops with this one (and dies with it if it is killed). A small admin endpoint on
loopback takes faults (:mod:`.faults`); ``state.json`` in the state folder says what runs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..sandbox.process import free_port
from ..sandbox.topology import Topology, load_topology
from . import kueue, nodes, provisioner
from .build import Cache
from .certs import ClusterCerts
from .controlplane import ControlPlane, Ports
from .kubeapi import KubeApi, load_documents, write_token_kubeconfig
from .supervisor import Supervisor

HELM_VALUES = Path(__file__).resolve().parents[2] / "helm-values"
NAMESPACE = "jhub"


class ClusterError(Exception):
    """``cluster up`` cannot go on; one line saying what and how to fix it."""


def default_topology() -> Topology:
    return load_topology(Path(str(resources.files(__package__).joinpath("sites.yaml"))))


@dataclass
class ClusterState:
    """What ``state.json`` records of a running cluster."""

    pid: int
    server: str
    kubeconfig: str
    admin_url: str
    token: str
    ports: dict[str, int]
    plugins: dict[str, dict[str, int]] = field(default_factory=dict)
    started: float = 0.0

    @classmethod
    def read(cls, state_dir: Path) -> ClusterState | None:
        path = state_dir / "state.json"
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, state_dir: Path) -> None:
        path = state_dir / "state.json"
        path.write_text(json.dumps(asdict(self), indent=1))
        path.chmod(0o600)

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def check_free(state_dir: Path) -> None:
    """Refuse a second ``up`` on a state folder whose cluster still runs."""
    state = ClusterState.read(state_dir)
    if state is not None and state.alive:
        raise ClusterError(
            f"a cluster already runs from {state_dir} (process {state.pid}, API server "
            f"{state.server}, kubeconfig {state.kubeconfig}): use it, or stop it first "
            f"(Ctrl-C in its terminal, or kill {state.pid})"
        )


def helm_documents(name: str) -> list[dict[str, Any]]:
    path = HELM_VALUES / name
    if not path.is_file():
        raise ClusterError(f"{path} is missing: run `aiinfn-hub cluster up` from a checkout")
    return load_documents(path)


class Cluster:
    """One real control plane: its processes, its API, its faults."""

    def __init__(
        self,
        state_dir: Path,
        *,
        kubeconfig: Path | None = None,
        cache: Cache | None = None,
        topology: Topology | None = None,
        say=print,
    ) -> None:
        self.state_dir = state_dir
        self.cache = cache or Cache.for_pins()
        self.topology = topology or default_topology()
        self.kubeconfig_path = kubeconfig or state_dir / "kubeconfig"
        self.say = say
        missing = self.cache.missing()
        if missing:
            raise ClusterError(
                f"the control plane is not built ({', '.join(missing)} missing in "
                f"{self.cache.root}): run `aiinfn-hub cluster build` (or `make cluster`) first"
            )
        self.supervisor = Supervisor(state_dir / "logs")
        self.plane: ControlPlane | None = None
        self.plugins: dict[str, nodes.PluginPorts] = {}

    def _prepare(self) -> ControlPlane:
        if self.state_dir.exists() and not self.state_dir.is_dir():
            raise ClusterError(
                f"{self.state_dir} cannot be used as the state folder: it is a file; "
                "give --state-dir a folder (it is made if missing)"
            )
        check_free(self.state_dir)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClusterError(
                f"{self.state_dir} cannot be used as the state folder ({exc.strerror}); "
                "give --state-dir a folder you can write"
            ) from None
        for stale in ("etcd", "nodes", "sites", "claims", "logs", "kueue"):
            shutil.rmtree(self.state_dir / stale, ignore_errors=True)
        self.supervisor = Supervisor(self.state_dir / "logs")
        ports = Ports(**{name: free_port() for name in Ports.__dataclass_fields__})
        certs = ClusterCerts.create(self.state_dir / "certs")
        return ControlPlane(self.state_dir, self.cache, certs, ports)

    def _step(self, what: str, action) -> Any:
        started = time.monotonic()
        result = action()
        self.say(f"  {what} ({time.monotonic() - started:.1f} s)")
        return result

    def up(self) -> KubeApi:
        """Start everything; returns the admin API. On any failure, stops what started."""
        plane = self.plane = self._prepare()
        try:
            return self._start(plane)
        except BaseException:
            self.down()
            raise

    def _start(self, plane: ControlPlane) -> KubeApi:
        start = self.supervisor.start
        for component in (plane.etcd(), plane.apiserver()):
            self._step(f"{component.name} ready", lambda c=component: start(c))
        api = plane.admin()
        for component in (plane.controller_manager(), plane.scheduler()):
            self._step(f"{component.name} ready", lambda c=component: start(c))
        self._step("Kueue's CRDs established", lambda: kueue.install(plane, api))
        self._step("kueue ready", lambda: start(kueue.component(plane)))
        kueue.register_webhooks(plane, api)
        kueue.register_visibility(plane, api)
        self._step(
            "namespace jhub, helm-values/kueue.yaml and rbac.yaml applied", lambda: self._apply(api)
        )
        api.apply_all(provisioner.documents())
        self._step(
            "volume provisioner ready (default StorageClass aiinfn-local)",
            lambda: start(provisioner.component(plane)),
        )
        local = 0
        for site in self.topology.sites:
            for node in site.nodes:
                if site.virtual:
                    self._start_virtual(plane, site, node)
                else:
                    self._step(
                        f"node {node.name} Ready",
                        lambda s=site, n=node, i=local: start(nodes.node_agent(plane, s, n, i)),
                    )
                    local += 1
        self._step(
            "the hub's service account's kubeconfig written", lambda: self._hub_kubeconfig(api)
        )
        admin = plane.kubeconfig("admin", "aiinfn-admin", ("system:masters",))
        self.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig_path.resolve() != admin.resolve():
            shutil.copyfile(admin, self.kubeconfig_path)
            self.kubeconfig_path.chmod(0o600)
        return api

    @property
    def hub_kubeconfig_path(self) -> Path:
        """A kubeconfig of the hub's ServiceAccount (jhub/hub): the rights the chart's Role and
        helm-values/rbac.yaml give it, and no more, as the hub and the jobs service run."""
        return self.state_dir / "hub.kubeconfig"

    def _hub_kubeconfig(self, api: KubeApi) -> None:
        plane = self.plane
        assert plane is not None, "the control plane is started before its kubeconfigs are written"

        def token() -> str:  # the service-account controller makes the account's token signer
            return api.service_account_token(NAMESPACE, "hub")

        api.wait_for("the hub's ServiceAccount", lambda: bool(token()))
        write_token_kubeconfig(
            self.hub_kubeconfig_path,
            server=plane.server,
            ca=plane.certs.ca.pem,
            token=token(),
            name="aiinfn-hub-cluster-hub",
        )

    def _start_virtual(self, plane: ControlPlane, site, node) -> None:
        component, ports = nodes.plugin(plane, site, node)
        self.supervisor.start(component)
        self.plugins[site.name] = ports
        vk = nodes.virtual_kubelet(plane, site, node, ports.api)
        self._step(
            f"virtual node {node.name} Ready ({site.name})", lambda: self.supervisor.start(vk)
        )

    def _apply(self, api: KubeApi) -> None:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        chart = resources.files(__package__).joinpath("chart-hub-rbac.yaml").read_text()
        api.apply_all(d for d in __import__("yaml").safe_load_all(chart) if d)
        api.apply_all(helm_documents("kueue.yaml"))
        api.apply_all(helm_documents("rbac.yaml"))

    def down(self) -> None:
        self.supervisor.stop_all()
        (self.state_dir / "state.json").unlink(missing_ok=True)
