"""Kueue outside the cluster: its real CRDs, its controller as a child process, and its
webhooks and conversion webhooks served on loopback (URL client configs with the CA bundle).

Kueue's own certificate management names ``kueue-webhook-service.<ns>.svc``, which a URL
webhook cannot match, so it is off and the cluster CA signs Kueue's serving certificate
(SAN 127.0.0.1). Only the webhooks of what Kueue serves here are registered: Kueue's own
kinds and ``batch/v1`` Jobs (the one integration enabled); a webhook for a disabled
integration would make every create of that kind fail.
"""

from __future__ import annotations

import base64
import copy
import socket
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import yaml

from .controlplane import ControlPlane
from .kubeapi import KubeApi, load_documents
from .supervisor import Component

NAMESPACE = "kueue-system"
#: Where Kueue 0.17 reads the certificates of its metrics and visibility servers when its
#: own certificate management is off: fixed paths (cmd/kueue/main.go,
#: pkg/visibility/server.go), not settings.
FIXED_CERT_DIRS = (Path("/etc/kueue/metrics/certs"), Path("/visibility"))
#: Webhook paths kept: Kueue's own kinds and batch/v1 Jobs.
KEPT_PATH_PARTS = ("-kueue-x-k8s-io-", "-batch-v1-job")


def _ca_bundle(plane: ControlPlane) -> str:
    return base64.b64encode(plane.certs.ca.pem).decode()


def crds(plane: ControlPlane) -> list[dict[str, Any]]:
    """Kueue's CRDs, with the conversion webhooks Kueue's own kustomization enables pointed
    at Kueue on loopback (a patch file it leaves commented out, as ResourceFlavor's in 0.17,
    stays off: Kueue does not serve that conversion)."""
    folder = plane.cache.kueue
    kustomization = load_documents(folder / "crd-kustomization.yaml")[0]
    converted = set()
    for entry in kustomization.get("patches") or ():
        name = Path(entry["path"]).name
        if name.startswith("webhook_in_"):
            for doc in load_documents(folder / "crd-patches" / name):
                converted.add(doc["metadata"]["name"])
    result = []
    for path in sorted((folder / "crd").glob("*.yaml")):
        for crd in load_documents(path):
            if crd["metadata"]["name"] in converted:
                crd["spec"]["conversion"] = {
                    "strategy": "Webhook",
                    "webhook": {
                        "clientConfig": {
                            "url": f"https://127.0.0.1:{plane.ports.kueue_webhook}/convert",
                            "caBundle": _ca_bundle(plane),
                        },
                        "conversionReviewVersions": ["v1"],
                    },
                }
            result.append(crd)
    return result


def webhook_configurations(plane: ControlPlane) -> list[dict[str, Any]]:
    """Kueue's admission webhooks for the kinds served here, as URL webhooks."""
    result = []
    for doc in load_documents(plane.cache.kueue / "webhooks.yaml"):
        doc = copy.deepcopy(doc)
        kept = []
        for hook in doc.get("webhooks") or ():
            path = hook["clientConfig"]["service"]["path"]
            if not any(part in path for part in KEPT_PATH_PARTS):
                continue
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{plane.ports.kueue_webhook}{path}",
                "caBundle": _ca_bundle(plane),
            }
            kept.append(hook)
        doc["webhooks"] = kept
        doc["metadata"]["name"] = f"kueue-{doc['metadata']['name']}"
        result.append(doc)
    return result


def configuration(plane: ControlPlane, cert_dir: Path) -> dict[str, Any]:
    ports = plane.ports
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{ports.kueue_health}"},
        "metrics": {"bindAddress": f"127.0.0.1:{ports.kueue_metrics}"},
        "webhook": {"host": "127.0.0.1", "port": ports.kueue_webhook, "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "manageJobsWithoutQueueName": False,
        "integrations": {"frameworks": ["batch/job"]},
        "visibilityServer": {"bindAddress": host_address(), "bindPort": ports.kueue_visibility},
    }


