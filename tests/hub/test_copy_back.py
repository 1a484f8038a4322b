"""A server at a remote site does not silently lose its files: its home is a scratch folder
there, and before it stops (by its user here; the idle culler stops it through the same REST
call) the files created or changed in it are copied into the user's home volume by a
short-lived pod at the local site, up to copy_back_max_bytes, with a report; the next start
says so, and a local server finds them in the home.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from aiinfn_hub.spawner.copyback import COMPONENT

from .conftest import HubClient, running_hub

LIMIT = 4000
USER = "anna_bianchi"


@pytest.fixture(scope="module")
def hub(sandbox_process, tmp_path_factory):
    sandbox_process.reset()
    with running_hub(
        sandbox_process,
        tmp_path_factory.mktemp("hub-copy-back"),
        interactive_offload=True,
        copy_back_max_bytes=LIMIT,
    ) as client:
        yield client
    sandbox_process.reset()


async def contents(
    hub: HubClient, user: str, token: str, method: str, path: str, body: Any = None
) -> httpx.Response:
    """The user's server's contents API, through the proxy, with the user's token."""
    async with hub.client() as http:
        return await http.request(
            method,
            f"/user/{user}/api/contents/{path}",
            content=None if body is None else json.dumps(body),
            headers={"Authorization": f"token {token}"},
        )


def copy_pods(hub: HubClient) -> list[str]:
    return [
        name
        for name, pod in hub.pods().items()
        if (pod["metadata"].get("labels") or {}).get("component") == COMPONENT
    ]


async def test_a_remote_servers_changed_files_come_home_when_it_stops(hub: HubClient):
    said = await hub.spawn_ready(USER, {"profile": "automatic", "gpus": "1"})
    assert "your server runs at CINECA Leonardo" in said
    token = await hub.user_token(USER)
    made = await contents(hub, USER, token, "PUT", "results", {"type": "directory"})
    assert made.status_code == 201, made.text
    for path, text in (("results/model.txt", "trained weights"), ("big.txt", "x" * (LIMIT + 1))):
        saved = await contents(
            hub, USER, token, "PUT", path, {"type": "file", "format": "text", "content": text}
        )
        assert saved.status_code == 201, saved.text

    await hub.stop(USER)
    assert copy_pods(hub) == [], "the copy-back pod is removed"

    # a local server mounts the home volume: the files are there, and the start says so
    said = await hub.spawn_ready(USER, {"profile": "automatic", "gpus": "0", "where": "local"})
    note = next((m for m in said if m.startswith("your last remote server: ")), said)
    match = re.search(r"were copied to (from-leonardo-[0-9-]+)/ in your home folder", note)
    assert match, note
    assert "were not (see " in note and "COPY-BACK-REPORT.md" in note
    folder = match.group(1)
    token = await hub.user_token(USER)
    model = await contents(hub, USER, token, "GET", f"{folder}/results/model.txt")
    assert model.status_code == 200, model.text
    assert model.json()["content"] == "trained weights"
    report = (await contents(hub, USER, token, "GET", f"{folder}/COPY-BACK-REPORT.md")).json()
    assert "- results/model.txt (15 bytes)" in report["content"]
    assert f"- big.txt, {LIMIT + 1:,} bytes: over the {LIMIT:,}-byte limit" in report["content"]
    missing = await contents(hub, USER, token, "GET", "big.txt")
    assert missing.status_code == 404, "nothing over the limit was copied"
    await hub.stop(USER)


async def test_a_local_server_has_nothing_to_copy_back(hub: HubClient):
    said = await hub.spawn_ready("grace", {"profile": "automatic", "gpus": "1", "where": "local"})
    assert "your server runs at Local resources" in said
    state = (await hub.server("grace"))["state"]
    assert "aiinfn_scratch_place" not in state
    await hub.stop("grace")
    assert copy_pods(hub) == []
