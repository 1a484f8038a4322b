"""The sandbox under load: API round trips, watch latency, large lists, sustained request rate,
and 200 pods running at once, each a local process, all reaped at the end.

The sandbox runs in a child process (as tests and the demo run it); the load comes from this
process over HTTP. Baselines are measured in the same run: the cheapest request the server
answers (GET /version), a small list, one pod on its own.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import aiohttp
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import kube_client, wait_until

NS = "default"
RATE_TARGET = 500.0
CONCURRENT_PODS = 200
POD_SECONDS = 15


def _pod(name: str, command: list[str], **spec) -> dict:
    return {
        "metadata": {"name": name, "labels": {"bench": "yes"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox:1.36", "command": command}],
            **spec,
        },
    }


class Http:
    """Raw keep-alive HTTP to the sandbox: measures the server, not a client's model classes."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.session = aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(limit=64)
        )

    async def call(self, method: str, path: str, body: dict | None = None, **kw) -> int:
        async with self.session.request(method, self.url + path, json=body, **kw) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        await self.session.close()


async def _round_trips(core: client.CoreV1Api, http: Http, count: int = 150) -> list[dict]:
    versions, pairs = [], []
    for _ in range(count):
        started = time.perf_counter()
        await http.call("GET", "/version")
        versions.append(time.perf_counter() - started)
    for i in range(count):
        started = time.perf_counter()
        await core.create_namespaced_config_map(NS, {"metadata": {"name": f"rt-{i}"}})
        await core.read_namespaced_config_map(f"rt-{i}", NS)
        pairs.append(time.perf_counter() - started)
    baseline = statistics.median(versions) * 1000
    return [
        {
            "name": "create + get round trip (kubernetes_asyncio, median)",
            "value": statistics.median(pairs) * 1000,
            "unit": "ms",
            "baseline": baseline,
            "note": "baseline: GET /version, the cheapest request the server answers",
        },
        {
            "name": "create + get round trip (95th percentile)",
            "value": sorted(pairs)[int(len(pairs) * 0.95)] * 1000,
            "unit": "ms",
        },
    ]


async def _watch_latency(http: Http, count: int = 100) -> list[dict]:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    listed = await http.session.get(http.url + path)
    since = (await listed.json())["metadata"]["resourceVersion"]
    received: dict[str, float] = {}
    ready = asyncio.Event()

    async def watch() -> None:
        query = {"watch": "true", "resourceVersion": since, "labelSelector": "watched=yes"}
        async with http.session.get(http.url + path, params=query) as response:
            ready.set()
            async for line in response.content:
                if line.strip():
                    received[json.loads(line)["object"]["metadata"]["name"]] = time.perf_counter()
                    if len(received) == count:
                        return

    task = asyncio.create_task(watch())
    await ready.wait()
    sent, creates = {}, []
    for i in range(count):
        name = f"watched-{i}"
        sent[name] = time.perf_counter()
        body = {"metadata": {"name": name, "labels": {"watched": "yes"}}}
        await http.call("POST", path, body)
        creates.append(time.perf_counter() - sent[name])
    await asyncio.wait_for(task, 60)
    latencies = [received[n] - sent[n] for n in sent]
    return [
        {
            "name": "watch event latency (create sent -> event received, median)",
            "value": statistics.median(latencies) * 1000,
            "unit": "ms",
            "baseline": statistics.median(creates) * 1000,
            "note": "baseline: the create request's own round trip",
        }
    ]


async def _big_list(core: client.CoreV1Api, http: Http, total: int = 1000) -> list[dict]:
    # another scheduler's pods: stored and listed, never bound or run
    sem = asyncio.Semaphore(16)
    path = f"/api/v1/namespaces/{NS}/pods"

    async def create(i: int) -> None:
        async with sem:
            body = _pod(f"listed-{i:04d}", ["true"], schedulerName="bench-none")
            status = await http.call("POST", path, body)
            assert status == 201, status

    await asyncio.gather(*(create(i) for i in range(total)))

    async def timed(call, runs: int = 5) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    small = await timed(lambda: http.call("GET", path, params={"limit": "10"}))
    raw = await timed(lambda: http.call("GET", path))
    typed = await timed(lambda: core.list_namespaced_pod(NS), runs=3)
    selected = await timed(
        lambda: http.call("GET", path, params={"fieldSelector": "metadata.name=listed-0500"})
    )
    listed = await core.list_namespaced_pod(NS, label_selector="bench=yes")
    assert len(listed.items) == total
    return [
        {
            "name": f"list of {total:,} pods (HTTP + JSON)",
            "value": raw,
            "unit": "ms",
            "baseline": small,
            "note": "baseline: a page of 10 pods (limit=10)",
        },
        {
            "name": f"list of {total:,} pods into kubernetes_asyncio models",
            "value": typed,
            "unit": "ms",
            "baseline": raw,
            "note": "ratio: what deserializing into V1Pod objects adds on the client side",
        },
        {
            "name": f"field-selected list among {total:,} pods (metadata.name)",
            "value": selected,
            "unit": "ms",
        },
    ]


