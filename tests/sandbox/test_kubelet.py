"""Kubelets: each pod a local process on a loopback address of its own, with the pod's
environment; logs kept; exit codes as container and pod status; processes ended on delete
and when the sandbox stops."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import signal
from pathlib import Path
from urllib.request import urlopen

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import kube_client, wait_until

from .util import PY, history, pod_gone, pod_log, pod_manifest, wait_pod

SERVE = """
import http.server, os
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["POD_NAME"].encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer((os.environ["POD_IP"], 8888), Hello).serve_forever()
"""


def field(path: str) -> dict:
    return {"valueFrom": {"fieldRef": {"fieldPath": path}}}


def phase(*phases: str):
    return lambda pod: pod.status.phase in phases


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an exited, unreaped child)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def test_each_pod_serves_on_its_own_address(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    for name in ("web-a", "web-b"):
        container = {
            "env": [{"name": "POD_NAME", **field("metadata.name")}],
            "ports": [{"containerPort": 8888, "name": "http"}],
            "readinessProbe": {"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 1},
        }
        await core.create_namespaced_pod(
            "default", pod_manifest(name, [PY, "-c", SERVE], container=container)
        )
    addresses = {}
    for name in ("web-a", "web-b"):

        def ready(pod) -> bool:
            return any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
            )

        pod = await wait_pod(kube, name, ready, timeout=30, message=f"{name} to be ready")
        ip = ipaddress.ip_address(pod.status.pod_ip)
        assert ip in ipaddress.ip_network("127.0.0.0/8") and str(ip) != "127.0.0.1"
        assert pod.status.pod_ips[0].ip == pod.status.pod_ip
        assert pod.status.host_ip == "127.0.0.1"
        assert pod.status.container_statuses[0].ready is True
        addresses[name] = pod.status.pod_ip

        def fetch(url: str = f"http://{pod.status.pod_ip}:8888/") -> str:
            with urlopen(url, timeout=10) as response:
                return response.read().decode()

        assert await asyncio.to_thread(fetch) == name  # both on port 8888
    assert addresses["web-a"] != addresses["web-b"]


async def test_the_pod_environment(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "settings"}, "data": {"mode": "fast", "level": "3"}}
    )
    secret = base64.b64encode(b"s3cret").decode()
    await core.create_namespaced_secret(
        "default", {"metadata": {"name": "creds"}, "data": {"token": secret}}
    )
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "EXPANDED", "value": "$(GREETING) world, $$(GREETING)"},
        {"name": "MY_NAME", **field("metadata.name")},
        {"name": "MY_NAMESPACE", **field("metadata.namespace")},
        {"name": "MY_NODE", **field("spec.nodeName")},
        {"name": "MY_IP", **field("status.podIP")},
        {"name": "MY_LABEL", **field("metadata.labels['team']")},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]
    container = {
        "env": env,
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "workingDir": "/nonexistent-aiinfn/dir",
    }
    manifest = pod_manifest(
        "env",
        [PY, "-c", "import json, os; print(json.dumps(dict(os.environ, CWD=os.getcwd())))"],
        container=container,
    )
    manifest["metadata"]["labels"] = {"team": "ml"}
    await core.create_namespaced_pod("default", manifest)
    pod = await wait_pod(kube, "env", phase("Succeeded", "Failed"), timeout=30)
    assert pod.status.phase == "Succeeded"
    seen = json.loads(await pod_log(kube, "env"))
    assert seen["GREETING"] == "hello"
    assert seen["EXPANDED"] == "hello world, $(GREETING)"
    assert (seen["MY_NAME"], seen["MY_NAMESPACE"]) == ("env", "default")
    assert seen["MY_NODE"] == pod.spec.node_name and seen["MY_IP"] == pod.status.pod_ip
    assert seen["MY_LABEL"] == "ml"
    assert (seen["MODE"], seen["TOKEN"]) == ("fast", "s3cret")
    assert (seen["CFG_mode"], seen["CFG_level"]) == ("fast", "3")
    assert seen["HOSTNAME"] == "env"
    assert seen["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert Path(seen["HOME"]).name == "home"  # a directory of the pod's own
    # a working directory the host lacks is made in the pod's own directory, not on the host
    assert seen["CWD"].endswith("/fs/nonexistent-aiinfn/dir")
    assert not Path("/nonexistent-aiinfn").exists()


async def test_missing_config_is_a_waiting_reason(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "x"}}}]
    await core.create_namespaced_pod(
        "default",
        pod_manifest(
            "waits", [PY, "-c", "import os; print(os.environ['X'])"], container={"env": env}
        ),
    )

    def config_error(pod) -> bool:
        statuses = pod.status.container_statuses or []
        return (
            bool(statuses)
            and statuses[0].state.waiting is not None
            and (statuses[0].state.waiting.reason == "CreateContainerConfigError")
        )

    pod = await wait_pod(kube, "waits", config_error, message="CreateContainerConfigError")
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.message == 'configmap "later" not found'
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "later"}, "data": {"x": "arrived"}}
    )
    await wait_pod(kube, "waits", phase("Succeeded"), timeout=30)
    assert await core.read_namespaced_pod_log("waits", "default") == "arrived\n"


async def test_exit_codes_set_container_and_pod_status(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod("default", pod_manifest("ok", ["sh", "-c", "echo fine"]))
    await core.create_namespaced_pod("default", pod_manifest("bad", ["sh", "-c", "exit 7"]))
    await core.create_namespaced_pod("default", pod_manifest("missing", ["no-such-binary-x"]))

    ok = await wait_pod(kube, "ok", phase("Succeeded", "Failed"))
    assert ok.status.phase == "Succeeded"
    terminated = ok.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert terminated.started_at and terminated.finished_at and terminated.container_id

    bad = await wait_pod(kube, "bad", phase("Succeeded", "Failed"))
    assert bad.status.phase == "Failed"
    terminated = bad.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (7, "Error")
    ready = next(c for c in bad.status.conditions if c.type == "Ready")
    assert ready.status == "False" and ready.reason == "PodCompleted"

    missing = await wait_pod(kube, "missing", phase("Succeeded", "Failed"))
    assert missing.status.phase == "Failed"
    terminated = missing.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (128, "StartError")
    assert "no-such-binary-x" in terminated.message


async def test_restart_on_failure_keeps_the_previous_log(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    script = "import os; print('run', os.getpid()); raise SystemExit(3)"
    await core.create_namespaced_pod(
        "default", pod_manifest("crash", [PY, "-c", script], restartPolicy="OnFailure")
    )

    def restarted(pod) -> bool:
        statuses = pod.status.container_statuses or []
        return bool(statuses) and statuses[0].restart_count >= 2

    pod = await wait_pod(kube, "crash", restarted, timeout=30, message="two restarts")
    status = pod.status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 3
    assert pod.status.phase in ("Running", "Pending")
    previous = await core.read_namespaced_pod_log("crash", "default", previous=True)
    assert previous.startswith("run ")
    with pytest.raises(client.ApiException) as caught:
        await core.read_namespaced_pod_log("ok-never", "default", previous=True)
    assert caught.value.status == 404


async def test_init_containers_retry_on_failure_unless_the_pod_never_restarts(
    kube: client.ApiClient, tmp_path: Path
) -> None:
    """As the kubelet does: with restartPolicy Always (or OnFailure) a failed init container
    runs again until it succeeds, then the app containers start; with Never the pod fails."""
    core = client.CoreV1Api(kube)
    marker = tmp_path / "tried-once"
    flaky = (
        f"import pathlib, sys; p = pathlib.Path({str(marker)!r}); "
        "sys.exit(0) if p.exists() else (p.touch(), sys.exit(1))"
    )

    def init(command: list[str]) -> dict:
        return {"name": "prepare", "image": "python:3.11", "command": command}

    await core.create_namespaced_pod(
        "default",
        pod_manifest(
            "retried",
            ["sleep", "30"],
            restartPolicy="Always",
            initContainers=[init([PY, "-c", flaky])],
        ),
    )
    pod = await wait_pod(
        kube, "retried", lambda p: p.status.phase == "Running", timeout=30, message="running"
    )
    [prepared] = pod.status.init_container_statuses
    assert prepared.restart_count == 1
    assert prepared.state.terminated.exit_code == 0

    await core.create_namespaced_pod(
        "default",
        pod_manifest(
            "not-retried",
            ["sleep", "30"],
            restartPolicy="Never",
            initContainers=[init([PY, "-c", "raise SystemExit(2)"])],
        ),
    )
    pod = await wait_pod(
        kube, "not-retried", lambda p: p.status.phase == "Failed", timeout=30, message="failed"
    )
    [prepared] = pod.status.init_container_statuses
    assert (prepared.restart_count, prepared.state.terminated.exit_code) == (0, 2)
    assert pod.status.container_statuses[0].state.waiting is not None


@pytest.mark.parametrize(
    "child",
    ["sleep 300", "(trap '' TERM; exec sleep 300)"],
    ids=["child-ends-on-sigterm", "child-outlives-its-shell-until-sigkill"],
)
async def test_deleting_a_pod_ends_its_processes(kube: client.ApiClient, child: str) -> None:
    core = client.CoreV1Api(kube)
    command = f"{child} & echo $! $$$$; wait"  # $$ is an escaped $ in k8s
    await core.create_namespaced_pod(
        "default", pod_manifest("victim", ["sh", "-c", command], terminationGracePeriodSeconds=5)
    )
    await wait_pod(kube, "victim", phase("Running"))

    async def pids() -> list[int] | None:
        text = await core.read_namespaced_pod_log("victim", "default")
        return [int(p) for p in text.split()] if text.strip() else None

    child, shell = await wait_until(pids, message="the pod to print its process ids")
    assert alive(child) and alive(shell)
    deleted = await core.delete_namespaced_pod("victim", "default")
    assert deleted.metadata.deletion_timestamp is not None

    await wait_until(lambda: pod_gone(kube, "victim"), message="the pod to be deleted")
    assert not alive(shell) and not alive(child)  # the whole process group, reaped


async def test_nothing_is_left_running_when_the_sandbox_stops(tmp_path: Path) -> None:
    own = SandboxProcess(port=free_port(), state_dir=tmp_path)
    own.start()
    try:
        api = await kube_client(own.kubeconfig)
        async with api:
            core = client.CoreV1Api(api)
            commands = {
                "plain": "echo $$$$; exec sleep 300",
                "stubborn": "trap '' TERM; sleep 300 & echo $! $$$$; wait",
            }
            for name, command in commands.items():
                await core.create_namespaced_pod(
                    "default", pod_manifest(name, ["sh", "-c", command])
                )
            pids: list[int] = []
            for name in commands:

                async def printed(n: str = name) -> list[int] | None:
                    try:
                        text = await core.read_namespaced_pod_log(n, "default")
                    except client.ApiException:
                        return None
                    return [int(p) for p in text.split()] if text.strip() else None

                pids += await wait_until(printed, timeout=30, message=f"{name} to start")
        assert own.info()["running_processes"] == 2
        assert all(alive(pid) for pid in pids)
    finally:
        code = own.stop()
    assert code == 0
    assert [pid for pid in pids if alive(pid)] == []


async def test_a_pods_process_dies_with_a_killed_sandbox(tmp_path: Path) -> None:
    """SIGKILL leaves the sandbox no chance to stop its pods: their processes get the parent
    death signal."""
    own = SandboxProcess(port=free_port(), state_dir=tmp_path)
    own.start()
    pid = 0
    try:
        api = await kube_client(own.kubeconfig)
        async with api:
            core = client.CoreV1Api(api)
            await core.create_namespaced_pod(
                "default", pod_manifest("orphan", ["sh", "-c", "echo $$$$; exec sleep 300"])
            )

            async def printed() -> int | None:
                try:
                    text = await core.read_namespaced_pod_log("orphan", "default")
                except client.ApiException:
                    return None
                return int(text) if text.strip() else None

            pid = await wait_until(printed, timeout=30, message="the pod to start")
        assert alive(pid) and own.proc is not None
        os.kill(own.proc.pid, signal.SIGKILL)
        await wait_until(lambda: not alive(pid), timeout=30, message="the pod's process to die")
    finally:
        own.stop()
        if pid and alive(pid):  # the test failed: leave nothing running
            os.kill(pid, signal.SIGKILL)


async def test_volumes_config_maps_and_claims(kube: client.ApiClient) -> None:
    """A ConfigMap volume's keys as files, and a PersistentVolumeClaim that outlives its pods;
    paths under a mountPath in the command are pointed at the volume's directory."""
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "script"}, "data": {"run.py": "print('from a volume')"}}
    )
    claim = {
        "metadata": {"name": "home"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await core.create_namespaced_persistent_volume_claim("default", claim)

    async def bound():
        pvc = await core.read_namespaced_persistent_volume_claim("home", "default")
        return pvc if pvc.status.phase == "Bound" else None

    pvc = await wait_until(bound, message="the claim to be bound")
    assert pvc.spec.volume_name and pvc.status.capacity == {"storage": "1Gi"}

    def pod(name: str, command: list[str]) -> dict:
        manifest = pod_manifest(
            name,
            command,
            container={
                "volumeMounts": [
                    {"name": "code", "mountPath": "/opt/code"},
                    {"name": "data", "mountPath": "/home/user"},
                ]
            },
            volumes=[
                {"name": "code", "configMap": {"name": "script"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "home"}},
            ],
        )
        return manifest

    await core.create_namespaced_pod("default", pod("writer", [PY, "/opt/code/run.py"]))
    await wait_pod(kube, "writer", phase("Succeeded", "Failed"), timeout=30)
    assert await pod_log(kube, "writer") == "from a volume\n"
    write = [PY, "-c", "import sys; open(sys.argv[1], 'w').write('kept')", "/home/user/note"]
    await core.create_namespaced_pod("default", pod("saver", write))
    assert (await wait_pod(kube, "saver", phase("Succeeded", "Failed"))).status.phase == "Succeeded"
    read = [PY, "-c", "import sys; print(open(sys.argv[1]).read())", "/home/user/note"]
    await core.create_namespaced_pod("default", pod("reader", read))
    await wait_pod(kube, "reader", phase("Succeeded", "Failed"), timeout=30)
    assert await pod_log(kube, "reader") == "kept\n"


async def test_a_pod_bound_without_its_claim_waits_for_it(kube: client.ApiClient) -> None:
    """A pod bound to a node (no scheduler) whose claim does not exist waits in
    ContainerCreating with FailedMount events, as a kubelet's volume manager makes it, and runs
    once the claim exists; a claimName that is not an object name (``../x``) names no claim
    and makes no folder outside the claims."""
    core = client.CoreV1Api(kube)
    for name, claim in (("escaper", "../../escaped"), ("waiter", "claim-mario-rossi")):
        manifest = pod_manifest(
            name,
            ["true"],
            nodeName="local-cpu-1",
            container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        )
        await core.create_namespaced_pod("default", manifest)

        async def failed_mount(name: str = name):
            events = await core.list_namespaced_event(
                "default", field_selector=f"involvedObject.name={name}"
            )
            return [e.message for e in events.items if e.reason == "FailedMount"]

        messages = await wait_until(failed_mount, message="a FailedMount event")
        assert messages[0] == (
            "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
            f"volumes=[]: error processing PVC default/{claim}: failed to fetch PVC from API "
            f'server: persistentvolumeclaims "{claim}" not found'
        )
        pod = await core.read_namespaced_pod(name, "default")
        assert pod.status.phase == "Pending"
        assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    claim = {"metadata": {"name": "claim-mario-rossi"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    await core.create_namespaced_persistent_volume_claim("default", claim)
    assert (
        await wait_pod(kube, "waiter", phase("Succeeded", "Failed"))
    ).status.phase == "Succeeded"


async def test_sub_paths_and_claim_names_are_checked_on_create(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    cases = {
        "/abs": "spec.containers[0].volumeMounts[0].subPath",
        "a/../../b": "spec.containers[0].volumeMounts[0].subPath",
    }
    for sub, field in cases.items():
        manifest = pod_manifest(
            "subpath",
            ["true"],
            container={"volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": sub}]},
            volumes=[{"name": "v", "emptyDir": {}}],
        )
        with pytest.raises(client.ApiException) as caught:
            await core.create_namespaced_pod("default", manifest)
        body = json.loads(caught.value.body)
        assert (caught.value.status, body["reason"]) == (422, "Invalid")
        assert [c["field"] for c in body["details"]["causes"]] == [field]
    manifest = pod_manifest(
        "noclaim", ["true"], volumes=[{"name": "v", "persistentVolumeClaim": {}}]
    )
    with pytest.raises(client.ApiException) as caught:
        await core.create_namespaced_pod("default", manifest)
    body = json.loads(caught.value.body)
    assert caught.value.status == 422
    assert [c["field"] for c in body["details"]["causes"]] == [
        "spec.volumes[0].persistentVolumeClaim.claimName"
    ]


# ----------------------------------------------------------------------- postStart lifecycle hook


MAIN_RECORDS_ITS_PID = """
import os, sys, time
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(str(os.getpid()))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
"""


def hooked_pod(name: str, data: Path, hook: list[str], **spec) -> dict:
    """A pod whose container records its pid in ``/data/main.pid`` and sleeps, with ``hook`` as
    its postStart exec command; ``/data`` is the host folder ``data`` (a hostPath volume)."""
    main = [PY, "-c", MAIN_RECORDS_ITS_PID, "/data/main.pid"]
    container = {
        "env": [{"name": "GREETING", "value": "hello from the container's env"}],
        "workingDir": "/data",
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "lifecycle": {"postStart": {"exec": {"command": hook}}},
    }
    volumes = [{"name": "data", "hostPath": {"path": str(data)}}]
    return pod_manifest(name, main, container=container, volumes=volumes, **spec)


def shell_hook(script: str) -> list[str]:
    """A hook command running ``script`` with ``/data`` as its ``$1`` (an argument of its own,
    so that it is the volume's folder)."""
    return ["sh", "-c", script, "hook", "/data"]


async def events_of(kube: client.ApiClient, name: str, reason: str) -> list:
    events = await client.CoreV1Api(kube).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={name},reason={reason}"
    )
    return events.items


async def test_post_start_hook_runs_in_the_container_and_holds_it_until_done(
    kube: client.ApiClient, tmp_path: Path
) -> None:
    core = client.CoreV1Api(kube)
    # the hook writes what it sees, then waits for the test's go-ahead (a file in the volume)
    hook = shell_hook(
        'echo "$GREETING" > "$1/hook.txt"; pwd >> "$1/hook.txt"; '
        'while [ ! -e "$1/go" ]; do sleep 0.05; done'
    )
    await core.create_namespaced_pod("default", hooked_pod("hooked", tmp_path, hook))
    main_pid, seen = tmp_path / "main.pid", tmp_path / "hook.txt"
    await wait_until(
        lambda: main_pid.exists() and seen.exists(), timeout=30, message="the process and hook"
    )
    # the hook ran beside the container's process, with its environment, mounts and folder
    assert seen.read_text().splitlines() == ["hello from the container's env", str(tmp_path)]
    assert alive(int(main_pid.read_text()))
    # ... and while it runs, the container is not running and the pod is neither Running nor
    # Ready (the kubelet reports the container once its postStart hook has ended)
    pod = await core.read_namespaced_pod("hooked", "default")
    assert pod.status.phase == "Pending"
    status = pod.status.container_statuses[0]
    assert status.state.waiting.reason == "ContainerCreating" and status.ready is False
    assert next(c for c in pod.status.conditions if c.type == "Ready").status == "False"

    (tmp_path / "go").touch()
    pod = await wait_pod(kube, "hooked", phase("Running"), timeout=30)
    status = pod.status.container_statuses[0]
    assert status.state.running is not None and status.ready and status.restart_count == 0
    assert not await events_of(kube, "hooked", "FailedPostStartHook")


async def test_a_failed_post_start_hook_kills_the_container_never_restarted(
    kube: client.ApiClient, tmp_path: Path
) -> None:
    core = client.CoreV1Api(kube)
    # it fails once the container's process is up
    hook = shell_hook(
        'while [ ! -e "$1/main.pid" ]; do sleep 0.05; done; echo no examples here >&2; exit 3'
    )
    await core.create_namespaced_pod("default", hooked_pod("hook-fails", tmp_path, hook))
    pod = await wait_pod(kube, "hook-fails", phase("Succeeded", "Failed"), timeout=60)
    assert pod.status.phase == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 143 and terminated.reason == "Error"  # SIGTERM
    assert not alive(int((tmp_path / "main.pid").read_text()))
    (event,) = await events_of(kube, "hook-fails", "FailedPostStartHook")
    assert event.type == "Warning" and event.source.component == "kubelet"
    assert event.message.startswith(
        f'Exec lifecycle hook ([{" ".join(hook)}]) for Container "main" '
        f'in Pod "hook-fails_default({pod.metadata.uid})" failed - error: command '
    )
    assert "exited with 3" in event.message and 'message: "no examples here\\n"' in event.message
    assert [e.message for e in await events_of(kube, "hook-fails", "Killing")] == [
        "FailedPostStartHook"
    ]


async def test_a_failed_post_start_hook_restarts_the_container_by_its_policy(
    kube: client.ApiClient, tmp_path: Path
) -> None:
    core = client.CoreV1Api(kube)
    # fails the first time, succeeds once restarted
    hook = shell_hook('[ -e "$1/failed-once" ] && exit 0; touch "$1/failed-once"; exit 1')
    created = await core.create_namespaced_pod(
        "default", hooked_pod("hook-retries", tmp_path, hook, restartPolicy="Always")
    )

    def running(pod: dict) -> bool:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return bool(statuses) and "running" in statuses[0]["state"]

    seen = await history(
        core.list_namespaced_pod, "default", field_selector="metadata.name=hook-retries",
        resource_version=created.metadata.resource_version, until=running,
    )  # fmt: skip
    assert running(seen[-1]), "the container did not run after its hook passed"
    waiting = [
        s["state"]["waiting"]
        for pod in seen
        for s in (pod.get("status") or {}).get("containerStatuses") or []
        if "waiting" in s["state"]
    ]
    reasons = [w["reason"] for w in waiting]
    assert "PostStartHookError" in reasons, reasons
    error = next(w for w in waiting if w["reason"] == "PostStartHookError")
    assert "exited with 1" in error["message"]
    final = seen[-1]["status"]["containerStatuses"][0]
    assert final["restartCount"] == 1 and final["lastState"]["terminated"]["exitCode"] == 143
    (event,) = await events_of(kube, "hook-retries", "FailedPostStartHook")
    assert event.count == 1


async def test_deleting_a_pod_ends_its_hanging_post_start_hook(
    kube: client.ApiClient, tmp_path: Path
) -> None:
    core = client.CoreV1Api(kube)
    hook = shell_hook('echo $$ > "$1/hook.pid"; exec sleep 300')
    await core.create_namespaced_pod(
        "default", hooked_pod("hook-hangs", tmp_path, hook, terminationGracePeriodSeconds=5)
    )
    hook_pid, main_pid = tmp_path / "hook.pid", tmp_path / "main.pid"
    await wait_until(
        lambda: main_pid.exists() and hook_pid.exists() and hook_pid.read_text().endswith("\n"),
        30,
        message="the process and its hook",
    )
    pids = [int(hook_pid.read_text()), int(main_pid.read_text())]
    assert all(alive(pid) for pid in pids)
    await core.delete_namespaced_pod("hook-hangs", "default")
    await wait_until(lambda: pod_gone(kube, "hook-hangs"), 30, message="the pod to be deleted")
    assert [pid for pid in pids if alive(pid)] == []
