"""The hub as users meet it: log in, the spawn form, each profile's JupyterLab through the proxy,
bad choices refused with 400, progress in plain words, and a job through the jobs service.

One hub (JupyterHub + configurable-http-proxy + AIInfnSpawner + the jobs service) with the
values' configuration runs for the whole module on the shared sandbox.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.request import Request, urlopen

import pytest

from aiinfn_hub.examples import EXAMPLES
from aiinfn_hub.placement import default_catalogue
from aiinfn_hub.sandbox.testing import wait_until
from aiinfn_hub.spawner import gpu_slug
from aiinfn_hub.spawner.clusterview import display_model

from .conftest import HubClient, gpu_pod, spawn_form_profiles

LOCAL = next(s for s in default_catalogue() if s.name == "local")
POOLS = {gpu_slug(p.model): p for p in LOCAL.capabilities.gpus}
GPU_NODES = {
    "gpu-t4": "local-gpu-t4-1",
    "gpu-rtx5000": "local-gpu-rtx5000-1",
    "gpu-a100": "local-gpu-a100-1",
    "gpu-a100-mig-1g-10gb": "local-gpu-mig-1",
}
#: (user, profile, the form's option values) for each profile of the values' spawner.
PROFILES = [
    ("alice", "cpu-small", {}),
    ("bob", "cpu-large", {}),
    ("carol", "gpu-t4", {"gpus": "2"}),
    ("dave", "gpu-rtx5000", {"gpus": "1"}),
    ("erin", "gpu-a100", {"gpus": "4"}),
    ("frank", "gpu-a100-mig-1g-10gb", {"gpus": "2"}),
    ("grace", "automatic", {"gpus": "1"}),
]


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0].get("env", [])}


def sandbox_request(hub: HubClient, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = Request(hub.sandbox.url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {hub.sandbox.token}")
    request.add_header("Content-Type", "application/json")
    with urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------- the spawn form


async def test_the_form_shows_every_profile_with_live_gpu_counts_and_asks_kubernetes_nothing(
    hub: HubClient,
):
    before = await hub.metrics()
    async with hub.login("heidi") as browser:
        for _ in range(3):
            page = await browser.get("/hub/spawn")
            assert page.status_code == 200
    profiles = spawn_form_profiles(page.text)
    assert list(profiles) == [p for _, p, _ in PROFILES]
    for slug, pool in POOLS.items():
        # an idle sandbox: every GPU of each model is free
        model = display_model(pool.model)  # "RTX 5000", "A100 MIG 1g.10gb"
        assert f"{pool.total} of {pool.total} {model} free now" in profiles[slug][1]
    after = await hub.metrics()
    rendered = {k: v - before.get(k, 0) for k, v in after.items() if k[0] == "options_form"}
    assert sum(rendered.values()) == 0, rendered
    # the counter is live: the hub's watches were counted when they started
    assert any(activity == "watch" for activity, _ in after)


# --------------------------------------------------------------------------- each profile


@pytest.mark.parametrize(("user", "profile", "choices"), PROFILES, ids=[p for _, p, _ in PROFILES])
async def test_each_profile_gives_jupyterlab_through_the_proxy(
    hub: HubClient, user: str, profile: str, choices: dict[str, str]
):
    async with hub.login(user) as browser:
        form = await browser.get("/hub/spawn")
        data = {"profile": profile, "_xsrf": browser.cookies.get("_xsrf")}
        data |= {f"profile-option-{profile}--{k}": v for k, v in choices.items()}
        pending = await browser.post("/hub/spawn", data=data)
        assert pending.status_code == 200, pending.text[-2000:]
        assert f"/hub/spawn-pending/{user}" in str(pending.url), form.url
        server = await hub.wait_ready(user)
        assert server["user_options"] == {"profile": profile, **choices}

        lab = await browser.get(f"/user/{user}/lab")
        assert lab.status_code == 200
        assert str(lab.url).endswith(f"/user/{user}/lab")
        assert "<title>JupyterLab</title>" in lab.text
        # the server extension reaches the jobs service with what the spawner gave the server
        token = await hub.user_token(user)
        sites = await browser.get(
            f"/user/{user}/aiinfn-hub/api/sites", headers={"Authorization": f"token {token}"}
        )
        assert sites.status_code == 200, sites.text
        assert {s["name"] for s in sites.json()["sites"]} == {"local", "leonardo", "tier1"}

    pod = hub.pod(user)
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        context = container.get("securityContext") or {}
        assert context.get("privileged") is False
        assert context.get("allowPrivilegeEscalation") is False
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        assert not any("serviceaccount" in m for m in mounts), mounts
    env = _env(pod)
    assert env["AIINFN_JOBS_URL"] == hub.process.hub.jobs_url
    assert env["AIINFN_HUB_MODE"] == "hub"
    assert env["AIINFN_SITE"] == "local"
    limits = spec["containers"][0]["resources"]["limits"]
    gpus = int(choices.get("gpus", 0))
    assert int(limits.get("nvidia.com/gpu", 0)) == gpus
    if profile in POOLS:
        pool = POOLS[profile]
        (term,) = spec["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        assert term["matchExpressions"] == [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": [pool.product]}
        ]
        assert spec["nodeName"] == GPU_NODES[profile]
        assert env["AIINFN_DEFAULT_GPU_MODEL"] == pool.model
    if profile == "automatic":
        # values: interactive offloading off, so the server stays on a local GPU node
        assert spec["nodeName"] in GPU_NODES.values()
        assert server_state(await hub.server(user))["aiinfn_site"] == "local"
    await hub.stop(user)


def server_state(server: dict[str, Any]) -> dict[str, Any]:
    return server.get("state") or {}


# --------------------------------------------------------------------------- bad choices


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"profile": "gpu-h100"}, "unknown profile 'gpu-h100'"),
        ({"profile": "gpu-t4", "gpus": "4"}, "'4' is out of range for option 'gpus'"),
        ({"profile": "gpu-t4", "gpus": 0}, "'0' is out of range for option 'gpus'"),
        ({"profile": "cpu-small", "gpus": "1"}, "unknown option 'gpus' for profile 'cpu-small'"),
        ({"profile": "automatic", "site": "leonardo"}, "unknown option 'site'"),
        ({"profile": "gpu-a100", "gpus": True}, "option 'gpus' must be text or a whole number"),
        ({"profile": ["cpu-small"]}, "profile must be a profile's name"),
        (["cpu-small"], "user options must be a JSON object"),
    ],
    ids=["profile", "out-of-range", "zero", "option", "automatic-site", "bool", "list", "array"],
)
async def test_bad_options_through_the_rest_api_are_400_naming_them(
    hub: HubClient, options: Any, named: str
):
    response = await hub.spawn("heidi", options)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
    assert "Traceback" not in response.text
    assert hub.pod("heidi") is None
    server = await hub.server("heidi")
    assert server is None or not (server["ready"] or server["pending"] or server["started"])


def spawn_error(html: str) -> str:
    """The error the spawn form shows above the profiles (HTML-escaped)."""
    match = re.search(r'<p class="spawn-error-msg alert alert-danger">(.*?)</p>', html, re.S)
    assert match, "the spawn form shows no error"
    return match.group(1).strip()


async def test_a_bad_choice_on_the_form_is_400_with_the_message(hub: HubClient):
    async with hub.login("heidi") as browser:
        await browser.get("/hub/spawn")
        data = {
            "profile": "gpu-t4",
            "profile-option-gpu-t4--gpus": "16",
            "_xsrf": browser.cookies.get("_xsrf"),
        }
        page = await browser.post("/hub/spawn", data=data)
        # a spawn link with the choices in its query string (JupyterHub spawns from it)
        linked = await browser.get("/hub/spawn", params={"profile": "gpu-h100"})
    assert page.status_code == 400
    # the message itself, in the user's words, not "HTTP 400: error (...)"
    assert spawn_error(page.text) == (
        "Error: &#39;16&#39; is out of range for option &#39;gpus&#39; (GPUs) of profile "
        "&#39;gpu-t4&#39;: choose one of 1, 2"
    )
    assert linked.status_code == 400
    assert spawn_error(linked.text).startswith("Error: unknown profile &#39;gpu-h100&#39;;")
    assert spawn_form_profiles(linked.text), "the form is shown again to choose anew"
    assert hub.pod("heidi") is None


# --------------------------------------------------------------------------- GPU counts, words


async def test_counts_follow_the_cluster_and_a_full_model_says_so_in_plain_words(hub: HubClient):
    # someone else's work holds both T4s; alice's server takes 2 of the 4 A100s
    sandbox_request(
        hub,
        "POST",
        "/api/v1/namespaces/default/pods",
        gpu_pod("gpu-filler", "local-gpu-t4-1", 2),
    )
    try:
        assert (await hub.spawn("alice", {"profile": "gpu-a100", "gpus": "2"})).status_code == 202
        await hub.wait_ready("alice")
        before = await hub.metrics()
        async with hub.login("bob") as browser:

            async def counts() -> dict[str, tuple[str, str]] | None:
                profiles = spawn_form_profiles((await browser.get("/hub/spawn")).text)
                t4, a100 = profiles["gpu-t4"][1], profiles["gpu-a100"][1]
                ok = "0 of 2 T4 free" in t4 and "2 of 4 A100 free" in a100
                return profiles if ok else None

            # the watch delivers the filler pod within moments; the form never asks Kubernetes
            await wait_until(counts, 30, 0.5, "the form to show the GPUs in use")
        after = await hub.metrics()
        assert sum(v - before.get(k, 0) for k, v in after.items() if k[0] == "options_form") == 0

        # bob asks for the full model: the progress page says why he waits
        assert (await hub.spawn("bob", {"profile": "gpu-t4", "gpus": "1"})).status_code == 202
        messages = await _messages_until(hub, "bob", "waiting for a GPU")
        assert "waiting for a GPU: 0 of 2 T4 free" in messages
        assert not any("Insufficient nvidia.com/gpu" in m for m in messages), messages
        await hub.stop("bob")
    finally:
        sandbox_request(hub, "DELETE", "/api/v1/namespaces/default/pods/gpu-filler")
        await hub.stop("alice")


async def _messages_until(hub: HubClient, user: str, text: str, timeout: float = 60) -> list[str]:
    """Progress messages of ``user``'s pending spawn until one contains ``text``."""
    import asyncio

    messages: list[str] = []

    async def read() -> None:
        async with hub.client() as http:
            path = f"/hub/api/users/{user}/server/progress"
            headers = {"Authorization": f"token {hub.token}"}
            async with http.stream("GET", path, headers=headers) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        messages.append(json.loads(line[5:]).get("message", ""))
                        if text in messages[-1]:
                            return

    await asyncio.wait_for(read(), timeout)
    return messages


