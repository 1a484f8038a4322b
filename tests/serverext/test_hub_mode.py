"""Hub mode: the extension forwards to the hub's jobs service with the user's JupyterHub
token and holds no Kubernetes credentials; the mode comes from the environment or config."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import nbformat
import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets.config import Config

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs.claims import home_claim_manifest
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.sandbox.testing import wait_until
from aiinfn_hub.serverext import AiinfnHubExtension
from aiinfn_hub.serverext.backends import ServiceBackend
from aiinfn_hub.serverext.standalone import JobsServiceServer

from .conftest import FAST_SITES, Api, extension_config, write_notebook

TOKENS = {"alice-token": "alice", "bob-token": "bob", "carol-token": "carol"}
ADMINS = {"carol"}  # the service's admins
SHORT = {"command": ["python", "-c", "print('hi')"], "local_only": True}


@pytest.fixture
async def service(sandbox):
    """The hub's jobs service (here in the test's process) on the session's sandbox."""
    config = Config()
    config.PlacementConfig.site_overrides = FAST_SITES
    api = await kube_client(str(sandbox.kubeconfig))
    manager = JobsManager(Kube(api, "default"), config=config)
    await manager.start()
    server = JobsServiceServer(manager, TOKENS, ADMINS)
    yield server, manager
    server.server.stop()
    await manager.stop()
    await server.stop()
    await api.close()


@pytest.fixture
def hub_env(request, service, monkeypatch):
    """The environment AIInfnSpawner gives a user's server: no KUBECONFIG."""
    server, _ = service
    env = {
        "AIINFN_JOBS_URL": server.url,
        "JUPYTERHUB_API_TOKEN": "alice-token",
        "JUPYTERHUB_USER": "alice",
        **getattr(request, "param", {}),
    }
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("AIINFN_HUB_MODE", raising=False)
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def jp_server_config(hub_env):
    config = extension_config()
    del config["AiinfnHubExtension"]["standalone_user"]
    return config


@pytest.fixture
def unstarted_api(jp_fetch, jp_serverapp) -> Api:
    """The API of a server whose backend starts on the first request."""
    return Api(jp_fetch)


