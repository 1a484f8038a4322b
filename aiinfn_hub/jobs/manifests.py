"""Pure builders of the Kubernetes objects of a job: its record (ConfigMap) and attempts (Jobs).

No I/O here: every function maps data to a manifest dict, so each is tested on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..placement import Site, VolumeNeed
from ..runner import notebook_command
from . import labels as L
from .model import JobSpec

STAGED_DIR = "/aiinfn/job"
WORK_DIR = "/aiinfn/work"
#: Where a job's own volumes appear: ``emptydir`` at SCRATCH_DIR (``emptydir:<name>`` under
#: it), a shared ConfigMap or Secret read-only under CONFIGMAP_DIR or SECRET_DIR by name.
SCRATCH_DIR = "/scratch"
CONFIGMAP_DIR = "/mnt/configmap"
SECRET_DIR = "/mnt/secret"
CLAIM_DIR = "/mnt/pvc"


@dataclass(frozen=True)
class PodSettings:
    """What an admin sets for every job pod."""

    default_image: str = "quay.io/jupyter/base-notebook:latest"
    home_mount_path: str = "/home/jovyan"
    run_as_user: int = 1000
    run_as_group: int = 100
    backoff_limit: int = 0


#: Keys of a job record's own data, which a staged file must not overwrite.
RECORD_KEYS = frozenset({"spec.json", "plan.json"})
_CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def staged_key(filename: str) -> str:
    """The record's data key of a staged file: its name where that is a valid ConfigMap key
    (letters, digits, '-', '_', '.') and not one of the record's own, else ``staged-file``.
    The pod sees the file under its own name either way (the volume maps key to name)."""
    if _CONFIGMAP_KEY.fullmatch(filename) and filename not in RECORD_KEYS | {".", ".."}:
        return filename
    return "staged-file"


def common_labels(job_id: str, owner: str) -> dict[str, str]:
    return {L.MANAGED_BY: L.MANAGER, L.JOB_ID: job_id, L.OWNER: L.label_value(owner)}


def build_record(
    job_id: str,
    owner: str,
    *,
    spec: JobSpec,
    plan: Mapping[str, Any],
    namespace: str,
    now: str,
    extra: Mapping[str, str] | None = None,
    home_claim: str | None = None,
) -> dict[str, Any]:
    """The ConfigMap that records a job: spec, plan and staged file (and ``extra``
    annotations); attempts join it later. ``home_claim``: the owner's home claim, found when
    the job was submitted."""
    labels = common_labels(job_id, owner) | {L.ROLE: "record"}
    if spec.client_request_id:
        labels[L.REQUEST_ID] = L.label_value(spec.client_request_id)
    data = {
        "spec.json": json.dumps(spec.to_dict(), sort_keys=True),
        "plan.json": json.dumps(plan, sort_keys=True),
    }
    if spec.script:
        data[staged_key(spec.script.filename)] = spec.script.content
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": L.record_name(job_id),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                L.OWNER_NAME: owner,
                L.JOB_NAME: spec.name,
                L.SUBMITTED: now,
                L.ATTEMPTS: "[]",
                **(extra or {}),
                **({L.HOME_CLAIM: home_claim} if home_claim else {}),
            },
        },
        "data": data,
    }


def container_command(spec: JobSpec) -> list[str]:
    """What the job's container runs: the command, or the staged script with its runner."""
    if spec.command:
        return list(spec.command)
    script = spec.script
    assert script is not None
    path = f"{STAGED_DIR}/{script.filename}"
    if script.kind == "shell":
        return ["bash", path, *script.args]
    if script.kind == "python":
        return ["python", path, *script.args]
    return notebook_command(path, WORK_DIR, dict(script.parameters or {}))


