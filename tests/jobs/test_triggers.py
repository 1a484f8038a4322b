"""Fallback triggers end to end on the sandbox, each configured per site, beyond those in
test_controller.py: inadmissible Workloads, a remote queue that does not start the job, Kueue's
PodsReadyTimeout eviction, a NotReady virtual node, plans with nothing left, and triggers
switched off for one site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from aiinfn_hub.kube.client import MERGE_PATCH
from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import kube_client, wait_until

from .conftest import fast_config, give_home, start_manager, stop_manager, wait_for

SITES_YAML = Path(__file__).resolve().parents[2] / "aiinfn_hub" / "sandbox" / "sites.yaml"
GPU_JOB = {"command": ["python", "-c", "print('ran')"], "resources": {"gpus": 1}}


def policy(config, **sites):
    config.FallbackPolicy.sites = sites
    return config


async def run_one(kubeconfig, config, body=GPU_JOB, states=("succeeded", "failed")):
    manager = await start_manager(str(kubeconfig), config)
    try:
        view, _ = await manager.submit("alice", body)
        return await wait_for(manager, view["id"], states)
    finally:
        await stop_manager(manager)


def kueue_reason(view):
    """Kueue's reason on the job's current attempt (none before the attempt exists)."""
    return view["attempts"][-1]["kueue"].get("reason") if view["attempts"] else None


def fell_back_to_local(done, site="leonardo"):
    assert done["state"] == "succeeded", done
    first, second = done["attempts"]
    assert (first["site"], first["outcome"]) == (site, "fell_back")
    assert (second["site"], second["outcome"]) == ("local", "succeeded")
    return first


async def test_no_matching_flavor_falls_back_at_once(sandbox):
    """Leonardo's flavor names another node than the hub's Jobs select (Kueue and the hub
    disagree), while Leonardo's own node is up: Kueue can never admit the Job there."""
    api = await kube_client(sandbox.kubeconfig)
    async with api:
        await client.CustomObjectsApi(api).patch_cluster_custom_object(
            "kueue.x-k8s.io", "v1beta2", "resourceflavors", "leonardo",
            {"spec": {"nodeLabels": {"kubernetes.io/hostname": "vk-elsewhere"}}},
            _content_type=MERGE_PATCH,
        )  # fmt: skip
    config = fast_config(leonardo={"timeouts": {"admission": 600, "start": 600}})
    first = fell_back_to_local(await run_one(sandbox.kubeconfig, config))
    assert first["reason"].startswith("cannot be admitted there (NoMatchingFlavor: ")
    assert first["kueue"]["reason"] == "Pending"  # a default install's word, kept as Kueue said
    assert first["kueue"]["condition"] == "QuotaReserved"


async def test_misconfigured_queue_falls_back_at_once(sandbox):
    config = fast_config(
        leonardo={"wiring": {"local_queue": "leonardo-missing"}, "timeouts": {"admission": 600}}
    )
    first = fell_back_to_local(await run_one(sandbox.kubeconfig, config))
    assert first["reason"] == (
        "cannot be admitted there (Misconfigured: LocalQueue leonardo-missing doesn't exist)"
    )


async def test_node_not_ready_while_waiting_falls_back(sandbox):
    sandbox.faults.stall_admission("leonardo")
    config = fast_config(leonardo={"timeouts": {"admission": 600}})
    manager = await start_manager(str(sandbox.kubeconfig), config)
    try:
        view, _ = await manager.submit("alice", GPU_JOB)
        await wait_until(
            lambda: kueue_reason(manager.jobs[view["id"]].view) == "Pending",
            message="the job waiting for quota at Leonardo",
        )
        core = client.CoreV1Api(manager.kube.api_client)
        node = (await core.read_node("vk-leonardo")).to_dict()
        conditions = [
            {
                "type": c["type"],
                "status": "False" if c["type"] == "Ready" else c["status"],
                "reason": "KubeletNotReady" if c["type"] == "Ready" else c["reason"],
                "message": c.get("message") or "",
            }
            for c in node["status"]["conditions"]
        ]
        assert any(
            c["type"] == "InterlinkConnectivity" and c["status"] == "True" for c in conditions
        )
        await core.patch_node_status(
            "vk-leonardo", {"status": {"conditions": conditions}}, _content_type=MERGE_PATCH
        )
        done = await wait_for(manager, view["id"])
    finally:
        await stop_manager(manager)
    first = fell_back_to_local(done)
    assert first["reason"] == (
        "became unavailable while the job waited there "
        "(down: its node is not ready (node vk-leonardo is NotReady))"
    )


