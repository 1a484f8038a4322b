"""The jobs service as a JupyterHub managed service, with a real JupyterHub and
configurable-http-proxy on the sandbox: JupyterHub tokens and the OAuth cookie authenticate
users, each sees and acts on their own jobs only, an admin on everyone's."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.request import Request, urlopen

import aiohttp
import pytest

from aiinfn_hub.hubconfig import DEMO_PASSWORD, SERVICE, SandboxHub, load_values
from aiinfn_hub.hubprocess import HubProcess
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import wait_until

from .service import EventStream, call

pytestmark = pytest.mark.slow
SHORT = {"command": ["python", "-c", "print('hi')"], "local_only": True}
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Hub:
    url: str  # the proxy's public URL
    service: str  # the jobs service behind the proxy
    admin_token: str  # a service token with the hub's admin scopes
    tokens: dict[str, str]  # users' JupyterHub API tokens


def hub_api(hub_url: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = Request(f"{hub_url}/hub/api/{path}", data=data, method=method)
    request.add_header("Authorization", f"token {token}")
    with urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def hub(sandbox_process, tmp_path_factory) -> Iterator[Hub]:
    sandbox_process.reset()
    admin_token = secrets.token_hex(16)
    config = SandboxHub(
        kubeconfig=sandbox_process.kubeconfig,
        state_dir=tmp_path_factory.mktemp("hub"),
        port=free_port(),
        hub_port=free_port(),
        proxy_api_port=free_port(),
        jobs_port=free_port(),
        api_token=admin_token,
    )
    with HubProcess(config) as process:
        tokens = {
            user: hub_api(process.url, admin_token, "POST", f"users/{user}/tokens", {})["token"]
            for user in ("alice", "bob", "admin")
        }
        limited = hub_api(
            process.url,
            admin_token,
            "POST",
            "users/carol/tokens",
            {"scopes": ["read:users:name!user=carol"]},
        )
        tokens["carol-limited"] = limited["token"]
        yield Hub(process.url, f"{process.url}/services/{SERVICE}/", admin_token, tokens)
    sandbox_process.reset()


async def wait_state(hub: Hub, job_id: str, token: str, states=TERMINAL) -> dict:
    async def ended():
        status, job = await call("GET", f"{hub.service}jobs/{job_id}", token=token)
        return status == 200 and job["state"] in states and job

    return await wait_until(ended, timeout=60, interval=0.2, message=f"job {job_id}")


async def test_hub_tokens_isolate_users_and_admins_see_all(hub):
    alice, bob, admin = (hub.tokens[u] for u in ("alice", "bob", "admin"))
    async with EventStream(hub.service, bob) as bobs_events:
        status, job = await call(
            "POST", hub.service + "jobs", {**SHORT, "command": ["sleep", "60"]}, token=alice
        )
        assert status == 201 and job["owner"] == "alice"
        status, bobs = await call("POST", hub.service + "jobs", SHORT, token=bob)
        assert status == 201 and bobs["owner"] == "bob"
        await wait_state(hub, job["id"], alice, ("running",))
        await wait_state(hub, bobs["id"], bob)
        await wait_until(
            lambda: "succeeded" in bobs_events.states(bobs["id"]), message="bob's own events"
        )
    assert {e["job"]["owner"] for e in bobs_events.events} == {"bob"}

    for method, path, body in [
        ("GET", f"jobs/{job['id']}", None),
        ("GET", f"jobs/{job['id']}/log", None),
        ("POST", f"jobs/{job['id']}/rerun", {}),
        ("DELETE", f"jobs/{job['id']}", None),
    ]:
        status, error = await call(method, hub.service + path, body, token=bob)
        assert status == 404 and "among your jobs" in error["error"], (method, path, error)
    status, page = await call("GET", hub.service + "jobs", token=bob)
    assert [j["id"] for j in page["jobs"]] == [bobs["id"]]
    status, error = await call("GET", hub.service + "jobs?user=alice", token=bob)
    assert status == 403

    status, everyone = await call("GET", hub.service + "jobs", token=admin)
    assert {j["id"] for j in everyone["jobs"]} >= {job["id"], bobs["id"]}
    status, log = await call("GET", f"{hub.service}jobs/{bobs['id']}/log", token=admin)
    assert status == 200 and log["data"] == "hi\n"
    status, cancelled = await call("DELETE", f"{hub.service}jobs/{job['id']}", token=admin)
    assert status == 200 and cancelled["reason"] == "cancelled by admin admin"
    status, again = await call("GET", f"{hub.service}jobs/{job['id']}", token=alice)
    assert again["state"] == "cancelled"


async def test_tokens_the_hub_does_not_accept_are_refused(hub):
    for token in ("not-a-token", hub.tokens["carol-limited"], None):
        status, error = await call("GET", hub.service + "jobs", token=token)
        assert status == 401, error
        assert "Authorization: token" in error["error"]


async def test_oauth_cookie_login_and_xsrf(hub):
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{hub.url}/hub/login") as page:
            assert page.status == 200
        xsrf = next(c.value for c in jar if c.key == "_xsrf")
        form = {"username": "bob", "password": DEMO_PASSWORD, "_xsrf": xsrf}
        async with browser.post(f"{hub.url}/hub/login", data=form, allow_redirects=False) as login:
            assert login.status == 302, await login.text()

        # the browser opens the service: OAuth with the hub, then back to the page it asked for
        html = {"Accept": "text/html"}
        async with browser.get(hub.service + "jobs", headers=html) as page:
            assert page.status == 200, await page.text()
            assert [str(r.url).split("?")[0] for r in page.history][-1].endswith("oauth_callback")
            listing = await page.json()
        assert listing["jobs"] == [] or {j["owner"] for j in listing["jobs"]} == {"bob"}

        # the cookie alone does not authorize a change (cross-site request forgery) ...
        async with browser.post(hub.service + "jobs", json=SHORT) as refused:
            assert refused.status == 401
        # ... the cookie with the service's XSRF token does
        service_xsrf = next(
            c.value for c in jar if c.key == "_xsrf" and c["path"].startswith("/services/")
        )
        async with browser.post(
            hub.service + "jobs", json=SHORT, headers={"X-XSRFToken": service_xsrf}
        ) as created:
            assert created.status == 201, await created.text()
            job = await created.json()
    assert job["owner"] == "bob"
    done = await wait_state(hub, job["id"], hub.tokens["bob"])
    assert done["state"] == "succeeded"


async def test_a_servers_token_says_admin_for_hub_admins_only(hub):
    """$JUPYTERHUB_API_TOKEN of a user's server has only the values' `server` role scopes; the
    server extension calls the service with it, and an admin's panel must still be an admin's."""
    scopes = load_values()["hub"]["loadRoles"]["server"]["scopes"]
    server_tokens = {
        user: hub_api(hub.url, hub.admin_token, "POST", f"users/{user}/tokens", {"scopes": scopes})[
            "token"
        ]
        for user in ("admin", "alice")
    }
    status, mine = await call("POST", hub.service + "jobs", SHORT, token=server_tokens["alice"])
    assert status == 201 and mine["owner"] == "alice"
    for user, admin in (("admin", True), ("alice", False)):
        status, me = await call("GET", hub.service + "whoami", token=server_tokens[user])
        assert (status, me["name"], me["admin"]) == (200, user, admin)
    status, refused = await call("GET", hub.service + "jobs?user=bob", token=server_tokens["alice"])
    assert status == 403, refused
    status, alices = await call(
        "GET", hub.service + "jobs?user=alice", token=server_tokens["admin"]
    )
    assert status == 200 and mine["id"] in [j["id"] for j in alices["jobs"]]


async def test_only_admins_read_the_metrics_with_hub_tokens(hub):
    status, error = await call("GET", hub.service + "metrics", token=hub.tokens["alice"])
    assert status == 403 and "only admins may read them" in error["error"]
    status, text = await call("GET", hub.service + "metrics", token=hub.tokens["admin"])
    assert status == 200 and "aiinfn_jobs" in text
