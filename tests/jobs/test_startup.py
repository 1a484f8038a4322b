"""The jobs service fails fast at start, in one line with the fix, and answers its probes.

Each failure a real deployment meets on day one is staged: a cluster without Kueue (the
sandbox started without it), a service account that lacks a rule (the sandbox's ``forbid``
fault, which answers 403 in the API server's words), an API server that cannot be reached.
The service runs as its own process (``python -m aiinfn_hub.jobs``), in a namespace of a
real install rather than the sandbox's ``default``; the tests assert that it exits, with
status 1, one line and no traceback. Nothing is timed: the deadline is short so the tests
are quick, and each test waits generously for the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.kubeconfig import write_kubeconfig
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import wait_until

from .service import ServiceProcess, call, standalone_config

NAMESPACE = "jhub-prod"
ACCOUNT = f"system:serviceaccount:{NAMESPACE}:hub"
#: The whole run, start to exit, however slow the machine: a failing test waits this long.
EXIT_WAIT = 120.0


async def run_until_exit(
    kubeconfig: Path,
    tmp: Path,
    *,
    deadline: float = 2.0,
    namespace: str = NAMESPACE,
    **sections: dict[str, Any],
) -> tuple[int, list[str]]:
    """Run the service (with config ``sections`` besides the tests') until it exits; its
    status and the lines it wrote."""
    config = standalone_config(
        tmp,
        JobsService={"start_timeout": deadline},
        JobsManager={"namespace": namespace},
        **sections,
    )
    command = [sys.executable, "-m", "aiinfn_hub.jobs", "--port", str(free_port())]
    command += ["--ip", "127.0.0.1", "--kubeconfig", str(kubeconfig), "--config", str(config)]
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), EXIT_WAIT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    return proc.returncode, [line for line in output.decode().splitlines() if line.strip()]


def the_one_line(code: int, lines: list[str]) -> str:
    """The service exited 1 and said one thing, without a traceback."""
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    prefix = "the jobs service cannot start: "
    assert prefix in lines[0], lines[0]
    return lines[0].split(prefix, 1)[1]


def the_admins_line(code: int, lines: list[str], prefix: str) -> str:
    """The service exited 2 (the admin's to fix) and said one thing after ``prefix``."""
    assert code == 2, lines
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert prefix in lines[0], lines[0]
    return lines[0].split(prefix, 1)[1]


@pytest.mark.parametrize(
    ("option", "section", "said"),
    [
        ("WaitPolicy", {"sites": {"Leonardo": {"margin": 60}}}, "WaitPolicy.sites names "
         "unknown sites ['Leonardo']; sites are ['leonardo', 'local', 'tier1']"),
        ("BreakerPolicy", {"sites": {"cnaf": {"failures": 2}}}, "BreakerPolicy.sites names "
         "unknown sites ['cnaf']; sites are ['leonardo', 'local', 'tier1']"),
        ("FallbackPolicy", {"sites": {"tier-1": {"provider_failed": False}}}, "FallbackPolicy."
         "sites names unknown sites ['tier-1']; sites are ['leonardo', 'local', 'tier1']"),
        ("PlacementConfig", {"site_overrides": {"leo": {"max_walltime": "1h"}}},
         "PlacementConfig.site_overrides names unknown site 'leo'; "
         "sites are ['leonardo', 'local', 'tier1']"),
    ],
)  # fmt: skip
async def test_a_site_misnamed_in_the_configuration_is_refused_in_one_line(
    sandbox, tmp_path, option, section, said
):
    """A typo in a site's name would otherwise change nothing, silently."""
    code, lines = await run_until_exit(sandbox.kubeconfig, tmp_path, **{option: section})
    assert the_admins_line(code, lines, "the jobs service's configuration is wrong: ") == said


async def test_a_missing_kubeconfig_is_named(tmp_path):
    code, lines = await run_until_exit(tmp_path / "no-such-kubeconfig", tmp_path)
    said = the_admins_line(code, lines, "cannot read its Kubernetes credentials: ")
    assert said.startswith(f"kubeconfig {tmp_path / 'no-such-kubeconfig'}: no such file (")


async def test_a_cluster_without_kueue_is_named_with_the_fix(tmp_path):
    with SandboxProcess(state_dir=tmp_path / "sandbox", kueue=False) as bare:
        code, lines = await run_until_exit(bare.kubeconfig, tmp_path)
    assert the_one_line(code, lines) == (
        "Kueue is not installed in this cluster (the API server does not serve "
        "workloads.kueue.x-k8s.io/v1beta2): install Kueue, then "
        "kubectl apply -f helm-values/kueue.yaml"
    )


async def test_a_missing_permission_names_the_account_and_the_rbac_file(sandbox, tmp_path):
    sandbox.faults.forbid("jobs.batch", verbs=("list", "watch"), user=ACCOUNT)
    code, lines = await run_until_exit(sandbox.kubeconfig, tmp_path)
    assert the_one_line(code, lines) == (
        f"the service account {ACCOUNT} may not list jobs.batch in namespace {NAMESPACE}: "
        f"kubectl apply -n {NAMESPACE} -f helm-values/rbac.yaml (with its namespace jhub "
        f"changed to {NAMESPACE})"
    )


async def test_every_missing_permission_is_in_the_one_line(sandbox, tmp_path):
    """rbac.yaml not applied at all, and the chart's Role without pods: one line for all."""
    for resource in ("configmaps", "nodes", "pods", "workloads.kueue.x-k8s.io"):
        sandbox.faults.forbid(resource, user=ACCOUNT)
    code, lines = await run_until_exit(sandbox.kubeconfig, tmp_path, namespace="jhub")
    said = the_one_line(code, lines)
    assert said.startswith(f"the service account {ACCOUNT} may not list ")
    assert "configmaps, pods, workloads.kueue.x-k8s.io in namespace jhub" in said
    assert "nor nodes (cluster-wide)" in said
    assert "kubectl apply -n jhub -f helm-values/rbac.yaml;" in said  # the manifests' namespace
    assert "keep rbac.create: true in the chart's values" in said
    assert "jobs.batch" not in said


async def test_an_api_server_that_cannot_be_reached(tmp_path):
    with socket.socket() as held:  # bound, not listening: refused, and no one else's port
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}", "x")
        code, lines = await run_until_exit(kubeconfig, tmp_path)
    said = the_one_line(code, lines)
    assert said.startswith(f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}: ")


async def test_an_api_server_that_never_answers(tmp_path):
    """It accepts connections and says nothing: the deadline still ends the wait."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}", "x")
    try:
        code, lines = await run_until_exit(kubeconfig, tmp_path)
    finally:
        server.close()
        for writer in held:
            writer.close()
    said = the_one_line(code, lines)
    assert said.startswith(
        f"no answer from the Kubernetes API server at http://127.0.0.1:{port} within 2 s "
        "while listing "
    ), said


async def get(url: str) -> tuple[int, Any]:
    return await call("GET", url, token=None)


async def test_a_failure_before_the_deadline_is_retried_and_the_probes_say_so(sandbox, tmp_path):
    """A rule that arrives late (RBAC applied after the hub) costs a wait, not a restart:
    /healthz answers at once, /readyz says 'not ready' until the lists come, then 'ready'."""
    sandbox.faults.forbid("jobs.batch", user=ACCOUNT)
    service = ServiceProcess(
        sandbox.kubeconfig,
        tmp_path,
        JobsService={"start_timeout": EXIT_WAIT},
        JobsManager={"namespace": NAMESPACE},
    )
    base = service.url
    try:
        await service.launch()
        await wait_until(lambda: service.answers(base + "healthz"), 60, 0.1, "/healthz")
        assert await get(base + "healthz") == (200, {"status": "ok"})
        assert await get(base + "readyz") == (503, {"status": "not ready"})
        status, error = await call("GET", base + "jobs")
        assert status == 503 and "starting" in error["error"]
        sandbox.faults.forbid("jobs.batch", user=ACCOUNT, on=False)

        async def ready() -> bool:
            return (await get(base + "readyz"))[0] == 200

        await wait_until(ready, 60, 0.1, "/readyz to say ready")
        assert await get(base + "readyz") == (200, {"status": "ready"})
        assert service.proc.poll() is None
        assert (await call("GET", base + "jobs"))[0] == 200
    finally:
        service.stop()


async def test_readyz_says_not_ready_while_the_api_server_fails(sandbox, tmp_path):
    service = await ServiceProcess(
        sandbox.kubeconfig, tmp_path, JobsService={"ready_grace": 0.5}
    ).start()
    base = service.url
    try:
        assert await get(base + "readyz") == (200, {"status": "ready"})
        sandbox.faults.api_errors(1.0)
        sandbox.faults.drop_watches()  # every watch reconnects, and meets a 503

        async def status() -> int:
            return (await get(base + "readyz"))[0]

        await wait_until(lambda: _is(status, 503), 60, 0.1, "/readyz to say not ready")
        assert await get(base + "readyz") == (503, {"status": "not ready"})
        assert await get(base + "healthz") == (200, {"status": "ok"})
        sandbox.faults.api_errors(0)
        await wait_until(lambda: _is(status, 200), 60, 0.1, "/readyz to say ready again")
    finally:
        service.stop()
    log = service.log.read_text()
    assert "readiness: not ready (the Kubernetes API server has not answered for" in log


async def _is(probe, expected: int) -> bool:
    return await probe() == expected


def test_the_probes_are_documented_without_security():
    from aiinfn_hub.jobs import openapi

    paths = openapi.document()["paths"]
    for path in ("/healthz", "/readyz"):
        assert paths[path]["get"]["security"] == [], path
    secured = [p for p, item in paths.items() if "security" in item.get("get", {})]
    assert sorted(secured) == ["/healthz", "/readyz"]


@pytest.mark.parametrize("kind", ["configmap", "job", "pod", "workload", "node"])
def test_every_watched_kind_has_words_for_its_failures(kind):
    from aiinfn_hub.kube.client import KubeError
    from aiinfn_hub.kube.startup import WATCHED, diagnose

    forbidden = KubeError(403, "Forbidden", 'x is forbidden: User "alice@infn.it" cannot list')
    said = diagnose({kind: forbidden}, host="https://k8s.example:6443", namespace="ns", waited=30)
    assert said.startswith("the user alice@infn.it may not list " + WATCHED[kind].resource)
    assert json.dumps(said).count("\\n") == 0
