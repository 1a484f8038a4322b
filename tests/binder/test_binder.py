"""Binder: the environment ``binder/`` describes, built the way repo2docker builds it in a
fresh virtual environment, starts JupyterLab in standalone mode whose panel API answers, and
its three example notebooks run where they say (one falls back). The wheel that environment
installs carries the prebuilt JupyterLab panel, which ``jupyter labextension list`` shows
enabled and OK."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import aiinfn_hub
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import wait_until

REPO = Path(aiinfn_hub.__file__).resolve().parents[1]
BINDER = REPO / "binder"
EXAMPLES = {"cpu-job.ipynb": "local", "gpu-job.ipynb": "leonardo", "falls-back.ipynb": "tier1"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.slow


@dataclass
class BinderEnv:
    root: Path
    venv: Path
    home: Path
    env: dict[str, str]

    def run(self, *args: str | Path, cwd: Path = REPO, timeout: float = 900) -> str:
        done = subprocess.run(
            [str(a) for a in args], cwd=cwd, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        output = ANSI.sub("", done.stdout + done.stderr)
        assert done.returncode == 0, f"{args} failed:\n{output[-4000:]}"
        return output

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _pip_cache() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    )
    return done.stdout.strip() or str(Path.home() / ".cache" / "pip")


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> BinderEnv:
    """A fresh venv with binder/requirements.txt installed and binder/postBuild run, as
    repo2docker does (pip's cache reused; HOME is a fresh folder, like the image's)."""
    root = tmp_path_factory.mktemp("binder")
    home = root / "home"
    home.mkdir()
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "PIP_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(home),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        PIP_CACHE_DIR=_pip_cache(),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    binder = BinderEnv(root, venv, home, env)
    binder.run(binder.python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    binder.run("bash", BINDER / "postBuild")
    return binder


@pytest.fixture
def server(binder: BinderEnv) -> Iterator[tuple[str, str]]:
    """``jupyter lab`` as repo2docker starts it, on a free port, in a copy of the repository's
    binder/ (jobs write executed notebooks next to their sources); stopped with its process
    group."""
    workdir = binder.home / "repo"
    shutil.copytree(BINDER, workdir / "binder", dirs_exist_ok=True)
    port, token = free_port(), "binder-test-token"
    log = (binder.root / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(binder.venv / "bin" / "jupyter"), "lab", "--no-browser", "--allow-root",
            f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workdir}",
        ],
        cwd=workdir, env=binder.env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def _hints(name: str) -> dict[str, Any]:
    notebook = json.loads((BINDER / "examples" / name).read_text())
    return notebook["metadata"]["aiinfn_hub"]


def _request(name: str) -> dict[str, Any]:
    """What the panel's dialog sends for an example, from the notebook's own hints."""
    return {"path": f"binder/examples/{name}", **_hints(name)}


async def test_binder_environment_serves_the_panel_and_runs_the_examples(server, binder):
    url, token = server
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"token {token}"}, timeout=30
    ) as client:

        async def answers() -> dict[str, Any] | None:
            try:
                response = await client.get("/aiinfn-hub/api/sites")
            except httpx.TransportError:
                return None
            return response.json() if response.status_code == 200 else None

        sites = await wait_until(answers, timeout=240, interval=0.5, message="the panel's API")
        assert [s["name"] for s in sites["sites"]] == ["leonardo", "tier1", "local"]
        whoami = (await client.get("/aiinfn-hub/api/whoami")).json()
        assert whoami["mode"] == "standalone"
        page = await client.get("/lab")
        assert page.status_code == 200
        assert '"name": "aiinfn-hub"' in page.text or '"aiinfn-hub"' in page.text

        for name, first in EXAMPLES.items():
            plan = (await client.post("/aiinfn-hub/api/plan", json=_request(name))).json()
            assert plan["sites"][0]["name"] == first, (name, plan)

        # postBuild's configuration starts the sandbox with the demo fault at CNAF Tier-1.
        kubeconfig = binder.home / ".aiinfn-binder" / "sandbox" / "kubeconfig"
        await wait_until(kubeconfig.exists, timeout=120, message="the sandbox's kubeconfig")

        async def fault_on() -> bool:
            done = subprocess.run(
                [binder.python, "-m", "aiinfn_hub", "sandbox", "status", "--kubeconfig",
                 str(kubeconfig)],
                env=binder.env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            if done.returncode != 0:
                return False
            return "tier1" in json.loads(done.stdout)["faults"]["provider-failure"]

        await wait_until(fault_on, timeout=120, interval=1, message="the demo fault")

        jobs = {}
        for name in EXAMPLES:
            response = await client.post("/aiinfn-hub/api/jobs", json=_request(name))
            assert response.status_code == 201, response.text
            jobs[name] = response.json()["id"]

        async def ended() -> dict[str, dict[str, Any]] | None:
            views = {
                n: (await client.get(f"/aiinfn-hub/api/jobs/{i}")).json() for n, i in jobs.items()
            }
            done = all(v["state"] in ("succeeded", "failed", "cancelled") for v in views.values())
            return views if done else None

        views = await wait_until(ended, timeout=300, interval=1, message="the three examples")
        assert {n: v["state"] for n, v in views.items()} == dict.fromkeys(EXAMPLES, "succeeded"), {
            n: (v["state"], v.get("reason"), v.get("attempts")) for n, v in views.items()
        }
        assert views["cpu-job.ipynb"]["site"] == "local"
        assert views["gpu-job.ipynb"]["site"] == "leonardo"
        fell = views["falls-back.ipynb"]
        assert fell["site"] == "local"
        first_attempt = fell["attempts"][0]
        assert (first_attempt["site"], first_attempt["outcome"]) == ("tier1", "fell_back")
        assert "a fault of this demo" in first_attempt["reason"]
        assert fell["fallback"].startswith("CNAF Tier-1: the remote submission failed")

        log = (await client.get(f"/aiinfn-hub/api/jobs/{jobs['falls-back.ipynb']}/log")).json()
        assert "analysis step 4" in log["data"]


def test_the_wheel_carries_the_panel_and_jupyter_lists_it_enabled(binder: BinderEnv):
    wheels = binder.root / "wheels"
    binder.run(binder.python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, REPO)
    [wheel] = wheels.glob("aiinfn_hub-*.whl")
    data = "aiinfn_hub-0.1.0.data/data/"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        package = json.loads(
            archive.read(f"{data}share/jupyter/labextensions/aiinfn-hub/package.json")
        )
    panel = f"{data}share/jupyter/labextensions/aiinfn-hub/"
    assert package["name"] == "aiinfn-hub"
    assert f"{panel}{package['jupyterlab']['_build']['load']}" in names
    assert f"{panel}schemas/aiinfn-hub/plugin.json" in names
    assert f"{data}etc/jupyter/jupyter_server_config.d/aiinfn_hub.json" in names
    with zipfile.ZipFile(wheel) as archive:
        for name in EXAMPLES:  # binder's examples, for `aiinfn-hub examples`
            packaged = archive.read(f"aiinfn_hub/example_notebooks/{name}")
            assert packaged == (BINDER / "examples" / name).read_bytes(), name

    binder.run(binder.python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel)
    listed = binder.run(binder.venv / "bin" / "jupyter", "labextension", "list")
    assert re.search(r"aiinfn-hub v0\.1\.0 enabled\s+OK", listed), listed
    installed = binder.venv / "share/jupyter/labextensions/aiinfn-hub/package.json"
    assert (
        json.loads(installed.read_text())["jupyterlab"]["_build"] == package["jupyterlab"]["_build"]
    )
    # the installed package copies the examples from its own copy (away from the source tree)
    where = binder.run(
        binder.python, "-c", "from aiinfn_hub.examples import examples_dir; print(examples_dir())",
        cwd=binder.home,
    )  # fmt: skip
    assert Path(where.strip()).is_relative_to(binder.venv), where
    binder.run(binder.venv / "bin" / "aiinfn-hub", "examples", "examples", cwd=binder.home)
    assert sorted(p.name for p in (binder.home / "examples").iterdir()) == sorted(EXAMPLES)