def install(plane: ControlPlane, api: KubeApi) -> None:
    """Kueue's namespace and CRDs, waited on until the API server serves them."""
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    definitions = crds(plane)
    api.apply_all(definitions)
    names = {crd["metadata"]["name"] for crd in definitions}

    def established() -> bool:
        listed = api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        ready = {
            crd["metadata"]["name"]
            for crd in listed["items"]
            for c in (crd.get("status") or {}).get("conditions") or ()
            if c["type"] == "Established" and c["status"] == "True"
        }
        return names <= ready

    api.wait_for("Kueue's CRDs", established, interval=0.2)


def component(plane: ControlPlane) -> Component:
    """The Kueue controller (its identity may do anything, as Kueue's own ClusterRole)."""
    folder = plane.state / "kueue"
    cert_dir = folder / "certs"
    cert_dir.mkdir(parents=True, exist_ok=True)
    serving = plane.certs.serving("kueue-webhook")
    (cert_dir / "tls.crt").write_bytes(serving.cert.read_bytes())
    (cert_dir / "tls.key").write_bytes(serving.key.read_bytes())
    _fixed_certificates(plane)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(configuration(plane, cert_dir)))
    kubeconfig = plane.kubeconfig("kueue", "kueue-controller", ("system:masters",))
    health = plane.ports.kueue_health

    def ready() -> bool:
        with urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as answer:
            return answer.status == 200

    return Component(
        "kueue",
        [
            str(plane.cache.binary("kueue")),
            f"--config={config}",
            f"--kubeconfig={kubeconfig}",
            f"--visibility-server-port={plane.ports.kueue_visibility}",
            "--zap-log-level=info",
        ],
        ready,
        timeout=120,
    )


def _fixed_certificates(plane: ControlPlane) -> None:
    """Kueue exits unless certificates are at its fixed paths: put a loopback serving
    certificate there where none is (both servers are bound to loopback here)."""
    pair = plane.certs.serving("kueue-servers")
    for folder in FIXED_CERT_DIRS:
        if (folder / "tls.crt").is_file() and (folder / "tls.key").is_file():
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "tls.key").write_bytes(pair.key.read_bytes())
            (folder / "tls.crt").write_bytes(pair.cert.read_bytes())
        except OSError as exc:
            raise PermissionError(
                f"Kueue 0.17 reads a certificate from {folder}, which cannot be written "
                f"({exc.strerror}): run `aiinfn-hub cluster up` as root once, or put tls.crt "
                f"and tls.key there"
            ) from None


def host_address() -> str:
    """This machine's address on its default route: the API server's aggregator reaches
    Kueue's visibility server through a Service's endpoints, which may not be loopback
    addresses (Kubernetes refuses them), so the server listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 9))  # no packet is sent: this only picks a route
            address: str = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


def visibility_documents(plane: ControlPlane) -> list[dict[str, Any]]:
    """The APIService that makes the API server serve Kueue's visibility API
    (``visibility.kueue.x-k8s.io/v1beta2``, pending workloads and their positions), as Kueue's
    own manifests do: a Service without selector whose endpoints are Kueue's visibility
    server here. TLS is not verified: Kueue 0.17 reads that server's certificate from a fixed
    path shared by every cluster of this machine (``FIXED_CERT_DIRS``), each with its own CA."""
    name = "kueue-visibility-server"
    port = {"name": "https", "port": 443, "protocol": "TCP"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"ports": [{**port, "targetPort": plane.ports.kueue_visibility}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "subsets": [
                {
                    "addresses": [{"ip": host_address()}],
                    "ports": [{**port, "port": plane.ports.kueue_visibility}],
                }
            ],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta2.visibility.kueue.x-k8s.io"},
            "spec": {
                "group": "visibility.kueue.x-k8s.io",
                "version": "v1beta2",
                "groupPriorityMinimum": 100,
                "versionPriority": 200,
                "insecureSkipTLSVerify": True,
                "service": {"name": name, "namespace": NAMESPACE, "port": 443},
            },
        },
    ]


def register_visibility(plane: ControlPlane, api: KubeApi) -> None:
    """Register Kueue's visibility API (unless this machine has no address but loopback:
    then the API stays unserved, as on a cluster without it, and readers count Workloads)."""
    if host_address() != "127.0.0.1":
        api.apply_all(visibility_documents(plane))


def register_webhooks(plane: ControlPlane, api: KubeApi) -> None:
    api.apply_all(webhook_configurations(plane))
