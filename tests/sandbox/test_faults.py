"""Faults on demand, each as a real cluster shows it, through the Python API and the CLI."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.faults import parse_fault
from aiinfn_hub.sandbox.testing import wait_until

from .util import (
    KUEUE,
    condition,
    history,
    job_manifest,
    job_pods,
    wait_job,
    wait_workload,
)

GPU_JOB = {"requests": {"cpu": "1", "nvidia.com/gpu": "1"}}


def node_condition(node, ctype: str):
    return next((c for c in node.status.conditions if c.type == ctype), None)


def taint_keys(node) -> list[str]:
    return [t.key for t in node.spec.taints or []]


async def read_node(kube: client.ApiClient, name: str):
    return await client.CoreV1Api(kube).read_node(name)


async def wait_node(kube: client.ApiClient, name: str, predicate, message: str):
    async def check():
        node = await read_node(kube, name)
        return node if predicate(node) else None

    return await wait_until(check, message=message)


def aiinfn_hub(*args: str, kubeconfig: Path) -> subprocess.CompletedProcess:
    """The ``aiinfn-hub`` command as a user runs it."""
    script = shutil.which("aiinfn-hub", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "aiinfn_hub.cli"]
    return subprocess.run(
        [*command, "sandbox", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_site_down(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    result = sandbox.faults.site_down("leonardo", message="Ping to InterLink API failed: 502")
    assert result["state"]["site-down"] == ["leonardo"]
    node = await read_node(kube, "vk-leonardo")
    ready = node_condition(node, "Ready")
    assert (ready.status, ready.reason) == ("False", "KubeletNotReady")
    link = node_condition(node, "InterlinkConnectivity")
    assert (link.status, link.reason) == ("False", "InterlinkPingFailed")
    assert link.message == "Ping to InterLink API failed: 502"
    assert "node.kubernetes.io/not-ready" in taint_keys(node)
    # new work does not land on it: the not-ready taint keeps the scheduler away
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(
        "default", job_manifest("waits", ["true"], queue="leonardo", **GPU_JOB)
    )
    await wait_workload(kube, "waits", "Admitted")

    async def unschedulable():
        pods = await job_pods(kube, "waits")
        return any(
            c.reason == "Unschedulable" and "node.kubernetes.io/not-ready" in c.message
            for p in pods
            for c in p.status.conditions or []
        )

    await wait_until(unschedulable, message="the pod to be unschedulable on the down site")
    sandbox.faults.site_down("leonardo", on=False)
    node = await wait_node(
        kube,
        "vk-leonardo",
        lambda n: node_condition(n, "Ready").status == "True",
        "the site to come back",
    )
    assert node_condition(node, "InterlinkConnectivity").reason == "InterlinkPingSuccessful"
    assert "node.kubernetes.io/not-ready" not in taint_keys(node)
    await wait_job(kube, "waits")


async def test_maintenance(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    sandbox.faults.maintenance("leonardo")
    node = await read_node(kube, "vk-leonardo")
    taints = {(t.key, t.value, t.effect) for t in node.spec.taints}
    assert ("slurm.interlink/maintenance", "scheduled", "NoSchedule") in taints
    assert ("virtual-node.interlink/no-schedule", "true", "NoSchedule") in taints
    assert node_condition(node, "Ready").status == "True"  # in maintenance, not down
    sandbox.faults.maintenance("local")
    for name in ("local-cpu-1", "local-gpu-t4-1"):
        local = await read_node(kube, name)
        assert local.spec.unschedulable is True
        assert "node.kubernetes.io/unschedulable" in taint_keys(local)
    sandbox.faults.maintenance("leonardo", on=False)
    sandbox.faults.maintenance("local", on=False)
    node = await read_node(kube, "vk-leonardo")
    assert taint_keys(node) == ["virtual-node.interlink/no-schedule"]
    local = await read_node(kube, "local-cpu-1")
    assert not local.spec.unschedulable and not local.spec.taints


async def test_stalled_admission(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    sandbox.faults.stall_admission("tier1")
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job("default", job_manifest("stalled", ["true"], queue="tier1"))
    wl = await wait_workload(kube, "stalled", "QuotaReserved", "False", reason="Pending")
    assert "insufficient unused quota" in condition(wl, "QuotaReserved")["message"]
    assert condition(wl, "Admitted") is None or condition(wl, "Admitted")["status"] == "False"
    job = await batch.read_namespaced_job("stalled", "default")
    assert job.spec.suspend is True and await job_pods(kube, "stalled") == []
    sandbox.faults.stall_admission("tier1", on=False)
    await wait_workload(kube, "stalled", "Admitted")
    await wait_job(kube, "stalled")


async def test_remote_submission_failing(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    sandbox.faults.provider_failure("leonardo")
    batch = client.BatchV1Api(kube)
    manifest = job_manifest("offload", ["true"], queue="leonardo", backoffLimit=0, **GPU_JOB)
    await batch.create_namespaced_job("default", manifest)
    job = await wait_job(kube, "offload", "Failed", timeout=30)
    (pod,) = await job_pods(kube, "offload")
    assert pod.status.phase == "Failed" and pod.status.reason == "ProviderFailed"
    assert pod.status.message == "Error creating the remote job: HTTP 504 Gateway Timeout"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (1, "ProviderFailed")
    assert terminated.message == pod.status.message
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert failed.reason == "BackoffLimitExceeded"
    wl = await wait_workload(kube, "offload", "Finished", reason="Failed")
    assert condition(wl, "Finished")["status"] == "True"


async def test_infrastructure_exit_codes(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    sandbox.faults.infra_exit_code("tier1", 502)
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(
        "default", job_manifest("lost", ["true"], queue="tier1", backoffLimit=0)
    )
    await wait_job(kube, "lost", "Failed", timeout=30)
    (pod,) = await job_pods(kube, "lost")
    assert pod.status.reason == "Error: 502"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (502, "Error: 502")


async def test_api_latency(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    core = client.CoreV1Api(kube)
    sandbox.faults.api_latency(150)
    started = time.monotonic()
    for _ in range(3):
        await core.list_namespaced_pod("default")
    slowed = time.monotonic() - started
    assert slowed >= 0.45  # at least the latency asked for (a lower bound, not a timing limit)
    assert sandbox.faults.state()["api-latency"] == 150
    sandbox.faults.api_latency(0)
    assert sandbox.faults.state()["api-latency"] == 0


async def test_api_errors(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    core = client.CoreV1Api(kube)
    sandbox.faults.api_errors(1.0)
    with pytest.raises(client.ApiException) as caught:
        await core.list_namespaced_pod("default")
    body = json.loads(caught.value.body)
    assert caught.value.status == 503
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "ServiceUnavailable", 503)
    assert sandbox.info()["faults"]["api-errors"] == 1.0  # admin endpoints still answer
    sandbox.faults.api_errors(0.5)
    codes = []
    for _ in range(100):
        try:
            await core.read_namespace("default")
            codes.append(200)
        except client.ApiException as exc:
            codes.append(exc.status)
    assert set(codes) == {200, 503}
    sandbox.faults.api_errors(0)
    await core.list_namespaced_pod("default")


async def test_dropped_watches(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    core = client.CoreV1Api(kube)
    response = await core.list_namespaced_pod(
        "default", watch=True, timeout_seconds=600, _preload_content=False
    )
    try:
        await asyncio.sleep(0)  # the server has the watch once the headers are back
        result = await asyncio.to_thread(sandbox.faults.drop_watches)
        assert result["closed"] >= 1
        ended = await asyncio.wait_for(response.content.read(), 30)
        assert ended == b""  # the stream ended long before its timeout
    finally:
        response.close()


async def test_forbid_answers_as_rbac_does(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    """A token without a rule: the 403 Status the API server's authorizer writes."""
    account = "system:serviceaccount:jhub:hub"
    sandbox.faults.forbid("jobs.batch", verbs=("list", "watch"), user=account)
    sandbox.faults.forbid("pods/log", user=account)
    sandbox.faults.forbid("nodes")
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)
    with pytest.raises(client.ApiException) as caught:
        await batch.list_namespaced_job("jhub")
    assert caught.value.status == 403
    assert json.loads(caught.value.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'jobs.batch is forbidden: User "{account}" cannot list resource "jobs" '
        'in API group "batch" in the namespace "jhub"',
        "reason": "Forbidden",
        "details": {"group": "batch", "kind": "jobs"},
        "code": 403,
    }
    with pytest.raises(client.ApiException) as caught:
        await core.read_namespaced_pod_log("x", "default")
    assert json.loads(caught.value.body)["message"] == (
        f'pods "x" is forbidden: User "{account}" cannot get resource "pods/log" in API group '
        '"" in the namespace "default"'
    )
    with pytest.raises(client.ApiException) as caught:
        await core.list_node()
    assert json.loads(caught.value.body)["message"] == (
        'nodes is forbidden: User "aiinfn-sandbox" cannot list resource "nodes" in API group '
        '"" at the cluster scope'
    )
    await core.list_namespaced_pod("default")  # what is not named is allowed
    job = await batch.create_namespaced_job("default", job_manifest("allowed", ["true"]))
    assert job.metadata.name == "allowed"  # only list and watch of jobs are refused
    assert set(sandbox.faults.state()["forbid"]) == {"jobs.batch", "pods/log", "nodes"}
    sandbox.faults.forbid("nodes", on=False)
    await core.list_node()
    with pytest.raises(RuntimeError, match="400 forbid: name the resource"):
        sandbox.faults._apply({"fault": "forbid", "on": True})


