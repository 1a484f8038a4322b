"""The jobs service on the real control plane beside the sandbox, measured the same way in one
run: fallback reaction, a refused remote submission to Running locally, submit to Running on a
free local node, the service's Kubernetes requests at steady state, and the API server itself
(request rate and watch latency).

The real control plane is the one ``aiinfn-hub cluster`` builds (``make bench`` builds it
first if the cache is empty) and starts here in a temporary folder; the jobs service runs in
this process as the hub's ServiceAccount there, and with the sandbox's token on the sandbox.
A separate watch (the observer) timestamps what the API server says, on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client
from traitlets.config import Config

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.cache import Reflector
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import wait_until

from .bench_jobs import percentile

FALLBACKS = 10
LOCAL_STARTS = 10
STEADY_RUNNING = 10
STEADY_WINDOW = 30.0
API_CALLS = 100
USER = "mario.rossi@infn.it"
GPU_JOB = {
    "command": ["python", "-c", "import time; time.sleep(2)"],
    "resources": {"gpus": 1, "gpu_model": "A100"},
}


class Stack:
    """One Kubernetes to measure on: where the service and the observer connect, its jobs
    namespace, and how Leonardo is made to refuse submissions."""

    name: str
    service_kubeconfig: str
    observer_kubeconfig: str
    namespace: str

    def refuse(self, on: bool) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SandboxStack(Stack):
    name = "sandbox"
    namespace = "default"

    def __init__(self, folder: str) -> None:
        self.sandbox = SandboxProcess(state_dir=folder).start()
        self.service_kubeconfig = self.observer_kubeconfig = str(self.sandbox.kubeconfig)

    def refuse(self, on: bool) -> None:
        self.sandbox.faults.provider_failure("leonardo", on=on)

    def close(self) -> None:
        self.sandbox.stop()


class RealStack(Stack):
    name = "real control plane"
    namespace = "jhub"

    def __init__(self, folder: str) -> None:
        from aiinfn_hub.cluster.cluster import Cluster
        from aiinfn_hub.cluster.faults import ClusterFaults

        self.cluster = Cluster(Path(folder), say=lambda *_: None)
        self.cluster.up()
        self.faults = ClusterFaults(self.cluster)
        self.service_kubeconfig = str(self.cluster.hub_kubeconfig_path)
        self.observer_kubeconfig = str(self.cluster.kubeconfig_path)

    def refuse(self, on: bool) -> None:
        self.faults.apply({"fault": "refuse", "site": "leonardo", "off": not on})

    def close(self) -> None:
        self.cluster.down()


#: The steps of a refused remote submission that falls back, in order, as the observer sees
#: them: each step's time is measured from the one before (where the 5 s go).
STEPS = (
    ("remote Job admitted", "Kueue unsuspends attempt 1"),
    ("remote pod created", "the Job controller creates its pod"),
    ("remote pod bound", "kube-scheduler binds it to the virtual node"),
    ("refused", "interLink fails it: ProviderFailed"),
    ("fallback Job", "the jobs service creates attempt 2"),
    ("fallback admitted", "Kueue unsuspends attempt 2"),
    ("local pod created", "the Job controller creates its pod"),
    ("local pod bound", "kube-scheduler binds it to a node"),
    ("running", "the node's agent runs it"),
)


class Observer:
    """Watches of the product's pods and Jobs that timestamp each change as it arrives."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        #: job id -> step (of STEPS, or "submitted") -> when it was first seen
        self.marks: dict[str, dict[str, float]] = {}

    def _mark(self, job_id: str, step: str) -> None:
        self.marks.setdefault(job_id, {}).setdefault(step, time.perf_counter())

    def at(self, job_id: str, step: str) -> float | None:
        """When ``step`` of the job was first seen; None if it has not been."""
        return self.marks.get(job_id, {}).get(step)

    def _pod(self, _kind: str, _event: str, pod: dict) -> None:
        labels = pod["metadata"].get("labels") or {}
        status = pod.get("status") or {}
        job_id = labels.get(L.JOB_ID)
        if job_id is None:
            return
        where = "remote" if labels.get(L.ATTEMPT) == "1" else "local"
        self._mark(job_id, f"{where} pod created")
        if (pod.get("spec") or {}).get("nodeName"):
            self._mark(job_id, f"{where} pod bound")
        if status.get("reason") == "ProviderFailed" and labels.get(L.ATTEMPT) == "1":
            self._mark(job_id, "refused")
        if status.get("phase") in ("Running", "Succeeded"):  # a short job may skip Running
            self._mark(job_id, "running")

    def _job(self, _kind: str, event: str, job: dict) -> None:
        labels = job["metadata"].get("labels") or {}
        job_id = labels.get(L.JOB_ID)
        if job_id is None:
            return
        second = labels.get(L.ATTEMPT) == "2"
        if second:
            self._mark(job_id, "fallback Job")
        if not (job.get("spec") or {}).get("suspend", False):
            self._mark(job_id, "fallback admitted" if second else "remote Job admitted")

    async def __aenter__(self) -> Observer:
        self.api = await kube_client(self.stack.observer_kubeconfig)
        kube = Kube(self.api, self.stack.namespace)
        selector = f"{L.MANAGED_BY}={L.MANAGER}"
        ns = (self.stack.namespace,)
        self.watchers = [
            Reflector(
                kube, "pod", client.CoreV1Api(self.api).list_namespaced_pod, ns, selector, self._pod
            ),
            Reflector(
                kube,
                "job",
                client.BatchV1Api(self.api).list_namespaced_job,
                ns,
                selector,
                self._job,
            ),
        ]
        for watcher in self.watchers:
            watcher.start()
        for watcher in self.watchers:
            await watcher.synced.wait()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for watcher in self.watchers:
            await watcher.stop()
        await self.api.close()


