"""AIInfnSpawner in this process against the sandbox: the form is rendered from the shared watch
cache with no Kubernetes request, its counts follow the cluster, and pods carry no credentials
or privileges whatever the configuration asks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import Configuration
from kubespawner import KubeSpawner
from traitlets.config import Config

from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import default_kubeconfig, kube_client, wait_until
from aiinfn_hub.spawner import AIInfnSpawner, ClusterView, kuberequests

from .conftest import gpu_pod


@pytest.fixture
async def spawner(sandbox):
    made = []

    def make(**config) -> AIInfnSpawner:
        c = Config()
        c.KubeSpawner.namespace = "default"
        for key, value in config.items():
            setattr(c.AIInfnSpawner, key, value)
        made.append(AIInfnSpawner(_mock=True, config=c))
        return made[-1]

    yield make
    await ClusterView.stop_all()


async def test_rendering_the_form_makes_no_kubernetes_request(spawner, sandbox):
    s = spawner()
    assert await s.cluster.ready(30)
    before = kuberequests.total("options_form", watches=True)
    watches = kuberequests.total("watch", watches=True)
    for _ in range(20):
        form = await s._render_profiles_form()
    assert "4 of 4 A100 free now" in form and "2 of 2 T4 free now" in form
    assert kuberequests.total("options_form", watches=True) == before
    # the counter counts: the shared watches' own list and watch requests were seen
    assert watches >= 4

    api = await kube_client(sandbox.kubeconfig)
    try:
        from kubernetes_asyncio.client import CoreV1Api

        await CoreV1Api(api).create_namespaced_pod(
            "default", gpu_pod("a100-job", "local-gpu-a100-1", 3)
        )

        async def shows_it() -> bool:
            return "1 of 4 A100 free now" in await s._render_profiles_form()

        await wait_until(shows_it, 30, 0.2, "the form to count the A100s in use")
    finally:
        await api.close()
    assert kuberequests.total("options_form", watches=True) == before
    # a second spawner shares the same watches
    assert spawner().cluster is s.cluster


@contextmanager
def spawner_on(sandbox: Sandbox, tmp_path: Path) -> Iterator[AIInfnSpawner]:
    """An AIInfnSpawner whose KubeSpawner client talks to ``sandbox`` (this test only)."""
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    previous = Configuration.get_default_copy()
    try:
        with default_kubeconfig(kubeconfig):
            c = Config()
            c.KubeSpawner.namespace = "default"
            c.KubeSpawner.k8s_api_host = sandbox.url
            yield AIInfnSpawner(_mock=True, config=c)
    finally:
        Configuration.set_default(previous)  # KubeSpawner set the process-wide default


async def test_gpu_profiles_count_the_sites_nodes_whatever_their_names(tmp_path):
    a100 = {"memory": "256Gi", "gpus": 4, "gpu_product": "NVIDIA-A100-SXM4-40GB"}
    mig = {"gpus": 7, "gpu_product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"}
    config = {
        "sites": [
            {"name": "local", "type": "local", "nodes": [
                {"name": "worker-a", "cpu": "8"},
                {"name": "dgx-01", "cpu": "64", **a100},
                {"name": "dgx-02.gpu.infn.it", "cpu": "64", **a100},
                {"name": "gpu-node.example", "cpu": "64", **mig},
            ]},
            # another site's A100s are not the local site's
            {"name": "teaching", "type": "local", "nodes": [{"name": "lab-a100", **a100}]},
        ]
    }  # fmt: skip
    async with Sandbox(config, state_dir=tmp_path / "sandbox") as sandbox:
        with spawner_on(sandbox, tmp_path) as s:
            try:
                assert await s.cluster.ready(30)
                form = await s._render_profiles_form()
                assert "8 of 8 A100 free now" in form
                assert "7 of 7 A100 MIG 1g.10gb free now" in form
                assert "0 of 0 T4 free now" in form
                await s.api.create_namespaced_pod("default", gpu_pod("a100-job", "dgx-01", 3))

                async def counted() -> bool:
                    by_slug = {p["slug"]: p for p in s.profiles()}
                    return by_slug["gpu-a100"]["gpu"] == {
                        "model": "A100", "site": "local", "free": 5, "total": 8
                    }  # fmt: skip

                await wait_until(counted, 30, 0.1, "the A100 in use on dgx-01 to be counted")
            finally:
                await ClusterView.stop_all()


async def test_pods_carry_no_credentials_or_privileges_whatever_is_configured(spawner):
    s = spawner(
        privileged=True,
        allow_privilege_escalation=True,
        service_account="powerful",
        automount_service_account_token=True,
        jobs_service_url="http://hub:10101/services/aiinfn-jobs/",
    )
    s.user_options = {"profile": "gpu-t4", "gpus": "2"}
    await s.load_user_options()
    s.site_name = "local"
    pod = await s.get_pod_manifest()
    assert pod.spec.automount_service_account_token is False
    context = pod.spec.containers[0].security_context
    assert context["privileged"] is False and context["allowPrivilegeEscalation"] is False
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert env["AIINFN_JOBS_URL"] == "http://hub:10101/services/aiinfn-jobs/"
    assert env["AIINFN_HUB_MODE"] == "hub"
    assert env["AIINFN_SITE"] == "local"
    assert env["AIINFN_DEFAULT_GPUS"] == "2" and env["AIINFN_DEFAULT_GPU_MODEL"] == "T4"
    assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "2"
    term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert term.node_selector_terms[0].match_expressions[0]["values"] == ["Tesla-T4"]


def own_options() -> dict[str, Any]:
    """The spawner's options that KubeSpawner does not have: its class's and its mixins'."""
    theirs = KubeSpawner.class_traits(config=True)
    return {n: t for n, t in AIInfnSpawner.class_traits(config=True).items() if n not in theirs}


async def test_every_option_is_a_documented_trait():
    own = set(own_options())
    assert own >= {
        "cpu_profiles",
        "gpu_counts",
        "automatic_profile",
        "interactive_offload",
        "session_start_timeouts",
        "jobs_service_url",
        "server_mode",
    }
    guide = Path(__file__).resolve().parents[2] / "docs" / "spawner.md"
    reference = guide.read_text(encoding="utf-8").split("## Spawner configuration reference")[1]
    reference = reference.split("\n# ", 1)[0]
    for name, trait in own_options().items():
        assert len((trait.help or "").split()) >= 5, f"{name} has no real help text"
        assert f"| `{name}` |" in reference, f"{name} is missing from docs/spawner.md's reference"