@pytest.fixture
def slow_remote(tmp_path: Path) -> Iterator:
    """A second sandbox whose Leonardo keeps pods in its remote queue for two minutes."""

    def start(pods_ready_timeout: int) -> SandboxProcess:
        topology = yaml.safe_load(SITES_YAML.read_text())
        for site in topology["sites"]:
            if site["name"] == "leonardo":
                site["remote_queue_delay"] = 120
        topology["kueue"]["pods_ready_timeout"] = pods_ready_timeout
        path = tmp_path / "sites.yaml"
        path.write_text(yaml.safe_dump(topology))
        process = SandboxProcess(config=path, state_dir=tmp_path / "state")
        started.append(process)
        return process.start()

    started: list[SandboxProcess] = []
    yield start
    for process in started:
        process.stop()


async def test_pending_at_the_remote_site_past_its_start_timeout_falls_back(slow_remote):
    sandbox = slow_remote(pods_ready_timeout=1800)
    first = fell_back_to_local(await run_one(sandbox.kubeconfig, fast_config()))
    assert first["reason"] == ("did not start within 2s (still waiting in the remote batch queue)")
    assert first["remote_job_id"].startswith("slurm-")


async def test_evicted_by_kueue_pods_ready_timeout_falls_back(slow_remote):
    sandbox = slow_remote(pods_ready_timeout=2)
    config = fast_config(leonardo={"timeouts": {"admission": 600, "start": 600}})
    first = fell_back_to_local(await run_one(sandbox.kubeconfig, config))
    assert first["reason"].startswith("evicted by Kueue (PodsReadyTimeout: ")


async def test_an_eviction_reason_a_site_does_not_list_keeps_the_job_there(slow_remote):
    sandbox = slow_remote(pods_ready_timeout=2)
    config = fast_config(leonardo={"timeouts": {"admission": 600, "start": 600}})
    policy(config, leonardo={"eviction_reasons": ["Preempted"]})
    manager = await start_manager(str(sandbox.kubeconfig), config)
    try:
        view, _ = await manager.submit("alice", GPU_JOB)

        def evicted():
            # Kueue records the eviction before the Job is suspended again: wait for both
            current = manager.jobs[view["id"]].view
            suspended = current["state"] == "queued"
            return kueue_reason(current) == "PodsReadyTimeout" and suspended and current

        seen = await wait_until(evicted, timeout=30, message="the PodsReadyTimeout eviction")
    finally:
        await stop_manager(manager)
    assert seen["site"] == "leonardo" and seen["state"] == "queued"
    assert [a["outcome"] for a in seen["attempts"]] == [None]


async def test_infrastructure_exit_code_not_listed_for_a_site_fails_the_job(sandbox):
    sandbox.faults.infra_exit_code("tier1", 404)
    config = policy(fast_config(), tier1={"infrastructure_exit_codes": [502]})
    done = await run_one(sandbox.kubeconfig, config, {"command": ["true"]})
    assert done["state"] == "failed"
    assert [(a["site"], a["outcome"]) for a in done["attempts"]] == [("tier1", "failed")]
    assert done["reason"] == "your code exited with code 404; see the job's log"


async def test_provider_failure_with_its_trigger_off_fails_and_says_why(sandbox):
    sandbox.faults.provider_failure("leonardo")
    config = policy(fast_config(), leonardo={"provider_failed": False})
    done = await run_one(sandbox.kubeconfig, config)
    assert done["state"] == "failed"
    assert done["reason"].startswith("the remote submission failed: Error creating")
    assert done["reason"].endswith("(this site does not fall back on it)")


async def test_local_row_with_nothing_left_fails_with_its_history(sandbox):
    config = fast_config(local={"wiring": {"local_queue": "local-missing"}})
    await give_home(sandbox.kubeconfig)
    done = await run_one(sandbox.kubeconfig, config, {"command": ["true"], "volumes": ["pvc"]})
    assert done["state"] == "failed"
    [attempt] = done["attempts"]
    assert (attempt["site"], attempt["outcome"]) == ("local", "failed")
    assert done["reason"] == (
        "Local resources: cannot be admitted there (Misconfigured: LocalQueue local-missing "
        "doesn't exist); no site left to try"
    )


async def test_every_site_failing_ends_the_job_with_the_whole_history(sandbox):
    sandbox.faults.provider_failure("leonardo")
    config = fast_config(local={"wiring": {"local_queue": "local-missing"}})
    done = await run_one(sandbox.kubeconfig, config)
    assert done["state"] == "failed"
    assert [(a["site"], a["outcome"]) for a in done["attempts"]] == [
        ("leonardo", "fell_back"),
        ("local", "failed"),
    ]
    assert done["attempts"][0]["reason"].startswith("the remote submission failed")
    assert "Misconfigured" in done["attempts"][1]["reason"]
    assert done["fallback"].startswith("CINECA Leonardo: the remote submission failed")