async def measure(stack: Stack) -> dict[str, Any]:
    """Every figure of one stack."""
    api = await kube_client(stack.service_kubeconfig)
    config = Config()
    config.JobsManager.namespace = stack.namespace
    # A fallback from a refused site is what is measured: its breaker must not skip it.
    config.BreakerPolicy.failures = 0
    manager = JobsManager(Kube(api, stack.namespace), config=config)
    await manager.start()
    await wait_until(
        lambda: all(s["health"]["usable"] for s in manager.sites()), 120, 0.2, "every site"
    )
    found: dict[str, Any] = {}
    try:
        async with Observer(stack) as seen:
            found.update(await refused_then_local(stack, manager, seen))
            found["local_start"] = await local_starts(manager, seen)
            found["per_minute"] = await steady_requests(manager, seen)
        found.update(await api_server(stack))
    finally:
        await manager.stop()
        await api.close()
    return found


async def refused_then_local(
    stack: Stack, manager: JobsManager, seen: Observer
) -> dict[str, list[float]]:
    """GPU jobs whose submission to Leonardo is refused: reaction (the failed pod seen -> the
    fallback Job seen) and end to end (submitted -> Running locally)."""
    stack.refuse(True)
    submitted: dict[str, float] = {}
    try:
        # one at a time, so that each fallback finds the local GPUs free: the figure is the
        # time a fallback takes, not the time it waits for another job's quota (4 local A100s)
        for _ in range(FALLBACKS):
            view, _ = await manager.submit(USER, GPU_JOB)
            job_id = view["id"]
            submitted[job_id] = time.perf_counter()
            seen.marks.setdefault(job_id, {})["submitted"] = submitted[job_id]
            try:
                await wait_until(
                    lambda i=job_id: (
                        seen.at(i, "running") is not None and seen.at(i, "fallback Job") is not None
                    ),
                    180,
                    0.05,
                    "the fallback to run locally",
                )
            except TimeoutError:
                marks = sorted(seen.marks.get(job_id, {}), key=seen.marks[job_id].get)
                attempts = (manager.jobs[job_id].view or {}).get("attempts")
                raise RuntimeError(
                    f"{stack.name}: job {job_id} saw only {marks}; attempts {attempts}"
                ) from None
    finally:
        stack.refuse(False)
    steps = {}
    for (step, _), before in zip(STEPS, ("submitted", *(s for s, _ in STEPS)), strict=False):
        steps[f"step: {step}"] = [
            seen.marks[i][step] - seen.marks[i][before]
            for i in submitted
            if step in seen.marks[i] and before in seen.marks[i]
        ]
    return {
        "reaction": [seen.marks[i]["fallback Job"] - seen.marks[i]["refused"] for i in submitted],
        "refused_to_running": [seen.marks[i]["running"] - t for i, t in submitted.items()],
        **steps,
    }


async def local_starts(manager: JobsManager, seen: Observer) -> list[float]:
    """Submitted -> its pod Running, one local job at a time on free nodes."""
    took = []
    for _ in range(LOCAL_STARTS):
        body = {"command": ["sleep", "2"], "local_only": True}
        started = time.perf_counter()
        view, _ = await manager.submit(USER, body)
        await wait_until(
            lambda v=view: seen.at(v["id"], "running") is not None, 120, 0.01, "the job to run"
        )
        took.append(seen.marks[view["id"]]["running"] - started)
    return took


async def steady_requests(manager: JobsManager, seen: Observer) -> float:
    """The service's Kubernetes requests per minute with jobs running and nothing changing."""
    ids = []
    for _ in range(STEADY_RUNNING):
        view, _ = await manager.submit(USER, {"command": ["sleep", "3600"], "local_only": True})
        ids.append(view["id"])
    await wait_until(
        lambda: all(seen.at(i, "running") is not None for i in ids), 180, 0.1, "the long jobs"
    )
    await wait_until(lambda: manager.controller.idle, 60, 0.1, "the controller to settle")
    before = sum(manager.kube.requests.values())
    started = time.perf_counter()
    await asyncio.sleep(STEADY_WINDOW)  # a measuring window, not a wait for a condition
    made = sum(manager.kube.requests.values()) - before
    per_minute = made / (time.perf_counter() - started) * 60
    for job_id in ids:
        await manager.cancel(USER, False, job_id)
    return per_minute + len(manager.reflectors) * 60 / manager.watch_timeout


