"""The automatic profile with interactive offloading on: the placement engine chooses where the
user's server runs (CINECA Leonardo for GPU servers while it is healthy), and the progress page
says where, why, and that it fell back when Leonardo is down.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiinfn_hub.serverplace import ServerPlace

from .conftest import HubClient, running_hub


@pytest.fixture(scope="module")
def hub(sandbox_process, tmp_path_factory):
    sandbox_process.reset()
    with running_hub(
        sandbox_process, tmp_path_factory.mktemp("hub-offload"), interactive_offload=True
    ) as client:
        yield client
    sandbox_process.reset()


async def spawn_automatic(hub: HubClient, user: str, gpus: int) -> list[str]:
    return await hub.spawn_ready(user, {"profile": "automatic", "gpus": str(gpus)})


def required_terms(pod: dict[str, Any]) -> list[dict[str, Any]]:
    affinity = pod["spec"].get("affinity") or {}
    required = (affinity.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    return required.get("nodeSelectorTerms") or []


async def test_a_gpu_server_lands_on_leonardo_while_it_is_healthy(hub: HubClient):
    said = await spawn_automatic(hub, "alice", 1)
    assert any(
        m.startswith("starting your server at CINECA Leonardo on A100 GPUs: first choice")
        for m in said
    ), said
    assert any("cannot be mounted at CINECA Leonardo" in m and "scratch" in m for m in said)
    assert "your server runs at CINECA Leonardo" in said
    assert not any("fell back" in m for m in said), said

    pod = hub.pod("alice")
    spec = pod["spec"]
    assert spec["nodeName"] == "vk-leonardo"
    assert spec["nodeSelector"]["kubernetes.io/hostname"] == "vk-leonardo"
    assert {"key": "virtual-node.interlink/no-schedule", "operator": "Exists",
            "effect": "NoSchedule"} in spec["tolerations"]  # fmt: skip
    annotations = pod["metadata"]["annotations"]
    assert annotations["interlink.eu/pod-vpn"] == "true"
    assert annotations["slurm-job.vk.io/flags"] == "--partition=boost_usr_prod"
    assert required_terms(pod) == [
        {"matchExpressions": [{"key": "nvidia-gpu-type", "operator": "In", "values": ["A100"]}]}
    ]
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    (home,) = [v for v in spec["volumes"] if v["name"] == "home"]
    assert "persistentVolumeClaim" not in home and home["emptyDir"] == {}
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["AIINFN_SITE"] == "leonardo"
    # what the server's JupyterLab shows for the whole session
    place = ServerPlace.from_env(env)
    assert (place.site_name, place.remote, place.scratch_volumes) == (
        "CINECA Leonardo",
        True,
        ("home",),
    )
    assert place.copy_back_bytes == 2**30 and not place.fell_back_from
    assert place.ends_at is not None

    state = (await hub.server("alice"))["state"]
    assert state["aiinfn_site"] == "leonardo"
    assert state["aiinfn_scratch_place"]["scratch_volumes"] == ["home"]
    assert state["aiinfn_attempts"] == [{"site": "leonardo", "outcome": "running"}]
    async with hub.login("alice") as browser:
        lab = await browser.get("/user/alice/lab")
        assert lab.status_code == 200 and "<title>JupyterLab</title>" in lab.text
    await hub.stop("alice")


async def test_a_user_who_keeps_the_server_local_gets_a_local_gpu_node_and_their_home(
    hub: HubClient,
):
    said = await hub.spawn_ready(
        "mario.rossi@infn.it", {"profile": "automatic", "gpus": "1", "where": "local"}
    )
    assert "kept at local resources, as you chose: your home folder is mounted" in said
    assert not any("scratch" in m for m in said), said
    pod = hub.user_pod("mario.rossi@infn.it")
    assert pod["spec"]["nodeName"].startswith("local-gpu-")
    (home,) = [v for v in pod["spec"]["volumes"] if v["name"] == "home"]
    assert "persistentVolumeClaim" in home
    await hub.stop("mario.rossi@infn.it")


async def test_a_cpu_server_follows_the_table_to_the_tier1(hub: HubClient):
    said = await spawn_automatic(hub, "bob", 0)
    assert any(m.startswith("starting your server at CNAF Tier-1: first choice") for m in said)
    assert hub.pod("bob")["spec"]["nodeName"] == "vk-tier1"
    await hub.stop("bob")


async def test_leonardo_down_falls_back_to_a_local_gpu_node_and_says_so(hub: HubClient):
    hub.sandbox.faults.site_down("leonardo", message="Ping to InterLink API failed")
    try:
        said = await spawn_automatic(hub, "carol", 2)
    finally:
        hub.sandbox.faults.site_down("leonardo", on=False)
    assert any(
        m.startswith("not at CINECA Leonardo: it is down: the connection to the site is lost")
        for m in said
    ), said
    assert "starting your server at Local resources on A100 GPUs (fallback)" in said
    final = next(m for m in said if m.startswith("your server runs at"))
    assert final.startswith(
        "your server runs at Local resources; it fell back from CINECA Leonardo"
    )
    assert "Ping to InterLink API failed" in final

    pod = hub.pod("carol")
    # the model of the table's first choice (Leonardo's A100), at the local site
    assert pod["spec"]["nodeName"] == "local-gpu-a100-1"
    assert required_terms(pod) == [
        {
            "matchExpressions": [
                {"key": "nvidia.com/gpu.product", "operator": "In",
                 "values": ["NVIDIA-A100-SXM4-40GB"]}
            ]
        }
    ]  # fmt: skip
    assert not any("interlink" in k for k in pod["metadata"].get("annotations") or {})
    (home,) = [v for v in pod["spec"]["volumes"] if v["name"] == "home"]
    assert home["persistentVolumeClaim"]["claimName"] == "claim-carol"
    state = (await hub.server("carol"))["state"]
    assert state["aiinfn_site"] == "local" and "aiinfn_scratch_place" not in state
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    place = ServerPlace.from_env(env)
    assert place.summary() == "Local resources · fell back"
    (step,) = place.fell_back_from
    assert step.site_name == "CINECA Leonardo" and "Ping to InterLink API failed" in step.reason
    await hub.stop("carol")


async def test_leonardo_failing_the_server_falls_back_to_a_local_gpu_node_and_says_so(
    hub: HubClient,
):
    """Leonardo is up but its batch system refuses the server: the pod fails there, the
    spawner removes it and starts the server locally, and the page says where and why."""
    hub.sandbox.faults.provider_failure("leonardo", message="sbatch: invalid account")
    try:
        said = await spawn_automatic(hub, "dave", 1)
    finally:
        hub.sandbox.faults.provider_failure("leonardo", on=False)
    first = said.index(next(m for m in said if m.startswith("starting your server at CINECA")))
    failed = next(m for m in said if m.startswith("CINECA Leonardo could not run your server"))
    assert "sbatch: invalid account" in failed, failed
    assert failed.endswith("; falling back to Local resources"), failed
    fallback = said.index("starting your server at Local resources on A100 GPUs (fallback)")
    assert first < said.index(failed) < fallback
    final = next(m for m in said if m.startswith("your server runs at"))
    assert final.startswith(
        "your server runs at Local resources; it fell back from CINECA Leonardo: "
        "CINECA Leonardo could not run your server"
    ), final

    assert hub.pod("dave")["spec"]["nodeName"] == "local-gpu-a100-1"
    state = (await hub.server("dave"))["state"]
    assert [a["site"] for a in state["aiinfn_attempts"]] == ["leonardo", "local"]
    await hub.stop("dave")