# --------------------------------------------------------------------------- the jobs service


async def test_a_job_submitted_with_the_users_token_runs_at_the_right_site(hub: HubClient):
    token = await hub.user_token("carol")
    jobs = "/services/aiinfn-jobs/jobs"
    headers = {"Authorization": f"token {token}"}
    requests = {
        # CPU, nothing local needed: offloadable, so the CNAF Tier-1 first
        "tier1": {"name": "offloadable", "command": ["python", "-c", "print(6 * 7)"]},
        # the user's home volume keeps it local
        "local": {
            "name": "needs-home",
            "command": ["python", "-c", "print(42)"],
            "volumes": ["pvc"],
        },
    }
    async with hub.client() as http:
        created = {}
        for site, body in requests.items():
            body = body | {"image": "aiinfn-hub/singleuser:sandbox", "resources": {"cpu": 1}}
            response = await http.post(jobs, json=body, headers=headers)
            assert response.status_code == 201, response.text
            job = response.json()
            assert job["owner"] == "carol"
            assert job["plan"]["sites"][0]["name"] == site
            created[site] = job["id"]

        async def finished(job_id: str) -> dict[str, Any] | None:
            job = (await http.get(f"{jobs}/{job_id}", headers=headers)).json()
            return job if job["state"] in ("succeeded", "failed") else None

        for site, job_id in created.items():
            job = await wait_until(lambda j=job_id: finished(j), 120, 0.5, f"job at {site}")
            assert job["state"] == "succeeded", job
            assert job["site"] == site
            assert [a["site"] for a in job["attempts"]] == [site]
        # another user's token does not see carol's jobs
        dave = await hub.user_token("dave")
        listing = await http.get(jobs, headers={"Authorization": f"token {dave}"})
        assert listing.status_code == 200
        assert listing.json()["jobs"] == []


