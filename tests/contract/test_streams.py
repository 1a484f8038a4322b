"""kubectl exec and port-forward, and their WebSocket protocols, as a real cluster serves them.

On a real cluster (the control plane of ``aiinfn-hub cluster``, or any other) the API server
hands the WebSockets to the kubelet of the pod's node; on the sandbox its API server serves
them with the same code as the node agents (aiinfn_hub.sandbox.streaming).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time
from typing import Any

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox.testing import wait_until
from tests.sandbox.util import kubectl_binary

from .cluster import Cluster
from .conftest import real_kubeconfig
from .streams import fetch, frames, http_server_pod, kubectl, port_forward, websocket
from .test_pods import wait_phase

pytestmark = pytest.mark.contract


@pytest.fixture
def kubeconfig(request: pytest.FixtureRequest, cluster: Cluster) -> str:
    real = real_kubeconfig(request.config)
    assert real or cluster.sandbox is not None
    return real or str(cluster.sandbox.kubeconfig)  # type: ignore[union-attr]


async def shell_pod(cluster: Cluster, name: str = "shell", **spec: Any) -> str:
    """A running pod whose container sleeps, with an env var, a working directory and a
    ConfigMap mounted at /config."""
    await cluster.configmap(f"{name}-config", greeting="hi there")
    pod = cluster.pod(
        name,
        "sleep 3600",
        container={
            "env": [{"name": "GREETING", "value": "hello, world"}],
            "workingDir": "/tmp",
            "volumeMounts": [{"name": "config", "mountPath": "/config"}],
        },
        volumes=[{"name": "config", "configMap": {"name": f"{name}-config"}}],
        **spec,
    )
    await cluster.core.create_namespaced_pod(cluster.namespace, pod)
    await wait_phase(cluster, name, "Running")
    return name


async def exec_(kubeconfig: str, cluster: Cluster, *args: str, **kwargs: Any):
    return await asyncio.to_thread(kubectl, kubeconfig, "-n", cluster.namespace, *args, **kwargs)


async def test_exec_output_stderr_and_exit_code(cluster: Cluster, kubeconfig: str) -> None:
    pod = await shell_pod(cluster)
    done = await exec_(
        kubeconfig, cluster, "exec", pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "out\n"
    assert done.stderr.splitlines() == ["err", "command terminated with exit code 3"]
    ok = await exec_(kubeconfig, cluster, "exec", pod, "--", "true")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


async def test_exec_runs_in_the_container(cluster: Cluster, kubeconfig: str) -> None:
    """The container's environment, working directory and mounts."""
    pod = await shell_pod(cluster)
    done = await exec_(kubeconfig, cluster, "exec", pod, "--", "sh", "-c", 'echo "$GREETING"; pwd')
    assert done.stdout.splitlines() == ["hello, world", "/tmp"], done.stderr
    mounted = await exec_(kubeconfig, cluster, "exec", pod, "--", "cat", "/config/greeting")
    assert mounted.stdout == "hi there", mounted.stderr


async def test_exec_with_stdin(cluster: Cluster, kubeconfig: str) -> None:
    """Input reaches the command, and so does its end (v5's close of stdin)."""
    pod = await shell_pod(cluster)
    done = await exec_(
        kubeconfig, cluster, "exec", "-i", pod, "--", "sh", "-c", "wc -c; echo end", stdin="hello\n"
    )
    assert done.returncode == 0, done.stderr
    assert [line.strip() for line in done.stdout.splitlines()] == ["6", "end"]