def test_a_sandbox_without_kueue_serves_no_kueue_api(tmp_path: Path) -> None:
    """As a cluster where Kueue is not installed: 404 on its API, absent from discovery."""
    from urllib.error import HTTPError
    from urllib.request import urlopen

    with SandboxProcess(state_dir=tmp_path, kueue=False) as bare:
        assert bare.info()["kueue"] is False
        with urlopen(f"{bare.url}/apis") as response:
            groups = [g["name"] for g in json.loads(response.read())["groups"]]
        assert "kueue.x-k8s.io" not in groups and "batch" in groups
        with pytest.raises(HTTPError) as caught:
            urlopen(f"{bare.url}/apis/kueue.x-k8s.io/v1beta2/namespaces/default/workloads")
        assert caught.value.code == 404


async def test_preemption(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    batch = client.BatchV1Api(kube)
    custom = client.CustomObjectsApi(kube)
    await batch.create_namespaced_job(
        "default", job_manifest("victim", ["sleep", "60"], queue="tier1")
    )
    (first,) = await wait_until(lambda: job_pods(kube, "victim"), message="the victim's pod")
    wl = await wait_workload(kube, "victim", "Admitted")
    since = wl["metadata"]["resourceVersion"]
    result = sandbox.faults.preempt("tier1")
    assert result["evicted"] == 1
    seen = await history(
        custom.list_namespaced_custom_object,
        *KUEUE,
        "default",
        "workloads",
        resource_version=since,
        field_selector=f"metadata.name={wl['metadata']['name']}",
        until=lambda w: (condition(w, "Evicted") or {}).get("status") == "False",
    )
    evicted = next(w for w in seen if condition(w, "Evicted")["status"] == "True")
    assert condition(evicted, "Evicted")["reason"] == "Preempted"
    assert condition(evicted, "Preempted")["reason"] == "InClusterQueue"
    # the quota stays reserved until the Job's pods are gone, then the workload is requeued
    assert condition(evicted, "QuotaReserved")["status"] == "True"
    released = next(w for w in seen if condition(w, "QuotaReserved")["status"] == "False")
    assert condition(released, "Evicted")["status"] == "True"
    # Kueue's job reconciler releases it as Pending, with the eviction's message
    assert condition(released, "QuotaReserved")["reason"] == "Pending"
    said = condition(evicted, "Evicted")["message"]
    assert condition(released, "QuotaReserved")["message"] == said
    assert condition(released, "Admitted")["reason"] == "NoReservation"
    requeued = condition(released, "Requeued")
    assert (requeued["status"], requeued["reason"]) == ("True", "Preempted")  # no backoff
    assert "admission" not in released["status"]
    readmitted = seen[-1]
    assert condition(readmitted, "Evicted")["status"] == "False"
    assert condition(readmitted, "Evicted")["message"].startswith("Previously: Preempted")
    assert readmitted["status"]["schedulingStats"]["evictions"] == [
        {"reason": "Preempted", "underlyingCause": "", "count": 1}
    ]
    events = await client.CoreV1Api(kube).list_namespaced_event(
        "default", field_selector="involvedObject.name=victim,reason=Stopped"
    )
    assert events.items  # the Job was suspended again, its pods stopped

    async def replaced() -> bool:
        pods = await job_pods(kube, "victim")
        return bool(pods) and first.metadata.uid not in {p.metadata.uid for p in pods}

    await wait_until(replaced, message="the preempted pod to be replaced")


async def test_the_cli_switches_faults(kube: client.ApiClient, sandbox: SandboxProcess) -> None:
    config = sandbox.kubeconfig
    down = aiinfn_hub(
        "fault", "site-down", "tier1", "--message", "tunnel closed", "--json", kubeconfig=config
    )
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["state"]["site-down"] == ["tier1"]
    node = await read_node(kube, "vk-tier1")
    assert node_condition(node, "InterlinkConnectivity").message == "tunnel closed"
    assert node_condition(node, "Ready").status == "False"

    steps = [
        ("maintenance", "leonardo"),
        ("stall-admission", "local"),
        ("provider-failure", "leonardo", "--message", "sbatch: error: invalid account"),
        ("exit-code", "tier1", "--code", "404"),
        ("api-latency", "--ms", "5"),
        ("api-errors", "--fraction", "0.01"),
        ("forbid", "--resource", "jobs.batch", "--verb", "list", "--user", "alice@infn.it"),
    ]
    for args in steps:
        done = aiinfn_hub("fault", *args, kubeconfig=config)
        assert done.returncode == 0, (args, done.stderr)
    state = sandbox.faults.state()
    assert state["maintenance"] == ["leonardo"] and state["stall-admission"] == ["local"]
    assert state["provider-failure"] == {"leonardo": "sbatch: error: invalid account"}
    assert state["exit-code"] == {"tier1": 404}
    assert (state["api-latency"], state["api-errors"]) == (5, 0.01)
    assert state["forbid"] == {"jobs.batch": {"verbs": ["list"], "user": "alice@infn.it"}}
    leonardo = await read_node(kube, "vk-leonardo")
    assert "slurm.interlink/maintenance" in taint_keys(leonardo)

    dropped = aiinfn_hub("fault", "drop-watches", "--json", kubeconfig=config)
    assert dropped.returncode == 0 and "closed" in json.loads(dropped.stdout)
    off = aiinfn_hub("fault", "site-down", "tier1", "--off", "--json", kubeconfig=config)
    assert off.returncode == 0 and json.loads(off.stdout)["state"]["site-down"] == []
    cleared = aiinfn_hub("fault", "clear", kubeconfig=config)
    assert cleared.returncode == 0
    assert sandbox.faults.state() == {
        "site-down": [],
        "maintenance": [],
        "stall-admission": [],
        "provider-failure": {},
        "exit-code": {},
        "api-latency": 0.0,
        "api-errors": 0.0,
        "forbid": {},
    }
    leonardo = await read_node(kube, "vk-leonardo")
    assert "slurm.interlink/maintenance" not in taint_keys(leonardo)

    status = aiinfn_hub("status", kubeconfig=config)
    info = json.loads(status.stdout)
    assert {s["name"] for s in info["sites"]} == {"local", "leonardo", "tier1"}


async def test_the_cli_takes_a_fault_as_the_docs_write_it_and_answers_in_words(
    kube: client.ApiClient, sandbox: SandboxProcess
) -> None:
    """``provider-failure:tier1`` (README, demo banner, notebooks) and ``provider-failure
    tier1`` are the same fault; the answer is a sentence, the JSON only with --json."""
    config = sandbox.kubeconfig
    done = aiinfn_hub("fault", "provider-failure:tier1", kubeconfig=config)
    assert done.returncode == 0, done.stderr
    assert sandbox.faults.state()["provider-failure"] == {
        "tier1": "Error creating the remote job: HTTP 504 Gateway Timeout"
    }
    assert done.stdout == (
        "provider-failure at tier1 is on: remote submissions fail with ProviderFailed, "
        '"Error creating the remote job: HTTP 504 Gateway Timeout".\n'
        "Faults on now: provider-failure:tier1.\n"
    )
    said = aiinfn_hub("fault", "exit-code:tier1:502", kubeconfig=config).stdout
    assert said.startswith(
        "exit-code at tier1 is on: its jobs end with infrastructure exit code 502."
    )
    assert aiinfn_hub("fault", "site-down:leonardo:power cut", kubeconfig=config).returncode == 0
    assert aiinfn_hub("fault", "api-latency:5", kubeconfig=config).returncode == 0
    state = sandbox.faults.state()
    assert state["exit-code"] == {"tier1": 502} and state["site-down"] == ["leonardo"]
    assert state["api-latency"] == 5
    node = await read_node(kube, "vk-leonardo")
    assert node_condition(node, "InterlinkConnectivity").message == "power cut"
    off = aiinfn_hub("fault", "provider-failure", "tier1", "--off", kubeconfig=config)
    assert off.stdout.splitlines() == [
        "provider-failure at tier1 is off.",
        "Faults on now: site-down:leonardo, exit-code:tier1, api-latency:5.",
    ]
    as_json = aiinfn_hub("fault", "site-down:leonardo", "--off", "--json", kubeconfig=config)
    assert json.loads(as_json.stdout)["state"]["site-down"] == []
    cleared = aiinfn_hub("fault", "clear", kubeconfig=config)
    assert cleared.stdout == "All faults are off.\n"


def test_the_cli_explains_bad_requests(sandbox: SandboxProcess) -> None:
    config = sandbox.kubeconfig
    for args, words in (
        (("site-down",), "site-down: name the site, e.g. site-down:leonardo"),
        (("site-down", "atlantis"), "unknown site 'atlantis'"),
        (("site-down:atlantis",), "unknown site 'atlantis'"),
        (("api-latency", "leonardo"), "api-latency takes a number, e.g. api-latency:200"),
        (("drop-watches:tier1",), "drop-watches takes no site"),
        (("meteor:tier1",), "unknown fault 'meteor'"),
        (("provider-failure:tier1", "leonardo"), "write the fault once"),
        (("exit-code:tier1:502", "--code", "404"), "give the code once"),
        (("api-errors", "--fraction", "2"), "between 0 and 1"),
    ):
        done = aiinfn_hub("fault", *args, kubeconfig=config)
        assert done.returncode == 2, (args, done.stdout)
        assert words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    for request, words in (
        ({"fault": "exit-code", "site": "tier1", "code": "lost"}, "code must be a whole number"),
        ({"fault": "api-latency", "ms": "nan"}, "ms must be a number, got 'nan'"),
        ({"fault": "api-errors", "fraction": [0.5]}, "fraction must be a number"),
        ({"fault": "site-down", "site": "tier1", "message": 5}, "message must be text"),
    ):
        with pytest.raises(Exception, match=re.escape(words)) as caught:
            sandbox.faults._apply(request)
        assert "400" in str(caught.value), caught.value
    assert sandbox.faults.state()["site-down"] == []
    missing = aiinfn_hub("fault", "clear", kubeconfig=Path("/nonexistent/kubeconfig"))
    assert missing.returncode == 2 and "cannot read kubeconfig" in missing.stderr


async def test_reset_between_tests_clears_faults_and_objects(
    kube: client.ApiClient, sandbox: SandboxProcess
) -> None:
    sandbox.faults.site_down("leonardo")
    await client.CoreV1Api(kube).create_namespaced_config_map(
        "default", {"metadata": {"name": "left-behind"}}
    )
    result = sandbox.reset()
    assert result["removed"] > 0
    node = await read_node(kube, "vk-leonardo")
    assert node_condition(node, "Ready").status == "True"
    names = await client.CoreV1Api(kube).list_namespaced_config_map("default")
    assert "left-behind" not in {c.metadata.name for c in names.items}
    queues = await client.CustomObjectsApi(kube).list_namespaced_custom_object(
        *KUEUE, "default", "localqueues"
    )
    assert {q["metadata"]["name"] for q in queues["items"]} == {"local", "leonardo", "tier1"}


@pytest.mark.parametrize(
    ("text", "request_"),
    [
        ("provider-failure:tier1", {"fault": "provider-failure", "site": "tier1", "on": True}),
        (
            "site-down:leonardo:power cut: back at 10:00",
            {
                "fault": "site-down",
                "site": "leonardo",
                "on": True,
                "message": "power cut: back at 10:00",
            },
        ),
        ("api-latency:250", {"fault": "api-latency", "ms": 250.0, "on": True}),
        ("api-errors:0.2", {"fault": "api-errors", "fraction": 0.2, "on": True}),
        ("exit-code:tier1:502", {"fault": "exit-code", "site": "tier1", "code": 502, "on": True}),
        ("exit-code:tier1", {"fault": "exit-code", "site": "tier1", "on": True}),
    ],
)
def test_faults_written_as_text(text: str, request_: dict) -> None:
    assert parse_fault(text) == request_


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("site-down", "site-down: name the site, e.g. site-down:leonardo"),
        ("api-latency:soon", "api-latency takes a number, e.g. api-latency:200"),
        ("api-errors:most", "api-errors takes a number, e.g. api-errors:0.2"),
        ("exit-code:tier1:lost", "the exit code is a whole number, e.g. exit-code:tier1:502"),
        ("preempt:leonardo", "unknown fault 'preempt'"),
        ("meteor:leonardo", "known: site-down, maintenance"),
    ],
)
def test_faults_written_wrong_say_how_to_write_them(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_fault(text)
