"""A user server's terminal, as a user opens one in JupyterLab: jupyter-server's terminals API
and its websocket (terminado) through the proxy. It finds the kernel's ``python`` and tools,
starts in the file browser's folder (the user's home) and reads as the container would, with
no path of the host the sandbox runs on."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from urllib.parse import quote

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from aiinfn_hub.sandbox.podshell import IMAGE_HOME

from .conftest import HubClient

USER = "anna_bianchi"
MARK = "AIINFN-TERMINAL-DONE"


async def _terminal_output(hub: HubClient, token: str, commands: str) -> str:
    """Open a terminal as JupyterLab does (POST /api/terminals with the file browser's folder,
    then its websocket), type ``commands`` and return what the terminal shows."""
    base = f"/user/{quote(USER)}"
    headers = {"Authorization": f"token {token}"}
    async with hub.client() as http:
        made = await http.post(f"{base}/api/terminals", headers=headers, json={"cwd": ""})
        assert made.status_code == 200, made.text
    name = made.json()["name"]
    url = hub.url.replace("http", "ws", 1) + f"{base}/terminals/websocket/{name}"
    socket = await websocket_connect(HTTPRequest(url, headers=headers))
    shown = ""
    try:
        socket.write_message(json.dumps(["stdin", f"{commands}; echo {MARK[:8]}''{MARK[8:]}\r"]))
        while MARK not in shown:
            message = await asyncio.wait_for(socket.read_message(), 60)
            assert message is not None, f"the terminal closed; it showed: {shown}"
            kind, *rest = json.loads(message)
            if kind == "stdout":
                shown += rest[0]
    finally:
        socket.close()
        async with hub.client() as http:
            await http.delete(f"{base}/api/terminals/{name}", headers=headers)
    return shown


async def test_a_terminal_finds_python_starts_in_the_home_and_shows_no_host_path(
    hub: HubClient,
) -> None:
    await hub.spawn_ready(USER, {"profile": "cpu-small"})
    try:
        token = await hub.user_token(USER)
        shown = await _terminal_output(
            hub,
            token,
            "echo HOME=$HOME; echo PWD=$(pwd); ls -d examples; "
            "python -c 'import jupyter_server, sys; print(\"PY\", sys.prefix)'; "
            "which jupyter",
        )
        pod = hub.user_pod(USER)
        shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).replace("\r", "")  # terminal codes
        lines = shown.splitlines()
        assert f"HOME={IMAGE_HOME}" in lines, shown
        assert f"PWD={IMAGE_HOME}" in lines, shown  # where the file browser is: the home
        assert "examples" in lines, shown  # what the file browser shows there
        assert any(line.startswith("PY ") for line in lines), shown  # the kernel's python
        assert any(line.endswith("/jupyter") for line in lines), shown
        # the prompt: the pod's name and the container's home, as in a real pod
        prompt = re.search(r"[\w.-]+@([\w.-]+):(\S*)[#$] ", shown)
        assert prompt is not None, shown
        assert prompt.groups() == (pod["metadata"]["name"], "~"), shown
        host_dirs = {str(hub.process.hub.state_dir), str(Path(hub.sandbox.state_dir).resolve())}
        host_dirs.add(str(Path(hub.sandbox.state_dir)))
        for host in host_dirs:
            assert host not in shown, (host, shown)
    finally:
        await hub.stop(USER)


async def test_a_user_server_asks_no_news_question(hub: HubClient) -> None:
    """JupyterLab's "news" question would cover the panel on a first screen; the user servers
    read the overrides an image carries, which turn it off."""
    await hub.spawn_ready(USER, {"profile": "cpu-small"})
    try:
        token = await hub.user_token(USER)
        path = f"/user/{quote(USER)}/lab/api/settings/@jupyterlab/apputils-extension:notification"
        async with hub.client() as http:
            answer = await http.get(path, headers={"Authorization": f"token {token}"})
        assert answer.status_code == 200, answer.text
        defaults = answer.json()["schema"]["properties"]
        assert defaults["fetchNews"]["default"] == "false"
        assert defaults["checkForUpdates"]["default"] is False
    finally:
        await hub.stop(USER)
