"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

The API server serves TLS with RBAC and the Node authorizer on, ServiceAccount tokens
signed by the cluster's key, the aggregation layer configured (front proxy), and reaches
kubelets with its own client certificate, checking theirs against the cluster CA.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

from .build import Cache
from .certs import SERVICE_CIDR, ClusterCerts
from .kubeapi import KubeApi, write_kubeconfig
from .supervisor import Component

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass
class Ports:
    """Every loopback port the cluster listens on, recorded in its state file."""

    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kueue_webhook: int
    kueue_metrics: int
    kueue_health: int
    kueue_visibility: int


@dataclass
class ControlPlane:
    """The core control plane of one state folder."""

    state: Path
    cache: Cache
    certs: ClusterCerts
    ports: Ports

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def kubeconfig(self, identity: str, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig (certificates embedded) for a client identity of this cluster."""
        pair = self.certs.client(identity, user, groups)
        return write_kubeconfig(
            self.state / "kubeconfigs" / f"{identity}.kubeconfig",
            server=self.server,
            ca=self.certs.ca.pem,
            client=pair,
            name="aiinfn-hub-cluster",
        )

    def admin(self) -> KubeApi:
        admin = self.certs.client("admin", "aiinfn-admin", ("system:masters",))
        return KubeApi(self.server, self.certs.ca.pair.cert, admin)

    def etcd(self) -> Component:
        port, peer = self.ports.etcd, self.ports.etcd_peer

        def ready() -> bool:
            with urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                return json.loads(answer.read()).get("health") == "true"

        return Component(
            "etcd",
            [
                str(self.cache.binary("etcd")),
                "--name=aiinfn",
                f"--data-dir={self.state / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{port}",
                f"--advertise-client-urls=http://127.0.0.1:{port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=aiinfn=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            ready,
        )

    def apiserver(self) -> Component:
        certs = self.certs
        serving = certs.apiserver()
        kubelet_client = certs.client(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)
        )
        proxy = certs.front_proxy_client()
        sa = certs.service_account_key()
        admin = self.admin()
        return Component(
            "kube-apiserver",
            [
                str(self.cache.binary("kube-apiserver")),
                f"--etcd-servers=http://127.0.0.1:{self.ports.etcd}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports.apiserver}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={certs.ca.pair.cert}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
                "--endpoint-reconciler-type=none",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                f"--kubelet-certificate-authority={certs.ca.pair.cert}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--requestheader-client-ca-file={certs.front_proxy_ca.pair.cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-username-headers=X-Remote-User",
                f"--proxy-client-cert-file={proxy.cert}",
                f"--proxy-client-key-file={proxy.key}",
                "--enable-aggregator-routing=true",
                "--profiling=false",
                "--v=1",
            ],
            lambda: admin.reachable("/readyz"),
            timeout=120,
        )

    def controller_manager(self) -> Component:
        kubeconfig = self.kubeconfig("controller-manager", "system:kube-controller-manager")
        sa = self.certs.service_account_key()
        admin = self.admin()

        def ready() -> bool:  # the service-account controller has made the default account
            admin.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
            return True

        return Component(
            "kube-controller-manager",
            [
                str(self.cache.binary("kube-controller-manager")),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.ports.controller_manager}",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={self.certs.ca.pair.cert}",
                "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={self.certs.ca.pair.cert}",
                f"--cluster-signing-key-file={self.certs.ca.pair.key}",
                "--v=1",
            ],
            ready,
        )

    def scheduler(self) -> Component:
        kubeconfig = self.kubeconfig("scheduler", "system:kube-scheduler")
        port = self.ports.scheduler
        return Component(
            "kube-scheduler",
            [
                str(self.cache.binary("kube-scheduler")),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--v=1",
            ],
            lambda: _https_ok(f"https://127.0.0.1:{port}/healthz"),
        )


def _https_ok(url: str) -> bool:
    """A component's own /healthz answers (its serving certificate is self-signed)."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urlopen(url, context=context, timeout=2) as answer:
        return answer.status == 200
