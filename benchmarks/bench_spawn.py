"""Spawning: AIInfnSpawner against plain KubeSpawner on the same sandbox, in this process.

Both spawners start and stop the same pod (1 CPU, 4Gi, a process that sleeps) in turn, after a
warm-up spawn each that starts the shared watches. Figures: median start time and its ratio,
Kubernetes requests per spawn (watch streams and the warm-up's lists excluded), and requests
and time per spawn-form render. Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from types import SimpleNamespace
from typing import Any

from traitlets.config import Config

ROUNDS = 30
RENDERS = 50
COMMAND = ["python", "-c", "import time; time.sleep(3600)"]


def _config() -> Config:
    c = Config()
    c.KubeSpawner.namespace = "default"
    c.KubeSpawner.cmd = COMMAND
    c.KubeSpawner.start_timeout = 120
    c.KubeSpawner.cpu_guarantee = c.KubeSpawner.cpu_limit = 1.0
    c.KubeSpawner.mem_guarantee = c.KubeSpawner.mem_limit = 4 * 2**30
    c.KubeSpawner.node_selector = {"aiinfn.infn.it/site": "local"}
    return c


def _user(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, id=name, url=f"/user/{name}/")


def _spawn_requests() -> int:
    """Requests counted so far outside the watches and the warm-up."""
    from aiinfn_hub.spawner import kuberequests

    return sum(
        n
        for (activity, method), n in kuberequests.COUNTS.items()
        if activity not in ("watch", "warmup") and method != "WATCH"
    )


async def _spawn_once(spawner: Any, label: str) -> tuple[float, float, int]:
    """(seconds until the pod is created, until it runs, requests made) for one start; then
    stop it. Creation measures the spawner's own work (options, profile, manifest) and its
    requests; running adds the sandbox's scheduling and KubeSpawner's polling, the same for
    both spawners."""
    from aiinfn_hub.spawner import AIInfnSpawner, kuberequests

    created: list[float] = []
    create = type(spawner)._make_create_pod_request

    async def timed_create(*args: Any, **kwargs: Any) -> Any:
        result = await create(spawner, *args, **kwargs)
        created.append(time.perf_counter())
        return result

    spawner._make_create_pod_request = timed_create
    before = _spawn_requests()
    started = time.perf_counter()
    with kuberequests.activity(label):
        if isinstance(spawner, AIInfnSpawner):
            spawner.check_user_options({"profile": "cpu-small"})
        await spawner.start()
        await spawner._start_future
    running = time.perf_counter() - started
    made = _spawn_requests() - before
    with kuberequests.activity("stop-" + label):
        await spawner.stop(now=True)
    return created[-1] - started, running, made


async def _measure() -> list[dict]:
    from kubespawner import KubeSpawner

    from aiinfn_hub.spawner import AIInfnSpawner, ClusterView, kuberequests

    c = _config()
    kube = KubeSpawner(_mock=True, config=c, user=_user("bench-kube"))
    aiinfn = AIInfnSpawner(_mock=True, config=c, user=_user("bench-aiinfn"))
    kuberequests.instrument(kube.api.api_client)
    await aiinfn.cluster.ready(30)
    for spawner in (kube, aiinfn):
        with kuberequests.activity("warmup"):
            await _spawn_once(spawner, "warmup")

    created: dict[str, list[float]] = {"kube": [], "aiinfn": []}
    times: dict[str, list[float]] = {"kube": [], "aiinfn": []}
    requests: dict[str, list[int]] = {"kube": [], "aiinfn": []}
    for round_ in range(ROUNDS):
        order = [("kube", kube), ("aiinfn", aiinfn)]
        for name, spawner in order if round_ % 2 == 0 else order[::-1]:
            # the same jitter for both in a round: KubeSpawner polls for the running pod with
            # a randomised backoff, which would otherwise dominate the difference
            random.seed(round_)
            to_create, elapsed, made = await _spawn_once(spawner, name)
            created[name].append(to_create)
            times[name].append(elapsed)
            requests[name].append(made)

    form_before = kuberequests.total("options_form", watches=True)
    started = time.perf_counter()
    for _ in range(RENDERS):
        await aiinfn._render_profiles_form()
    render = (time.perf_counter() - started) / RENDERS
    form_requests = (kuberequests.total("options_form", watches=True) - form_before) / RENDERS
    static = aiinfn.profiles()
    started = time.perf_counter()
    for _ in range(RENDERS):
        kube._render_options_form(static)
    static_render = (time.perf_counter() - started) / RENDERS

    await ClusterView.stop_all()
    await KubeSpawner._stop_all_reflectors()

    kube_create, aiinfn_create = (statistics.median(created[k]) for k in ("kube", "aiinfn"))
    kube_time, aiinfn_time = (statistics.median(times[k]) for k in ("kube", "aiinfn"))
    kube_requests, aiinfn_requests = (statistics.mean(requests[k]) for k in ("kube", "aiinfn"))
    return [
        {
            "name": "KubeSpawner: start() to pod created (median)",
            "value": kube_create * 1000,
            "unit": "ms",
        },
        {
            "name": "AIInfnSpawner: start() to pod created (median)",
            "value": aiinfn_create * 1000,
            "unit": "ms",
            "baseline": kube_create * 1000,
            "note": f"{ROUNDS} spawns each, interleaved; AIInfnSpawner's option check included",
        },
        {
            "name": "AIInfnSpawner's own extra work per spawn",
            "value": (aiinfn_create - kube_create) * 1000,
            "unit": "ms",
            "note": "profiles from the catalogue, option checks, the shared watches' events",
        },
        {
            "name": "KubeSpawner: start() to running pod (median)",
            "value": kube_time * 1000,
            "unit": "ms",
        },
        {
            "name": "AIInfnSpawner: start() to running pod (median)",
            "value": aiinfn_time * 1000,
            "unit": "ms",
            "baseline": kube_time * 1000,
        },
        {
            "name": "spawn time ratio AIInfnSpawner / KubeSpawner",
            "value": aiinfn_time / kube_time,
            "unit": "x",
            "target": 1.10,
            "higher_is_better": False,
            "note": "the user's wait; KubeSpawner's polling for the running pod (same jitter "
            "for both in each round) is most of it on the sandbox",
        },
        {
            "name": "KubeSpawner: Kubernetes requests per spawn",
            "value": kube_requests,
            "unit": "requests",
        },
        {
            "name": "AIInfnSpawner: Kubernetes requests per spawn",
            "value": aiinfn_requests,
            "unit": "requests",
            "baseline": kube_requests,
        },
        {
            "name": "extra Kubernetes requests per spawn (AIInfn - Kube)",
            "value": aiinfn_requests - kube_requests,
            "unit": "requests",
            "target": 1,
            "higher_is_better": False,
        },
        {
            "name": "Kubernetes requests per spawn-form render (live GPU counts)",
            "value": form_requests,
            "unit": "requests",
            "target": 0,
            "higher_is_better": False,
            "note": "the AI_INFN hub's form listed every node and pod twice per render",
        },
        {
            "name": "spawn-form render with live GPU counts",
            "value": render * 1000,
            "unit": "ms",
            "baseline": static_render * 1000,
            "note": "baseline: KubeSpawner rendering the same profiles as a static list",
        },
    ]


def run() -> list[dict]:
    from aiinfn_hub.sandbox import SandboxProcess
    from aiinfn_hub.sandbox.testing import default_kubeconfig

    with SandboxProcess() as sandbox, default_kubeconfig(sandbox.kubeconfig):
        return asyncio.run(_measure())