async def test_exec_failures_in_words(cluster: Cluster, kubeconfig: str) -> None:
    pod = await shell_pod(
        cluster,
        containers=[
            {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"]},
            {"name": "quick", "image": "busybox:1.36", "command": ["true"]},
        ],
    )
    missing = await exec_(kubeconfig, cluster, "exec", pod, "-c", "main", "--", "no-such-command")
    assert missing.returncode == 1
    assert 'exec: "no-such-command": executable file not found in $PATH' in missing.stderr

    async def quick_ended() -> bool:
        found = await cluster.core.read_namespaced_pod(pod, cluster.namespace)
        return any(
            s.name == "quick" and s.state.terminated for s in found.status.container_statuses
        )

    await wait_until(quick_ended, timeout=60, message="the quick container's end")
    stopped = await exec_(kubeconfig, cluster, "exec", pod, "-c", "quick", "--", "true")
    assert stopped.returncode == 1
    assert 'unable to upgrade connection: container not found ("quick")' in stopped.stderr


async def test_exec_v5_frames(cluster: Cluster, kubeconfig: str) -> None:
    """What kubectl 1.30+ reads: an empty stdout message once the stream is up, the output,
    then the final Status on the error channel, and a normal close."""
    pod = await shell_pod(cluster)
    path = f"/api/v1/namespaces/{cluster.namespace}/pods/{pod}/exec"
    query = [("command", "sh"), ("command", "-c"), ("command", "echo hi; exit 3")]
    query += [("stdout", "true"), ("stderr", "true")]
    async with websocket(kubeconfig, path, query, ["v5.channel.k8s.io"]) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        got = await frames(ws)
    assert got[0] == b"\x01"
    assert b"".join(m[1:] for m in got[1:-1] if m[0] == 1) == b"hi\n"
    assert got[-1][0] == 3
    assert json.loads(got[-1][1:]) == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: command terminated with exit "
        "code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    assert ws.close_code == 1000


async def test_exec_v4_through_kubernetes_asyncio(cluster: Cluster, kubeconfig: str) -> None:
    """kubernetes_asyncio's stream client (v4.channel.k8s.io) gets the output and the
    exit code."""
    from kubernetes_asyncio import config
    from kubernetes_asyncio.stream import WsApiClient

    pod = await shell_pod(cluster)
    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    async with WsApiClient(configuration=configuration) as ws_api:
        core = client.CoreV1Api(ws_api)
        output = await core.connect_get_namespaced_pod_exec(
            pod, cluster.namespace, command=["sh", "-c", 'echo "$GREETING"'], stdout=True
        )
        assert output == "hello, world\n"
    path = f"/api/v1/namespaces/{cluster.namespace}/pods/{pod}/exec"
    query = [("command", "true"), ("stdout", "true")]
    async with websocket(kubeconfig, path, query, ["v4.channel.k8s.io"]) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        got = await frames(ws)
    assert got[-1][0] == 3 and json.loads(got[-1][1:])["status"] == "Success"


def _run_in_terminal(kubeconfig: str, args: list[str], rows: int, cols: int) -> str:
    """``kubectl ARGS`` with a terminal of ``rows`` x ``cols`` as its stdin and stdout."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, KUBECONFIG=kubeconfig, TERM="dumb")
    process = subprocess.Popen(
        [kubectl_binary(), *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(10)
    os.close(master)
    return output.decode(errors="replace")


async def test_exec_with_a_terminal(cluster: Cluster, kubeconfig: str) -> None:
    """``kubectl exec -it``: the command gets a terminal of the client's size."""
    pod = await shell_pod(cluster)
    args = ["-n", cluster.namespace, "exec", "-it", pod, "--", "sh", "-c", "stty size; tty"]
    output = await asyncio.to_thread(_run_in_terminal, kubeconfig, args, 37, 101)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    assert "37 101" in lines, output
    assert any(line.startswith("/dev/pts/") for line in lines), output


async def web_pod(cluster: Cluster, name: str = "web", port: int = 8080) -> str:
    manifest = http_server_pod(name, port)
    manifest["spec"]["containers"][0]["readinessProbe"] = {
        "tcpSocket": {"port": port},
        "periodSeconds": 1,
    }
    await cluster.core.create_namespaced_pod(cluster.namespace, manifest)

    async def ready() -> bool:
        pod = await cluster.core.read_namespaced_pod(name, cluster.namespace)
        return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or ())

    await wait_until(ready, timeout=120, message=f"pod {name} ready")
    return name


async def test_port_forward_reaches_a_server_in_the_pod(cluster: Cluster, kubeconfig: str) -> None:
    pod = await web_pod(cluster)
    with port_forward(kubeconfig, cluster.namespace, pod, 8080) as forwarder:
        port = await asyncio.to_thread(forwarder.wait_ready)
        for _ in range(2):  # a connection each
            body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/hello.txt")
            assert body == "hello from web\n"
        assert forwarder.process.poll() is None, forwarder.errors


async def test_port_forward_to_a_closed_port_says_why(cluster: Cluster, kubeconfig: str) -> None:
    pod = await web_pod(cluster)
    with port_forward(kubeconfig, cluster.namespace, pod, 9999) as forwarder:
        port = await asyncio.to_thread(forwarder.wait_ready)
        with pytest.raises(OSError):
            await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/")
        code = await asyncio.to_thread(forwarder.wait_exit)
    errors = "".join(forwarder.errors)
    assert code == 1
    assert "error forwarding port 9999 to pod" in errors
    assert "connection refused" in errors
    assert "lost connection to pod" in errors


async def test_port_forward_over_the_older_websocket_protocol(
    cluster: Cluster, kubeconfig: str
) -> None:
    """``ports`` in the query, a data and an error channel per port, each first carrying
    the port number."""
    pod = await web_pod(cluster)
    path = f"/api/v1/namespaces/{cluster.namespace}/pods/{pod}/portforward"
    async with websocket(kubeconfig, path, [("ports", "8080")], ["v4.channel.k8s.io"]) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        port = (8080).to_bytes(2, "little")
        first = [await ws.receive_bytes(), await ws.receive_bytes()]
        assert sorted(first) == [b"\x00" + port, b"\x01" + port]
        await ws.send_bytes(b"\x00GET /hello.txt HTTP/1.0\r\n\r\n")
        got = await asyncio.wait_for(frames(ws), 60)
    answer = b"".join(m[1:] for m in got if m[0] == 0).decode()
    assert answer.startswith("HTTP/1.0 200")
    assert answer.endswith("hello from web\n")
