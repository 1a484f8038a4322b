"""A server at a remote site is stopped by the hub a little before the site's time limit
(copy_back_lead_seconds before its max_walltime), its files copied home first, rather than
killed by the site's batch system with its scratch home. Here the lead leaves the server
half a minute, and the hub polls every second."""

from __future__ import annotations

import pytest

from aiinfn_hub.placement import default_catalogue
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import HubClient, running_hub
from .test_copy_back import contents

LEONARDO = next(s for s in default_catalogue() if s.name == "leonardo")
LEFT = 30.0
USER = "frank"


@pytest.fixture(scope="module")
def hub(sandbox_process, tmp_path_factory):
    sandbox_process.reset()
    with running_hub(
        sandbox_process,
        tmp_path_factory.mktemp("hub-walltime"),
        interactive_offload=True,
        copy_back_lead_seconds=LEONARDO.capabilities.max_walltime - LEFT,
        poll_interval=1,
    ) as client:
        yield client
    sandbox_process.reset()


async def test_the_hub_copies_back_and_stops_a_server_before_the_sites_time_limit(
    hub: HubClient,
):
    said = await hub.spawn_ready(USER, {"profile": "automatic", "gpus": "1"})
    assert "your server runs at CINECA Leonardo" in said
    token = await hub.user_token(USER)
    body = {"type": "file", "format": "text", "content": "kept"}
    assert (await contents(hub, USER, token, "PUT", "kept.txt", body)).status_code == 201

    async def stopped() -> bool:
        server = await hub.server(USER)
        return server is None or not server.get("ready")

    await wait_until(stopped, LEFT + 60, 0.5, "the hub to stop the server before the limit")
    await wait_until(lambda: not hub.user_pods(USER), 60, 0.2, "the server's pod to go")

    said = await hub.spawn_ready(USER, {"profile": "automatic", "gpus": "0", "where": "local"})
    note = next((m for m in said if m.startswith("your last remote server: ")), said)
    assert "of your remote server were copied to from-leonardo-" in note, note
    folder = note.split("were copied to ")[1].split("/")[0]
    token = await hub.user_token(USER)
    kept = await contents(hub, USER, token, "GET", f"{folder}/kept.txt")
    assert kept.status_code == 200 and kept.json()["content"] == "kept", kept.text
    await hub.stop(USER)