# --------------------------------------------------------------------------- the user's JupyterLab


def page_config(html: str) -> dict[str, Any]:
    """The page config JupyterLab embeds in its page (what its front end loads)."""
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      html, re.S)  # fmt: skip
    assert match, "no jupyter-config-data in the page"
    return json.loads(match.group(1))


async def test_users_land_on_jupyterlab_with_the_panel_and_the_examples_run_there(
    hub: HubClient,
):
    user = "alice"
    assert (await hub.spawn(user, {"profile": "cpu-small"})).status_code == 202
    await hub.wait_ready(user)
    token = {"Authorization": f"token {await hub.user_token(user)}"}
    server = f"/user/{user}"
    async with hub.login(user) as browser:
        # the hub sends a user with a running server to it, and the server to JupyterLab
        lab = await browser.get("/hub/")
        assert lab.status_code == 200
        assert str(lab.url) == f"{hub.url}{server}/lab", lab.url
        config = page_config(lab.text)
        panel = {e["name"]: e for e in config["federated_extensions"]}["aiinfn-hub"]
        assert not [d for d in config["disabledExtensions"] if d.startswith("aiinfn-hub")]
        entry = await browser.get(f"{config['fullLabextensionsUrl']}/aiinfn-hub/{panel['load']}")
        assert entry.status_code == 200 and "aiinfn-hub" in entry.text

        # the postStart hook put the examples in the user's home
        listing = await browser.get(f"{server}/api/contents/examples", headers=token)
        assert listing.status_code == 200, listing.text
        names = {item["name"] for item in listing.json()["content"]}
        assert names >= set(EXAMPLES), names

        # one of them, run as a job through the user's server extension, as the panel does
        source = await browser.get(f"{server}/api/contents/examples/cpu-job.ipynb", headers=token)
        hints = source.json()["content"]["metadata"]["aiinfn_hub"]
        jobs = f"{server}/aiinfn-hub/api/jobs"
        body = {"path": "examples/cpu-job.ipynb", **hints}
        created = await browser.post(jobs, json=body, headers=token)
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        async def ended() -> dict[str, Any] | None:
            job = (await browser.get(f"{jobs}/{job_id}", headers=token)).json()
            return job if job["state"] in ("succeeded", "failed", "cancelled") else None

        job = await wait_until(ended, 180, 0.5, "the example job to end")
        assert (job["state"], job["site"]) == ("succeeded", "local"), job

        executed = f"{server}/api/contents/examples/cpu-job.{job_id}.ipynb"

        async def returned() -> dict[str, Any] | None:
            response = await browser.get(executed, headers=token)
            return response.json() if response.status_code == 200 else None

        notebook = (await wait_until(returned, 60, 0.5, "the executed notebook"))["content"]
        outputs = [
            "".join(o.get("text", ""))
            for cell in notebook["cells"]
            if cell["cell_type"] == "code"
            for o in cell["outputs"]
        ]
        assert any(o.startswith("pi is about 3.1") for o in outputs), outputs
        assert f"job {job_id} attempt" in outputs[0] and "at site local" in outputs[0]
    await hub.stop(user)