async def api_server(stack: Stack) -> dict[str, Any]:
    """ConfigMap creates one after another: their rate, and create sent -> watch event."""
    api = await kube_client(stack.observer_kubeconfig)
    core = client.CoreV1Api(api)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    kube = Kube(api, stack.namespace)

    def on_configmap(_kind: str, event: str, obj: dict) -> None:
        if event == "ADDED":
            arrived.setdefault(obj["metadata"]["name"], time.perf_counter())

    selector = "aiinfn.infn.it/bench=api"
    watcher = Reflector(
        kube,
        "configmap",
        core.list_namespaced_config_map,
        (stack.namespace,),
        selector,
        on_configmap,
    )
    watcher.start()
    try:
        await watcher.synced.wait()
        started = time.perf_counter()
        for i in range(API_CALLS):
            name = f"bench-api-{i}"
            sent[name] = time.perf_counter()
            body = {"metadata": {"name": name, "labels": {"aiinfn.infn.it/bench": "api"}}}
            await core.create_namespaced_config_map(stack.namespace, body)
        rate = API_CALLS / (time.perf_counter() - started)
        await wait_until(lambda: len(arrived) == API_CALLS, 60, 0.01, "every watch event")
        await core.delete_collection_namespaced_config_map(stack.namespace, label_selector=selector)
    finally:
        await watcher.stop()
        await api.close()
    return {"api_rate": rate, "watch_latency": [arrived[n] - sent[n] for n in sent]}


async def on(make: Callable[[str], Stack]) -> tuple[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="aiinfn-bench-stack-") as folder:
        stack = await asyncio.to_thread(make, folder)
        try:
            return stack.name, await measure(stack)
        finally:
            await asyncio.to_thread(stack.close)


def ms(values: list[float], fraction: float) -> float:
    if not values:  # a step this stack did not show
        return float("nan")
    return (statistics.median(values) if fraction == 0.5 else percentile(values, fraction)) * 1000


def figures(real: dict[str, Any], sandbox: dict[str, Any]) -> list[dict[str, Any]]:
    """The real control plane's figures, each with the sandbox's as its baseline."""
    Row = tuple[str, str, Callable[[dict[str, Any]], float], float | None]

    def latency(name: str, key: str, target95: float | None = None, what: str = "") -> list[Row]:
        """The p50 and p95 of the times under ``key``, in ms (a target on the p95 only)."""
        return [
            (f"{name} p50{what}", "ms", lambda f: ms(f[key], 0.5), None),
            (f"{name} p95", "ms", lambda f: ms(f[key], 0.95), target95),
        ]

    rows: list[Row] = [
        *latency("fallback reaction", "reaction", 100, " (failed pod -> fallback Job)"),
        *latency("refused remote submission -> Running locally", "refused_to_running", 5000),
        *[
            (f"  {n}. {what} (p50)", "ms", lambda f, k=f"step: {step}": ms(f[k], 0.5), None)
            for n, (step, what) in enumerate(STEPS, 1)
        ],
        *latency("submit -> Running on a free local node", "local_start"),
        ("the service's Kubernetes requests/min, steady", "req/min", lambda f: f["per_minute"], 10),
        ("API server: ConfigMap creates, one at a time", "req/s", lambda f: f["api_rate"], None),
        *latency("API server: create sent -> watch event", "watch_latency"),
    ]
    found = []
    for name, unit, value, target in rows:
        figure: dict[str, Any] = {
            "name": name,
            "value": value(real),
            "unit": unit,
            "baseline": value(sandbox),
        }
        if target is not None:
            figure.update(target=target, higher_is_better=False)
        found.append(figure)
    found[0]["note"] = (
        f"real control plane (kube-apiserver 1.36.3, Kueue 0.17, interLink's virtual kubelet) "
        f"beside the sandbox (baseline) in the same run; {FALLBACKS} GPU jobs refused by "
        f"Leonardo one at a time, {LOCAL_STARTS} local starts, {STEADY_RUNNING} jobs running for "
        f"{STEADY_WINDOW:.0f} s, {API_CALLS} API calls; times seen by a separate watch"
    )
    return found


async def _run() -> list[dict[str, Any]]:
    _, sandbox = await on(SandboxStack)
    _, real = await on(RealStack)
    return figures(real, sandbox)


def run() -> list[dict[str, Any]]:
    return asyncio.run(_run())


if __name__ == "__main__":
    from benchmarks.__main__ import report

    with contextlib.suppress(KeyboardInterrupt):
        report(__name__, run())
