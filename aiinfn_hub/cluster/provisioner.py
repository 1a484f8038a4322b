"""A dynamic volume provisioner for the one-machine cluster, as a real cluster has one.

KubeSpawner creates each user's home claim (``storage_pvc_ensure``) and counts on the cluster
to bind it; kube-scheduler keeps a pod whose claim is unbound Pending. A real cluster binds
through its default StorageClass's provisioner. This one works as the external provisioners
of sig-storage do (local-path, nfs-subdir): the StorageClass ``aiinfn-local`` is the default
class, with ``volumeBindingMode: Immediate``; kube-controller-manager's volume binder marks a
claim of that class with ``volume.kubernetes.io/storage-provisioner``; this process answers
with a ``hostPath`` PersistentVolume whose ``claimRef`` names the claim, and the binder binds
the two. A released volume (its claim deleted, reclaim policy Delete) is deleted, with its
folder. The node agents keep every claim's files under the same folder (``claims/``).

It runs as its own identity (``system:aiinfn-local-provisioner``) with the ClusterRole below,
as a provisioner's ServiceAccount would: nothing more.

Run: ``python -m aiinfn_hub.cluster.provisioner SERVER CA CERT KEY CLAIMS-DIR`` (what
:func:`component` starts).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .certs import Pair
from .controlplane import ControlPlane
from .kubeapi import ApiRefused, KubeApi
from .supervisor import Component

NAME = "aiinfn.infn.it/local-path"
STORAGE_CLASS = "aiinfn-local"
USER = "system:aiinfn-local-provisioner"
#: The annotation the volume binder sets on a claim an external provisioner is to serve.
PROVISIONER_KEYS = (
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
)
POLL_SECONDS = 0.5

log = logging.getLogger("aiinfn_hub.cluster.provisioner")


def documents() -> list[dict[str, Any]]:
    """The default StorageClass and the provisioner's RBAC (what its chart would install)."""
    rules = [
        {
            "apiGroups": [""],
            "resources": ["persistentvolumes"],
            "verbs": ["get", "list", "watch", "create", "delete"],
        },
        {
            "apiGroups": [""],
            "resources": ["persistentvolumeclaims"],
            "verbs": ["get", "list", "watch"],
        },
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get"]},
    ]
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": NAME,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "aiinfn-local-provisioner"},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "aiinfn-local-provisioner"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "aiinfn-local-provisioner",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
        },
    ]


def wants_volume(claim: dict[str, Any]) -> bool:
    """A claim waits for this provisioner: Pending, of its class, marked by the binder."""
    annotations = claim["metadata"].get("annotations") or {}
    return (
        (claim.get("status") or {}).get("phase") == "Pending"
        and not claim["spec"].get("volumeName")
        and any(annotations.get(key) == NAME for key in PROVISIONER_KEYS)
    )


def volume_for(claim: dict[str, Any], claims_dir: Path) -> dict[str, Any]:
    """The PersistentVolume that satisfies ``claim``: its size, access modes and class, a
    folder of its own, and a ``claimRef`` so that the binder binds it to this claim only."""
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {"pv.kubernetes.io/provisioned-by": NAME},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec.get("storageClassName") or STORAGE_CLASS,
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {
                "path": str(claims_dir / meta["namespace"] / meta["name"]),
                "type": "DirectoryOrCreate",
            },
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


class Provisioner:
    """Provision for waiting claims and delete released volumes, every ``POLL_SECONDS``."""

    def __init__(self, api: KubeApi, claims_dir: Path) -> None:
        self.api = api
        self.claims_dir = claims_dir

    def once(self) -> None:
        claims = self.api.request("GET", "/api/v1/persistentvolumeclaims")["items"]
        for claim in claims:
            if wants_volume(claim):
                self._provision(claim)
        volumes = self.api.request("GET", "/api/v1/persistentvolumes")["items"]
        for volume in volumes:
            released = (volume.get("status") or {}).get("phase") == "Released"
            ours = (volume["metadata"].get("annotations") or {}).get(
                "pv.kubernetes.io/provisioned-by"
            ) == NAME
            if released and ours and volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete":
                self._delete(volume)

    def _provision(self, claim: dict[str, Any]) -> None:
        volume = volume_for(claim, self.claims_dir)
        try:
            self.api.request("POST", "/api/v1/persistentvolumes", volume)
        except ApiRefused as exc:
            if exc.status != 409:  # already made in an earlier round
                raise
            return
        log.info("provisioned %s for %s", volume["metadata"]["name"], _key(claim))

    def _delete(self, volume: dict[str, Any]) -> None:
        path = Path(volume["spec"]["hostPath"]["path"])
        if self.claims_dir in path.parents:
            shutil.rmtree(path, ignore_errors=True)
        try:
            self.api.request("DELETE", f"/api/v1/persistentvolumes/{volume['metadata']['name']}")
        except ApiRefused as exc:
            if exc.status != 404:
                raise
        log.info("deleted released volume %s", volume["metadata"]["name"])

    def run(self) -> None:
        while True:
            try:
                self.once()
            except (ApiRefused, OSError) as exc:  # the API server restarting: try again
                log.warning("provisioner round failed: %s", exc)
            time.sleep(POLL_SECONDS)


def _key(obj: dict[str, Any]) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def component(plane: ControlPlane) -> Component:
    """The provisioner as a supervised process; ready once the StorageClass is served."""
    pair = plane.certs.client("local-provisioner", USER)
    admin = plane.admin()
    command = [
        sys.executable,
        "-m",
        "aiinfn_hub.cluster.provisioner",
        plane.server,
        str(plane.certs.ca.pair.cert),
        str(pair.cert),
        str(pair.key),
        str(plane.state / "claims"),
    ]
    return Component(
        "local-provisioner",
        command,
        lambda: bool(
            admin.request("GET", f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}")
        ),
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 5:
        print(
            "usage: python -m aiinfn_hub.cluster.provisioner SERVER CA CERT KEY CLAIMS-DIR",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server, ca, cert, key, claims = args
    api = KubeApi(server, Path(ca), Pair(Path(cert), Path(key)))
    Provisioner(api, Path(claims)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
