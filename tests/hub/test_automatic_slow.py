"""The automatic profile when CINECA Leonardo is healthy but slower than its start timeout:
the spawner removes the waiting server, starts it on a local GPU node, and the progress page
says where, why, and that it fell back.

This module runs its own sandbox, whose Leonardo queues a pod for two minutes, and a hub that
gives Leonardo a few seconds.
"""

from __future__ import annotations

import pytest
import yaml

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.topology import default_config_text

from .conftest import HubClient, running_hub

LEONARDO_TIMEOUT = 4.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    state = tmp_path_factory.mktemp("slow-leonardo")
    topology = yaml.safe_load(default_config_text())
    for site in topology["sites"]:
        if site["name"] == "leonardo":
            site["remote_queue_delay"] = 120
    sites = state / "sites.yaml"
    sites.write_text(yaml.safe_dump(topology))
    sandbox = SandboxProcess(port=free_port(), config=sites, state_dir=state / "sandbox")
    sandbox.start()
    try:
        with running_hub(
            sandbox,
            state / "hub",
            interactive_offload=True,
            session_start_timeouts={"leonardo": LEONARDO_TIMEOUT},
        ) as client:
            yield client
    finally:
        sandbox.stop()


async def test_a_slow_leonardo_falls_back_to_a_local_gpu_node_and_says_so(hub: HubClient):
    said = await hub.spawn_ready("alice", {"profile": "automatic", "gpus": "1"})

    first = said.index(next(m for m in said if m.startswith("starting your server at CINECA")))
    waited = next(m for m in said if "did not start your server" in m)
    assert waited.startswith(
        f"CINECA Leonardo did not start your server within {LEONARDO_TIMEOUT:g} s "
        "(waiting in CINECA Leonardo's batch queue (job slurm-"
    ), waited
    assert waited.endswith("; falling back to Local resources")
    fallback = said.index("starting your server at Local resources on A100 GPUs (fallback)")
    assert first < said.index(waited) < fallback
    final = next(m for m in said if m.startswith("your server runs at"))
    assert final.startswith(
        "your server runs at Local resources; it fell back from CINECA Leonardo: "
        f"CINECA Leonardo did not start your server within {LEONARDO_TIMEOUT:g} s"
    ), said

    pods = hub.pods()
    assert list(pods) == ["jupyter-alice"], "the server waiting at Leonardo was removed"
    assert pods["jupyter-alice"]["spec"]["nodeName"] == "local-gpu-a100-1"
    state = (await hub.server("alice"))["state"]
    assert [a["site"] for a in state["aiinfn_attempts"]] == ["leonardo", "local"]
    assert state["aiinfn_attempts"][-1]["outcome"] == "running"
    async with hub.login("alice") as browser:
        lab = await browser.get("/user/alice/lab")
        assert lab.status_code == 200 and "<title>JupyterLab</title>" in lab.text
    await hub.stop("alice")