async def _request_rate(http: Http, seconds: float = 3.0, workers: int = 16) -> list[dict]:
    pods = f"/api/v1/namespaces/{NS}/pods"
    cms = f"/api/v1/namespaces/{NS}/configmaps"
    await http.call("POST", cms, {"metadata": {"name": "rate"}, "data": {"n": "0"}})
    merge = {"Content-Type": "application/merge-patch+json"}
    mix = [
        ("GET", f"{pods}/listed-0001", None, {}),
        ("GET", f"{cms}/rate", None, {}),
        ("GET", pods, None, {"params": {"labelSelector": "bench=yes", "limit": "5"}}),
        ("PATCH", f"{cms}/rate", {"data": {"n": "1"}}, {"headers": merge}),
        ("GET", "/api/v1/nodes/vk-leonardo", None, {}),
    ]

    async def drive(requests) -> tuple[float, int, int]:
        done = errors = 0
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal done, errors
            i = offset
            while time.perf_counter() < deadline:
                method, path, body, kw = requests[i % len(requests)]
                i += 1
                status = await http.call(method, path, body, **kw)
                done += 1
                errors += status >= 400

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        return done / (time.perf_counter() - started), done, errors

    version_rate, _, _ = await drive([("GET", "/version", None, {})])
    rate, count, errors = await drive(mix)
    return [
        {
            "name": f"sustained API requests ({workers} clients, gets/lists/patches)",
            "value": rate,
            "unit": "req/s",
            "target": RATE_TARGET,
            "baseline": version_rate,
            "note": f"{count:,} requests, {errors} errors; baseline: GET /version at the same "
            "concurrency",
        }
    ]


async def _many_pods(core: client.CoreV1Api, http: Http, sandbox: SandboxProcess) -> list[dict]:
    path = f"/api/v1/namespaces/{NS}/pods"
    await http.call("DELETE", path, params={"labelSelector": "bench=yes"})

    async def phases(selector: str) -> dict[str, int]:
        listed = await core.list_namespaced_pod(NS, label_selector=selector)
        counts: dict[str, int] = {}
        for pod in listed.items:
            counts[pod.status.phase] = counts.get(pod.status.phase, 0) + 1
        return counts

    # one pod on its own, as the baseline
    started = time.perf_counter()
    await http.call("POST", path, _pod("alone", ["sleep", "0"]))

    async def alone_done() -> bool:
        pod = await core.read_namespaced_pod("alone", NS)
        return pod.status.phase == "Succeeded"

    await wait_until(alone_done, timeout=60, message="the lone pod")
    one_pod = time.perf_counter() - started

    sem = asyncio.Semaphore(16)
    command = ["sleep", str(POD_SECONDS)]

    async def create(i: int) -> None:
        async with sem:
            body = _pod(f"busy-{i:03d}", command)
            body["metadata"]["labels"] = {"busy": "yes"}
            assert await http.call("POST", path, body) == 201

    started = time.perf_counter()
    await asyncio.gather(*(create(i) for i in range(CONCURRENT_PODS)))
    peak = 0

    async def all_running() -> bool:
        nonlocal peak
        running = (await asyncio.to_thread(sandbox.info))["running_processes"]
        peak = max(peak, running)
        return running >= CONCURRENT_PODS

    await wait_until(all_running, timeout=120, interval=0.2, message="all pods running")
    to_running = time.perf_counter() - started

    async def all_finished() -> dict | None:
        counts = await phases("busy=yes")
        return counts if counts.get("Succeeded", 0) + counts.get("Failed", 0) >= 200 else None

    counts = await wait_until(all_finished, timeout=POD_SECONDS + 120, interval=0.5)
    info = await asyncio.to_thread(sandbox.info)
    left = info["running_processes"] + _children_of(sandbox)
    return [
        {
            "name": f"{CONCURRENT_PODS} pods created -> all running as local processes",
            "value": to_running,
            "unit": "s",
            "baseline": one_pod,
            "note": f"baseline: one pod (sleep 0) from create to Succeeded; each pod `sleep "
            f"{POD_SECONDS}`",
        },
        {
            "name": "pods running at once (peak)",
            "value": peak,
            "unit": "pods",
            "target": CONCURRENT_PODS,
        },
        {
            "name": "pods Succeeded / Failed",
            "value": counts.get("Succeeded", 0),
            "unit": "pods",
            "target": CONCURRENT_PODS,
            "note": f"failed: {counts.get('Failed', 0)} (no errors expected)",
        },
        {
            "name": "processes left running or unreaped afterwards",
            "value": left,
            "unit": "procs",
            "target": 0,
            "higher_is_better": False,
        },
    ]


def _children_of(sandbox: SandboxProcess) -> int:
    """Processes (zombies included) whose parent is the sandbox: its pods' leftovers."""
    if sandbox.proc is None:
        return 0
    parent = str(sandbox.proc.pid)
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == parent:  # ppid
            count += 1
    return count


async def _run() -> list[dict]:
    with TemporaryDirectory(prefix="aiinfn-bench-") as tmp:
        sandbox = SandboxProcess(state_dir=Path(tmp))
        sandbox.start()
        try:
            api = await kube_client(sandbox.kubeconfig)
            http = Http(sandbox.url, sandbox.token)
            try:
                core = client.CoreV1Api(api)
                figures = await _round_trips(core, http)
                figures += await _watch_latency(http)
                figures += await _big_list(core, http)
                figures += await _request_rate(http)
                figures += await _many_pods(core, http, sandbox)
                return figures
            finally:
                await http.close()
                await api.close()
        finally:
            sandbox.stop()


def run() -> list[dict]:
    return asyncio.run(_run())


if __name__ == "__main__":
    from benchmarks.__main__ import report

    report(__name__, run())