def _resources(spec: JobSpec) -> dict[str, Any]:
    request = spec.request
    amounts = {"cpu": f"{request.cpu:g}", "memory": str(request.memory)}
    limits = dict(amounts)
    if request.gpus:
        amounts["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(request.gpus)
    return {"requests": amounts, "limits": limits}


def _node_selector(spec: JobSpec, site: Site) -> dict[str, str]:
    selector = dict(site.wiring.node_selector)
    model = spec.request.gpu_model
    if model:
        pool = site.capabilities.gpu_pool(model)
        if pool is not None:
            selector[site.wiring.gpu_selector_key] = pool.product or pool.model
    return selector


def volume_mount(
    need: VolumeNeed, home: str, settings: PodSettings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod volume source and the container mount (without names) of one requested volume:
    the owner's home claim ``home`` at the home path, another (shared) claim under /mnt/pvc,
    an emptyDir under /scratch, a ConfigMap or Secret read-only under /mnt/configmap or
    /mnt/secret. Which names a user may ask for is checked before."""
    if need.type == "pvc":
        claim = need.name if need.name and need.name != "home" else home
        path = settings.home_mount_path if claim == home else f"{CLAIM_DIR}/{claim}"
        return {"persistentVolumeClaim": {"claimName": claim}}, {"mountPath": path}
    if need.type == "emptydir":
        path = f"{SCRATCH_DIR}/{need.name}" if need.name else SCRATCH_DIR
        return {"emptyDir": {}}, {"mountPath": path}
    if need.type == "configmap":
        source: dict[str, Any] = {"configMap": {"name": need.name}}
        return source, {"mountPath": f"{CONFIGMAP_DIR}/{need.name}", "readOnly": True}
    if need.type == "secret":
        source = {"secret": {"secretName": need.name}}
        return source, {"mountPath": f"{SECRET_DIR}/{need.name}", "readOnly": True}
    raise ValueError(f"unknown volume type {need.type!r}")


def build_attempt(
    job_id: str,
    owner: str,
    *,
    spec: JobSpec,
    site: Site,
    number: int,
    plan: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    namespace: str,
    record_uid: str | None,
    settings: PodSettings,
    home_claim: str,
) -> dict[str, Any]:
    """The batch/v1 Job that tries ``spec`` at ``site``, queued through the site's LocalQueue;
    ``home_claim`` is the owner's home claim (mounted if the job asks for it)."""
    name = L.attempt_name(job_id, number)
    labels = common_labels(job_id, owner) | {
        L.ROLE: "attempt",
        L.ATTEMPT: str(number),
        L.SITE: site.name,
    }
    pod_labels = dict(labels)
    env = [
        {"name": "AIINFN_JOB_ID", "value": job_id},
        {"name": "AIINFN_SITE", "value": site.name},
        {"name": "AIINFN_ATTEMPT", "value": str(number)},
        {"name": "AIINFN_OUTPUT_DIR", "value": WORK_DIR},
    ] + [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    mounts = [
        {"name": "staged", "mountPath": STAGED_DIR, "readOnly": True},
        {"name": "work", "mountPath": WORK_DIR},
    ]
    staged: dict[str, Any] = {"name": L.record_name(job_id)}
    if spec.script:
        filename = spec.script.filename
        staged["items"] = [{"key": staged_key(filename), "path": filename}]
    volumes: list[dict[str, Any]] = [
        {"name": "staged", "configMap": staged},
        {"name": "work", "emptyDir": {}},
    ]
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for index, need in enumerate(spec.request.volumes):
        source, mount = volume_mount(need, home_claim, settings)
        if (source, mount) in seen:  # the same volume asked for twice is mounted once
            continue
        seen.append((source, mount))
        volumes.append({"name": f"{need.type}-{index}", **source})
        mounts.append({"name": f"{need.type}-{index}", **mount})
    container = {
        "name": "job",
        "image": spec.image or settings.default_image,
        "command": container_command(spec),
        "workingDir": WORK_DIR,
        "env": env,
        "resources": _resources(spec),
        "volumeMounts": mounts,
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_group,
            "fsGroup": settings.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    selector = _node_selector(spec, site)
    if selector:
        pod_spec["nodeSelector"] = selector
    if site.wiring.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in site.wiring.tolerations]
    job_spec: dict[str, Any] = {
        "suspend": True,
        "backoffLimit": settings.backoff_limit,
        "completions": spec.completions,
        "parallelism": spec.parallelism,
        "template": {
            "metadata": {"labels": pod_labels, "annotations": dict(site.wiring.annotations)},
            "spec": pod_spec,
        },
    }
    if spec.completions > 1:
        job_spec["completionMode"] = "Indexed"
    if spec.request.walltime:
        job_spec["activeDeadlineSeconds"] = spec.request.walltime
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels | {L.QUEUE_NAME: site.wiring.local_queue},
        "annotations": {
            L.OWNER_NAME: owner,
            L.JOB_NAME: spec.name,
            L.PLAN: json.dumps(plan, sort_keys=True),
            L.ATTEMPTS: json.dumps(list(history), sort_keys=True),
        },
    }
    if record_uid:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": L.record_name(job_id),
                "uid": record_uid,
                "blockOwnerDeletion": False,
            }
        ]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}
