"""A server at a remote site that interLink does not connect to the cluster's network.

interLink's virtual kubelet gives such a pod the address 127.0.0.1 (the sandbox does as it
does): from the hub, its own loopback. Here the admin has dropped the VPN annotation that the
spawner asks interLink for by default (``offload_annotations``), so a GPU server sent to CINECA
Leonardo runs but cannot be reached. The spawner notices at once, removes it and starts the
server on a local GPU node, and the progress page says why; without that check the hub would
wait ``http_timeout`` for an address nobody answers at and fail the spawn.
"""

from __future__ import annotations

import pytest

from .conftest import HubClient, running_hub


@pytest.fixture(scope="module")
def hub(sandbox_process, tmp_path_factory):
    sandbox_process.reset()
    with running_hub(
        sandbox_process,
        tmp_path_factory.mktemp("hub-unconnected"),
        interactive_offload=True,
        offload_annotations={},
    ) as client:
        yield client
    sandbox_process.reset()


async def test_a_server_interlink_does_not_connect_falls_back_to_a_local_gpu_node(hub: HubClient):
    said = await hub.spawn_ready("erin", {"profile": "automatic", "gpus": "1"})

    first = said.index(next(m for m in said if m.startswith("starting your server at CINECA")))
    failed = next(m for m in said if m.startswith("CINECA Leonardo runs your server, but"))
    assert failed == (
        "CINECA Leonardo runs your server, but the hub cannot connect to it there (interLink "
        "gave it no address in the cluster's network: its VPN or tunnel is not on for this "
        "server); falling back to Local resources"
    )
    fallback = said.index("starting your server at Local resources on A100 GPUs (fallback)")
    assert first < said.index(failed) < fallback
    final = next(m for m in said if m.startswith("your server runs at"))
    assert final.startswith("your server runs at Local resources; it fell back from CINECA")

    pods = hub.pods()
    assert list(pods) == ["jupyter-erin"], "the unreachable server at Leonardo was removed"
    assert pods["jupyter-erin"]["spec"]["nodeName"] == "local-gpu-a100-1"
    state = (await hub.server("erin"))["state"]
    assert [a["site"] for a in state["aiinfn_attempts"]] == ["leonardo", "local"]
    async with hub.login("erin") as browser:
        lab = await browser.get("/user/erin/lab")
        assert lab.status_code == 200 and "<title>JupyterLab</title>" in lab.text
    await hub.stop("erin")
