"""`aiinfn-hub sandbox up`: a sites file, a port, a kubeconfig; clear errors; a clean exit."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import kube_client
from aiinfn_hub.sandbox.topology import TopologyError, load_topology

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


def _site(**changes) -> dict:
    site = {"name": "lab", "type": "local", "nodes": [{"name": "lab-1", "cpu": "4"}]}
    return {"sites": [dict(site, **changes)]}


def _node(**changes) -> dict:
    return _site(nodes=[dict({"name": "lab-1", "cpu": "4"}, **changes)])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_site(name="Lab_1"), "site name 'Lab_1' is not a Kubernetes name"),
        (_node(name="Node_1"), "node name 'Node_1' is not a Kubernetes name"),
        (_node(cpu="lots"), "node lab-1: cpu 'lots' is not a quantity"),
        (_node(gpus=-1), "node lab-1: gpus must be a whole number, 0 or more, got -1"),
        (_node(labels={"zone": 3}), "node lab-1: labels must map text to text"),
        (_node(colour="red"), "node lab-1: unknown settings ['colour']; known: name, cpu,"),
        (_site(nodes=["lab-1"]), "each node is a mapping with a name, got 'lab-1'"),
        (_site(nodes=[{"cpu": "4"}]), "each node is a mapping with a name, got {'cpu': '4'}"),
        (_site(remote_queue_delay="soon"), "remote_queue_delay must be a number of seconds"),
        (_site(quota={"cpu": "many"}), "quota: 'many' is not a quantity"),
        ({**_site(), "kueue": {"pods_ready_timeout": "x"}}, "kueue.pods_ready_timeout must be"),
        ({**_site(), "kueue": {"requeue_backoff_limit": 1.5}}, "kueue.requeue_backoff_limit"),
        ({**_site(), "kueue": [1]}, "'kueue' must be a mapping of settings"),
        (
            {**_site(), "kueue": {"unadmitted_workloads_observability": "yes"}},
            "kueue.unadmitted_workloads_observability must be true or false, got 'yes'",
        ),
        ({**_site(), "namespaces": ["Team"]}, "namespace 'Team' is not a Kubernetes name"),
        ({**_site(), "namespaces": "team"}, "'namespaces' must be a list of names"),
        ({**_site(), "job_backoff_seconds": -1}, "job_backoff_seconds must be a number"),
    ],
)
def test_a_sites_file_is_checked_before_anything_starts(data: dict, words: str) -> None:
    with pytest.raises(TopologyError, match=re.escape(words)):
        load_topology(data)


def test_a_sites_file_with_a_bad_name_is_one_line(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump(_site(name="Lab_1")))
    done = subprocess.run(
        command("up", "--config", str(sites), "--kubeconfig", str(tmp_path / "kc")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "is not a Kubernetes name" in done.stderr


def test_config_prints_the_built_in_sites() -> None:
    done = subprocess.run(command("config"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    data = yaml.safe_load(done.stdout)
    assert [s["name"] for s in data["sites"]] == ["local", "leonardo", "tier1"]
