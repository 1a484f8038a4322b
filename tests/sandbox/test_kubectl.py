"""kubectl against the sandbox: discovery, server-side tables, apply, wait, logs, delete."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from aiinfn_hub.sandbox import SandboxProcess

from .util import kubectl, kubectl_binary

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
data:
  greeting: "{greeting}"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: hello
  labels:
    kueue.x-k8s.io/queue-name: local
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox:1.36
          command: ["sh", "-c", "echo hello from the sandbox"]
"""


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


def test_get_nodes_pods_jobs(sandbox: SandboxProcess, tmp_path: Path) -> None:
    listed = rows(kubectl(sandbox, "get", "nodes,pods,jobs", "-A"))
    assert listed[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    nodes = {r[0]: r for r in listed[1:] if r and r[0].startswith("node/")}
    assert set(nodes) == {
        "node/local-cpu-1",
        "node/local-cpu-2",
        "node/local-gpu-t4-1",
        "node/local-gpu-rtx5000-1",
        "node/local-gpu-a100-1",
        "node/local-gpu-mig-1",
        "node/vk-leonardo",
        "node/vk-tier1",
    }
    assert nodes["node/vk-leonardo"][1:3] == ["Ready", "agent"]

    manifest = tmp_path / "hello.yaml"
    manifest.write_text(MANIFEST.format(greeting="hi"))
    applied = kubectl(sandbox, "apply", "-f", str(manifest))
    assert applied.splitlines() == ["configmap/applied created", "job.batch/hello created"]
    waited = kubectl(sandbox, "wait", "--for=condition=complete", "job/hello", "--timeout=60s")
    assert "job.batch/hello condition met" in waited
    assert kubectl(sandbox, "logs", "job/hello") == "hello from the sandbox\n"

    listed = rows(kubectl(sandbox, "get", "nodes,pods,jobs", "-A"))
    pods = [r for r in listed if r and r[1].startswith("pod/hello-")]
    assert len(pods) == 1 and pods[0][0] == "default" and pods[0][3] == "Completed"
    jobs = [r for r in listed if r and r[1] == "job.batch/hello"]
    assert jobs and jobs[0][2:4] == ["Complete", "1/1"]
    wide = rows(kubectl(sandbox, "get", "pods", "-o", "wide"))
    assert wide[0][:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert wide[1][5].startswith("127.") and wide[1][6].startswith("local-")

    workloads = rows(kubectl(sandbox, "get", "workloads"))
    assert workloads[0][:5] == ["NAME", "QUEUE", "RESERVED", "IN", "ADMITTED"]
    assert workloads[1][0].startswith("job-hello-") and workloads[1][1:5] == [
        "local",
        "local",
        "True",
        "True",
    ]

    manifest.write_text(MANIFEST.format(greeting="hello again"))
    again = kubectl(sandbox, "apply", "-f", str(manifest))
    assert again.splitlines() == ["configmap/applied configured", "job.batch/hello unchanged"]
    data = json.loads(kubectl(sandbox, "get", "configmap", "applied", "-o", "json"))
    assert data["data"] == {"greeting": "hello again"}

    deleted = kubectl(sandbox, "delete", "-f", str(manifest))
    lines = deleted.splitlines()  # newer kubectl adds "from default namespace"
    assert lines[0].startswith('configmap "applied" deleted')
    assert lines[1].startswith('job.batch "hello" deleted')


def test_imperative_create_says_how_to_send_json(sandbox: SandboxProcess) -> None:
    """kubectl create KIND NAME sends protobuf, which the sandbox does not decode: it says so
    and how to get the same object in, which then works."""
    env = dict(os.environ, KUBECONFIG=str(sandbox.kubeconfig), HOME=str(sandbox.state_dir))
    direct = [kubectl_binary(), "create", "namespace", "imperative"]
    done = subprocess.run(direct, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert "add --dry-run=client -o yaml and pipe it to kubectl apply -f -" in done.stderr
    manifest = kubectl(sandbox, *direct[1:], "--dry-run=client", "-o", "yaml")
    applied = subprocess.run(
        [kubectl_binary(), "apply", "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert applied.returncode == 0 and applied.stdout == "namespace/imperative created\n"
    assert rows(kubectl(sandbox, "get", "namespace", "imperative"))[1][:2] == [
        "imperative",
        "Active",
    ]


def test_describe_and_cordon(sandbox: SandboxProcess) -> None:
    described = kubectl(sandbox, "describe", "node", "vk-leonardo")
    assert "Taints:             virtual-node.interlink/no-schedule=true:NoSchedule" in described
    assert "InterlinkConnectivity   True" in described
    assert "nvidia.com/gpu:  32" in described
    kubectl(sandbox, "cordon", "local-cpu-2")
    status = rows(kubectl(sandbox, "get", "node", "local-cpu-2"))[1][1]
    assert status == "Ready,SchedulingDisabled"
    kubectl(sandbox, "uncordon", "local-cpu-2")
    assert rows(kubectl(sandbox, "get", "node", "local-cpu-2"))[1][1] == "Ready"
