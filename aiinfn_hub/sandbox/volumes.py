"""Pod volumes as directories, and the path rewriting that stands in for mounts.

A process of the sandbox sees the host's file system, not a container's, so a volume cannot
appear at its ``mountPath``. Instead each volume is a directory under the pod's directory
(configMap and secret keys as files, emptyDir empty, a PersistentVolumeClaim a directory
that outlives the pod, hostPath the host path itself), and wherever a container's command,
args, env values or workingDir *start with* a volumeMount's mountPath, that prefix is replaced
by the directory. Paths built at run time, or mentioned in the middle of a string (e.g. inside
``sh -c "..."``), are not rewritten; ``$(VAR)`` references to env values are, through the
rewritten env value. A claim must exist as an object: the scheduler does not place a pod whose
claim is missing, and a pod bound to a node all the same waits for it, as a kubelet's does.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .admission import _SUBDOMAIN as OBJECT_NAME
from .objects import Obj

Lookup = Callable[[str, str], Obj | None]


class VolumeError(Exception):
    """A volume that cannot be set up yet (e.g. its ConfigMap is missing)."""


@dataclass
class Mounts:
    """mountPath -> host directory, longest mountPath first."""

    paths: list[tuple[str, str]]

    def rewrite(self, value: str) -> str:
        for mount, host in self.paths:
            if value == mount or value.startswith(mount.rstrip("/") + "/"):
                return host + value[len(mount.rstrip("/")) :]
        return value


def _write_items(
    target: Path, data: Mapping[str, bytes], items: list[Obj] | None, mode: int
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    chosen = [(i["key"], str(i.get("path", i["key"])), i.get("mode", mode)) for i in items or []]
    for key, rel, file_mode in chosen or [(k, k, mode) for k in data]:
        if key not in data:
            continue
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[key])
        path.chmod(file_mode & 0o777)


def materialize(
    pod: Obj,
    pod_dir: Path,
    claims_dir: Path,
    lookup: Lookup,
    *,
    allow_claims: bool = True,
) -> dict[str, Path]:
    """Create each volume's directory; returns volume name -> directory.

    ``allow_claims`` False (interLink virtual nodes) skips PVCs, as interLink does."""
    out: dict[str, Path] = {}
    base = pod_dir / "volumes"
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume.get("name", "")
        target = base / name
        if "configMap" in volume or "secret" in volume:
            kind = "configmaps" if "configMap" in volume else "secrets"
            source = volume.get("configMap") or volume.get("secret") or {}
            ref = source.get("name") or source.get("secretName") or ""
            obj = lookup(kind, ref)
            if obj is None and not source.get("optional"):
                what = "configmap" if kind == "configmaps" else "secret"
                raise VolumeError(
                    f'MountVolume.SetUp failed for volume "{name}" : {what} "{ref}" not found'
                )
            raw = (obj or {}).get("data") or {}
            data = {
                k: base64.b64decode(v) if kind == "secrets" else str(v).encode()
                for k, v in raw.items()
            }
            for k, v in ((obj or {}).get("binaryData") or {}).items():
                data[k] = base64.b64decode(v)
            _write_items(target, data, source.get("items"), int(source.get("defaultMode", 0o644)))
        elif "persistentVolumeClaim" in volume:
            if not allow_claims:
                continue
            claim = volume["persistentVolumeClaim"].get("claimName", "")
            namespace = pod["metadata"]["namespace"]
            # an invalid name is no claim (nor may it leave claims_dir)
            if not OBJECT_NAME.match(claim) or lookup("persistentvolumeclaims", claim) is None:
                raise VolumeError(
                    f"Unable to attach or mount volumes: unmounted volumes=[{name}], "
                    f"unattached volumes=[]: error processing PVC {namespace}/{claim}: failed "
                    f'to fetch PVC from API server: persistentvolumeclaims "{claim}" not found'
                )
            target = claims_dir / namespace / claim
            target.mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            target = Path(volume["hostPath"].get("path", "/"))
        else:  # emptyDir, and anything else as an empty directory
            target.mkdir(parents=True, exist_ok=True)
        out[name] = target
    return out


def mounts_for(container: Obj, volumes: Mapping[str, Path]) -> Mounts:
    paths = []
    for mount in container.get("volumeMounts") or []:
        host = volumes.get(mount.get("name", ""))
        if host is None or not mount.get("mountPath"):
            continue
        if mount.get("subPath"):
            host = host / mount["subPath"]
            if not host.exists():
                host.mkdir(parents=True, exist_ok=True)
        paths.append((mount["mountPath"], str(host)))
    paths.sort(key=lambda p: len(p[0]), reverse=True)
    return Mounts(paths)


def remove_pod_dir(pod_dir: Path) -> None:
    shutil.rmtree(pod_dir, ignore_errors=True)