async def test_hub_mode_forwards_with_the_users_token(api, ext, bus, service, jp_root_dir):
    _, manager = service
    assert "KUBECONFIG" not in os.environ
    assert (ext.resolved_mode(), ext.standalone) == ("hub", None)
    assert (ext.backend.mode, ext.backend.token) == ("hub", "alice-token")
    status, me = await api("GET", "whoami")
    assert (me["name"], me["mode"], me["admin"]) == ("alice", "hub", False)

    write_notebook(jp_root_dir / "hub.ipynb", "print(6 * 7)")
    status, job = await api("POST", "jobs", {"path": "hub.ipynb", "local_only": True})
    assert status == 201, job
    assert job["owner"] == "alice" and manager.jobs[job["id"]].owner == "alice"
    done = await api.wait(job["id"])
    assert done["state"] == "succeeded"
    await wait_until(lambda: bus.of(job["id"], "notebook"), 60, message="the notebook event")
    executed = nbformat.read(str(jp_root_dir / f"hub.{job['id']}.ipynb"), as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    assert {e["state"] for e in bus.of(job["id"])} >= {"queued", "succeeded"}

    # bob's job, submitted with bob's token, is invisible to alice's server
    bobs, _ = await manager.submit("bob", SHORT)
    status, body = await api("GET", f"jobs/{bobs['id']}")
    assert status == 404 and "no job" in body["error"]
    status, page = await api("GET", "jobs")
    assert [j["id"] for j in page["jobs"]] == [job["id"]]
    status, body = await api("GET", "jobs", params={"user": "bob"})
    assert status == 403 and "admin" in body["error"]
    assert not bus.of(bobs["id"])


@pytest.mark.parametrize(
    "hub_env", [{"JUPYTERHUB_API_TOKEN": "carol-token", "JUPYTERHUB_USER": "carol"}], indirect=True
)
async def test_the_service_says_who_is_admin_and_an_admin_sees_everyone(api, service):
    _, manager = service
    alices, _ = await manager.submit("alice", SHORT)
    status, me = await api("GET", "whoami")
    assert (status, me["name"], me["admin"], me["mode"]) == (200, "carol", True, "hub")
    status, page = await api("GET", "jobs", params={"user": "alice"})
    assert status == 200 and [j["id"] for j in page["jobs"]] == [alices["id"]]


@pytest.mark.parametrize(
    "hub_env",
    [
        {"JUPYTERHUB_API_TOKEN": "stolen", "JUPYTERHUB_USER": "Mario.Rossi@infn.it"},
        {"AIINFN_JOBS_URL": "http://127.0.0.1:9/", "JUPYTERHUB_USER": "Mario.Rossi@infn.it"},
    ],
    indirect=True,
    ids=["refused", "unreachable"],
)
async def test_no_answer_on_the_admin_flag_is_no_admin_and_logged(unstarted_api, caplog):
    """The panel asks whoami whether to show everyone's jobs: when the service does not say,
    the answer is no, and the server's log says who and why."""
    with caplog.at_level(logging.WARNING, logger="aiinfn_hub.serverext.handlers"):
        status, me = await unstarted_api("GET", "whoami")
    assert status == 200 and me["admin"] is False and me["name"] == "Mario.Rossi@infn.it"
    (record,) = [r for r in caplog.records if "is an admin" in r.getMessage()]
    message = record.getMessage()
    assert "did not say whether Mario.Rossi@infn.it is an admin" in message
    assert "did not accept this server's token" in message or "cannot be reached" in message


@pytest.mark.parametrize("hub_env", [{"JUPYTERHUB_API_TOKEN": "stolen"}], indirect=True)
async def test_a_token_the_service_refuses_is_a_403_in_words(unstarted_api):
    status, body = await unstarted_api("GET", "jobs")
    assert status == 403 and "token" in body["error"]


@pytest.mark.parametrize("hub_env", [{"AIINFN_JOBS_URL": "http://127.0.0.1:9/"}], indirect=True)
async def test_an_unreachable_service_is_a_503_in_words(unstarted_api):
    status, body = await unstarted_api("GET", "sites")
    assert status == 503 and "cannot be reached" in body["error"]


@pytest.mark.parametrize("hub_env", [{"JUPYTERHUB_API_TOKEN": None}], indirect=True)
async def test_hub_mode_without_a_token_says_what_is_missing(unstarted_api):
    status, body = await unstarted_api("GET", "jobs")
    assert status == 503 and "JUPYTERHUB_API_TOKEN" in body["error"]


def test_the_mode_comes_from_the_environment_and_configuration_wins(monkeypatch):
    for key in ("AIINFN_JOBS_URL", "AIINFN_HUB_MODE", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    assert AiinfnHubExtension().resolved_mode() == "standalone"
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t")  # Binder: a hub, but no jobs service
    assert AiinfnHubExtension().resolved_mode() == "standalone"
    monkeypatch.setenv("AIINFN_JOBS_URL", "http://hub:10101/services/aiinfn-jobs/")
    assert AiinfnHubExtension().resolved_mode() == "hub"
    assert AiinfnHubExtension(mode="standalone").resolved_mode() == "standalone"
    monkeypatch.setenv("AIINFN_HUB_MODE", "standalone")
    assert AiinfnHubExtension().resolved_mode() == "standalone"
    config = Config()
    config.AiinfnHubExtension.mode = "hub"
    assert AiinfnHubExtension(config=config).resolved_mode() == "hub"


async def test_the_cli_talks_to_the_jobs_service_directly_with_a_token(service, tmp_path):
    """Outside any Jupyter server: the file is read here and shipped with the job."""
    server, _ = service
    (tmp_path / "direct.py").write_text("print('straight to the service')\n")
    cli = Path(sys.executable).parent / "aiinfn-jobs"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "AIINFN"))}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "no-servers")
    process = await asyncio.create_subprocess_exec(
        str(cli), "--url", server.url, "--token", "alice-token",
        "submit", "direct.py", "--local-only", "--follow",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "straight to the service" in out.decode()
    assert "succeeded at Local resources" in out.decode()
    process = await asyncio.create_subprocess_exec(
        str(cli), "--url", server.url, "--token", "wrong", "list",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    [line] = err.decode().splitlines()
    assert line.startswith("aiinfn-jobs list: error:") and "token" in line


async def test_a_notebook_that_ended_while_the_server_was_down_comes_back_at_start(
    service, jp_configurable_serverapp, jp_server_config, jp_root_dir
):
    """The culled-server case: the job ends first, the user's server starts afterwards."""
    _, manager = service
    write_notebook(jp_root_dir / "night.ipynb", "print('ran overnight')")
    content = (jp_root_dir / "night.ipynb").read_text()
    job, _ = await manager.submit(
        "alice", {"script": {"path": "night.ipynb", "content": content}, "local_only": True}
    )
    await wait_until(
        lambda: manager.jobs[job["id"]].view["state"] == "succeeded", 90, message="the job"
    )
    serverapp = jp_configurable_serverapp(config=jp_server_config)
    from .conftest import extension_of

    await extension_of(serverapp)._start_jupyter_server_extension(serverapp)
    target = jp_root_dir / f"night.{job['id']}.ipynb"

    def saved() -> nbformat.NotebookNode | None:
        """The notebook once written whole (Jupyter's atomic_writing writes in place, keeping
        a backup aside, so the file exists before its content is in)."""
        try:
            return nbformat.read(str(target), as_version=4)
        except (OSError, nbformat.reader.NotJSONError):
            return None

    executed = await wait_until(saved, 60, message="the executed notebook")
    assert executed.cells[0].outputs[0]["text"] == "ran overnight\n"


async def test_a_service_error_without_words_is_a_502_in_words():
    """A refusal with no JSON body (tornado's answer to a malformed request, a proxy's page)
    is not relayed as a bare status: the user reads what happened and what to do."""

    class Mute(web.RequestHandler):
        def get(self) -> None:
            self.set_status(400)

    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(web.Application([(r"/.*", Mute)]))
    server.add_sockets(sockets)
    try:
        backend = ServiceBackend(f"http://127.0.0.1:{sockets[0].getsockname()[1]}/", "t")
        with pytest.raises(AIInfnError) as caught:
            await backend.call("GET", "jobs")
    finally:
        server.stop()
    assert caught.value.status == 502
    assert "answered 400 without saying why" in caught.value.message
    assert "ask your hub admin" in caught.value.message


async def test_the_service_is_the_one_source_of_the_staging_settings(
    unstarted_api, service, jp_root_dir
):
    """The largest file shipped with a job and where jobs see the home come from the service's
    /whoami, whatever the service is configured with: no copy in the server to keep equal."""
    _, manager = service
    manager.max_staged_bytes = 2000
    manager.home_mount_path = "/data/home"
    status, me = await unstarted_api("GET", "whoami")
    assert status == 200 and me["settings"]["max_staged_bytes"] == 2000, me

    (jp_root_dir / "big.py").write_text("print(1)\n" + "#" * 3000)
    status, refused = await unstarted_api("POST", "jobs", {"path": "big.py"})
    assert status == 413 and "2,000-byte limit" in refused["error"], refused

    (jp_root_dir / "small.py").write_text("print('small')\n")
    home = manager.home.name_for("alice")  # as alice's first server start makes it
    await manager.kube.create("pvc", home_claim_manifest(home, "alice"))
    body = {"path": "small.py", "staging": "home", "local_only": True}
    status, job = await unstarted_api("POST", "jobs", body)
    assert status == 201, job
    assert any("/data/home/small.py" in part for part in job["spec"]["command"]), job["spec"]


async def test_a_service_without_settings_gets_its_documented_defaults(caplog):
    """A hub's service older than this extension answers /whoami without settings."""
    ext = AiinfnHubExtension()
    ext._settings = None
    ext.log = logging.getLogger("aiinfn_hub.tests.extension")  # the app's own log propagates not
    with caplog.at_level(logging.WARNING):
        ext.remember_caller(200, {"name": "alice", "admin": False})
    assert ext._settings == {"max_staged_bytes": 900 * 1024, "home_mount_path": "/home/jovyan"}
    assert "older than this extension" in caplog.text
