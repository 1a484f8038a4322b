"""The real control plane itself: versions, nodes, Kueue-queued Jobs at every site, logs
through the real API server, and the real stack's faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfn_hub.cluster.build import pinned_versions
from aiinfn_hub.cluster.kubeapi import ApiRefused, KubeApi
from tests.sandbox.util import kubectl_binary

NAMESPACE = "jhub"
pytestmark = pytest.mark.cluster


def kubectl(state, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, KUBECONFIG=state.kubeconfig)
    done = subprocess.run(
        [kubectl_binary(), *args], capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def fault(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiinfn_hub",
            "cluster",
            "fault",
            *args,
            "--json",
            "--state-dir",
            os.environ["AIINFN_CLUSTER_STATE_DIR"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def eventually(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except ApiRefused as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(
        (c for c in (obj.get("status") or {}).get("conditions") or () if c["type"] == kind), {}
    )


def queued_job(name: str, queue: str, command: str, **resources: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"kueue.x-k8s.io/queue-name": queue}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": "python:3.11",
                            "command": ["sh", "-c", command],
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "256Mi", **resources},
                                "limits": {"cpu": "500m", "memory": "256Mi", **resources},
                            },
                        }
                    ],
                }
            },
        },
    }


def run_job(admin: KubeApi, job: dict[str, Any]) -> dict[str, Any]:
    """Create the Job in jhub, wait for it to end; returns its pod."""
    name = job["metadata"]["name"]
    admin.request("POST", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs", job)

    def ended() -> dict[str, Any] | None:
        got = admin.request("GET", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}")
        done = [c["type"] for c in got["status"].get("conditions", ()) if c["status"] == "True"]
        return got if {"Complete", "Failed"} & set(done) else None

    eventually(f"job {name} ends", ended, timeout=120)
    pods = admin.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/pods", query={"labelSelector": f"job-name={name}"}
    )["items"]
    assert len(pods) == 1, pods
    return pods[0]


def test_the_server_reports_the_pinned_kubernetes_version(state) -> None:
    answer = json.loads(kubectl(state, "version", "-o", "json").stdout)
    assert answer["serverVersion"]["gitVersion"] == pinned_versions()["k8s.io/kubernetes"]


def test_nodes_register_as_kubelets_and_virtual_kubelets_do(admin: KubeApi) -> None:
    nodes = {n["metadata"]["name"]: n for n in admin.request("GET", "/api/v1/nodes")["items"]}
    local = [
        n for n in nodes.values() if n["metadata"]["labels"].get("aiinfn.infn.it/site") == "local"
    ]
    assert {n["metadata"]["name"] for n in local} >= {"worker-a", "dgx-01.lab.infn.it"}
    for node in local:
        assert condition(node, "Ready")["status"] == "True"
        lease = admin.request(
            "GET",
            f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node['metadata']['name']}",
        )
        assert lease["spec"]["holderIdentity"] == node["metadata"]["name"]
    for name in ("vk-leonardo", "vk-tier1"):
        node = nodes[name]
        assert node["metadata"]["labels"]["virtual-node.interlink/type"] == "virtual-kubelet"
        taints = {t["key"] for t in node["spec"]["taints"]}
        assert "virtual-node.interlink/no-schedule" in taints
        assert condition(node, "InterlinkConnectivity")["status"] == "True"
        assert condition(node, "Ready")["status"] == "True"
    assert nodes["vk-leonardo"]["status"]["capacity"]["nvidia.com/gpu"] == "32"


@pytest.mark.parametrize(
    ("queue", "node", "job_id"),
    [
        ("local", None, None),
        ("leonardo", "vk-leonardo", "slurm-"),
        ("tier1", "vk-tier1", "htcondor-"),
    ],
)
def test_a_kueue_queued_job_runs_at_each_site_and_its_log_is_read_through_the_apiserver(
    admin: KubeApi, state, queue: str, node: str | None, job_id: str | None
) -> None:
    name = f"probe-{queue}"
    pod = run_job(admin, queued_job(name, queue, f"echo hello from {queue}"))
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    if node is not None:
        assert pod["spec"]["nodeName"] == node
        assert pod["metadata"]["annotations"]["JobID"].startswith(job_id)
    else:
        assert (
            admin.request("GET", f"/api/v1/nodes/{pod['spec']['nodeName']}")["metadata"]["labels"][
                "aiinfn.infn.it/site"
            ]
            == "local"
        )
    log = kubectl(state, "-n", NAMESPACE, "logs", pod["metadata"]["name"]).stdout
    assert log == f"hello from {queue}\n"


def test_a_refused_submission_fails_the_pod_with_provider_failed(admin: KubeApi) -> None:
    fault("refuse", "tier1", "--message", "condor_submit: no such schedd")
    try:
        pod = run_job(admin, queued_job("refused", "tier1", "echo never"))
    finally:
        fault("refuse", "tier1", "--off")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "ProviderFailed"
    assert "condor_submit: no such schedd" in pod["status"]["message"]


def test_the_virtual_node_goes_not_ready_when_the_interlink_api_stops(admin: KubeApi) -> None:
    def node() -> dict[str, Any]:
        return admin.request("GET", "/api/v1/nodes/vk-leonardo")

    fault("interlink-down", "leonardo")
    try:

        def lost() -> dict[str, Any] | None:
            got = node()
            return got if condition(got, "InterlinkConnectivity")["status"] == "False" else None

        down = eventually("vk-leonardo loses InterlinkConnectivity", lost)
        assert condition(down, "Ready")["status"] == "False"
        assert condition(down, "InterlinkConnectivity")["reason"] == "InterlinkPingFailed"
    finally:
        fault("interlink-down", "leonardo", "--off")
    eventually(
        "vk-leonardo Ready again",
        lambda: condition(node(), "Ready")["status"] == "True",
    )


def test_a_clusterqueue_without_quota_admits_nothing(admin: KubeApi) -> None:
    fault("no-quota", "tier1")
    try:
        admin.request(
            "POST",
            f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs",
            queued_job("starved", "tier1", "true"),
        )

        def pending() -> dict[str, Any] | None:
            workloads = admin.request(
                "GET", f"/apis/kueue.x-k8s.io/v1beta2/namespaces/{NAMESPACE}/workloads"
            )["items"]
            mine = [
                w for w in workloads if w["metadata"]["ownerReferences"][0]["name"] == "starved"
            ]
            found = mine and condition(mine[0], "QuotaReserved")
            return found if found and found["status"] == "False" else None

        reserved = eventually("the workload is pending", pending)
        assert "insufficient" in reserved["message"] or "quota" in reserved["message"], reserved

        # Kueue's visibility API, aggregated by the API server, gives its queue position.
        def listed() -> list[dict[str, Any]]:
            summary = admin.request(
                "GET",
                "/apis/visibility.kueue.x-k8s.io/v1beta2/namespaces/"
                f"{NAMESPACE}/localqueues/tier1/pendingworkloads",
            )
            assert summary["kind"] == "PendingWorkloadsSummary", summary
            return [
                w
                for w in summary["items"]
                if w["metadata"]["ownerReferences"][0]["name"] == "starved"
            ]

        (entry,) = eventually("the workload in the visibility API", listed)
        assert entry["localQueueName"] == "tier1"
        assert entry["positionInLocalQueue"] == 0 and entry["positionInClusterQueue"] == 0
    finally:
        fault("no-quota", "tier1", "--off")
    job = admin.request("GET", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/starved")
    eventually(
        "admitted once the quota is back",
        lambda: (
            not admin.request("GET", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/starved")[
                "spec"
            ].get("suspend")
        ),
    )
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "tier1"


def test_the_hub_account_holds_the_chart_role_and_helm_values_rbac_only(state) -> None:
    sa = "system:serviceaccount:jhub:hub"
    can = {
        ("create", "jobs.batch"): "yes",
        ("delete", "jobs.batch"): "yes",
        ("patch", "configmaps"): "yes",
        ("list", "workloads.kueue.x-k8s.io"): "yes",
        ("list", "nodes"): "yes",
        ("create", "workloads.kueue.x-k8s.io"): "no",
        ("delete", "nodes"): "no",
        ("create", "clusterroles.rbac.authorization.k8s.io"): "no",
        ("get", "secrets"): "yes",
    }
    for (verb, resource), expected in can.items():
        done = kubectl(
            state, "auth", "can-i", verb, resource, "-n", NAMESPACE, "--as", sa, check=False
        )
        assert done.stdout.strip() == expected, (verb, resource, done.stdout, done.stderr)
    assert Path(state.kubeconfig).is_file()


def test_after_the_api_server_stops_for_a_while_nodes_and_jobs_carry_on(admin: KubeApi) -> None:
    fault("apiserver-stop", "--seconds", "5")
    eventually("the API server is down", lambda: not admin.reachable(), timeout=30)
    eventually("the API server is back", admin.reachable, timeout=90)
    pod = run_job(admin, queued_job("after-outage", "local", "echo still here"))
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    for name in ("worker-a", "vk-tier1"):
        eventually(
            f"{name} Ready after the outage",
            lambda n=name: (
                condition(admin.request("GET", f"/api/v1/nodes/{n}"), "Ready")["status"] == "True"
            ),
        )


def test_a_restarted_kueue_admits_again(admin: KubeApi) -> None:
    fault("kueue-restart")
    pod = run_job(admin, queued_job("after-kueue-restart", "tier1", "echo admitted"))
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    assert pod["spec"]["nodeName"] == "vk-tier1"
