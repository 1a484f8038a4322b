"""`aiinfn-hub sandbox up`: a sites file, a port, a kubeconfig; clear errors; a clean exit."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from kubernetes_asyncio import client

from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import kube_client

SITES = {
    "namespaces": ["default", "team"],
    "sites": [
        {"name": "lab", "type": "local", "nodes": [{"name": "lab-1", "cpu": "4", "memory": "8Gi"}]},
        {
            "name": "hpc",
            "type": "interlink",
            "remote_queue_delay": 0.1,
            "nodes": [{"name": "vk-hpc", "cpu": "64", "memory": "256Gi", "gpus": 8}],
        },
    ],
}


def command(*args: str) -> list[str]:
    script = shutil.which("aiinfn-hub", path=str(Path(sys.executable).parent))
    base = [script] if script else [sys.executable, "-m", "aiinfn_hub.cli"]
    return [*base, "sandbox", *args]


async def test_up_with_a_sites_file(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump(SITES))
    kubeconfig = tmp_path / "kc" / "config"
    port = free_port()
    args = ["up", "--port", str(port), "--kubeconfig", str(kubeconfig), "--config", str(sites)]
    args += ["--state-dir", str(tmp_path / "state")]
    proc = subprocess.Popen(
        command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the sandbox did not write its kubeconfig"
            time.sleep(0.05)
        assert kubeconfig.stat().st_mode & 0o777 == 0o600  # it holds the token
        api = await kube_client(kubeconfig)
        async with api:
            assert api.configuration.host == f"http://127.0.0.1:{port}"
            nodes = await client.CoreV1Api(api).list_node()
            assert sorted(n.metadata.name for n in nodes.items) == ["lab-1", "vk-hpc"]
            custom = client.CustomObjectsApi(api)
            for namespace in ("default", "team"):
                queues = await custom.list_namespaced_custom_object(
                    "kueue.x-k8s.io", "v1beta2", namespace, "localqueues"
                )
                assert {q["metadata"]["name"] for q in queues["items"]} == {"lab", "hpc"}
            cq = await custom.get_cluster_custom_object(
                "kueue.x-k8s.io", "v1beta2", "clusterqueues", "hpc"
            )
            quota = cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"]
            assert {r["name"]: r["nominalQuota"] for r in quota} == {
                "cpu": "64",
                "memory": "256Gi",
                "nvidia.com/gpu": "8",
            }
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert f"sandbox: serving the Kubernetes API on http://127.0.0.1:{port}" in output
    assert f"export KUBECONFIG={kubeconfig}" in output
    assert "stopping pods and exiting" in output
    assert not kubeconfig.exists()  # removed: it named a server that is gone


def test_up_explains_what_is_wrong(tmp_path: Path) -> None:
    broken = tmp_path / "sites.yaml"
    broken.write_text("sites: []\n")
    cases = [
        (["--config", str(broken)], "'sites' must be a non-empty list"),
        (["--config", str(tmp_path / "missing.yaml")], "cannot read"),
        (["--port", "70000"], "is not a port number"),
    ]
    for extra, words in cases:
        done = subprocess.run(
            command("up", "--kubeconfig", str(tmp_path / "kc"), *extra),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (extra, done.stdout, done.stderr)
        assert words in done.stderr and "Traceback" not in done.stderr, done.stderr

    taken = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", taken))
        blocker.listen()
        done = subprocess.run(
            command("up", "--port", str(taken), "--kubeconfig", str(tmp_path / "kc")),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2 and f"cannot serve on port {taken}" in done.stderr, done.stderr


def test_config_prints_the_built_in_sites() -> None:
    done = subprocess.run(command("config"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    data = yaml.safe_load(done.stdout)
    assert [s["name"] for s in data["sites"]] == ["local", "leonardo", "tier1"]
