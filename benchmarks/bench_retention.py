"""Retention and scale: what a job costs Kubernetes while it runs and once it has ended and
been compacted, and the jobs service with 100,000 job records: ``GET /jobs`` latency, its
resident memory and the time a restarted service takes to be ready.

Sizes are the objects' JSON as the API server returns them (compact separators), summed over
the job's record, attempt Jobs, pods and Kueue Workloads: what etcd keeps, give or take its
encoding (protobuf for built-in kinds, JSON for Kueue's) and the ``managedFields`` a real API
server adds (the sandbox adds none). The 100,000 records are seeded straight into the
sandbox's store (an API server's worth of POSTs would take longer than the measurement);
the service under measurement is its own process (``python -m aiinfn_hub.jobs``) and lists
them over HTTP like any other start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from traitlets.config import Config

from aiinfn_hub.examples import examples_dir
from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.jobs.manifests import build_record
from aiinfn_hub.jobs.model import parse_spec
from aiinfn_hub.jobs.retention import DAY
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.placement import PlacementConfig, Placer
from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import wait_until
from benchmarks.bench_jobs import job_body

SCALE = float(os.environ.get("AIINFN_BENCH_SCALE", "1"))
RECORDS = int(100_000 * SCALE)
USERS = 100
CALLER_JOBS = int(1000 * SCALE)  # the caller's share of the records
CALLS = 200
PREFIX = "/services/aiinfn-jobs/"
NAMESPACE = "default"


def size(obj: dict[str, Any]) -> int:
    return len(json.dumps(obj, separators=(",", ":")).encode())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ------------------------------------------------------------------- bytes kept per job


async def kept_bytes(api: client.ApiClient, job_id: str) -> dict[str, int]:
    """Bytes of each kind of object Kubernetes keeps for the job."""
    selector = f"{L.JOB_ID}={job_id}"
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    custom = client.CustomObjectsApi(api)

    async def raw(call, *args, **kwargs) -> dict[str, Any]:
        response = await call(*args, _preload_content=False, **kwargs)
        return json.loads(await response.read())

    records = await raw(core.list_namespaced_config_map, NAMESPACE, label_selector=selector)
    jobs = await raw(batch.list_namespaced_job, NAMESPACE, label_selector=selector)
    pods = await raw(core.list_namespaced_pod, NAMESPACE, label_selector=selector)
    uids = {j["metadata"]["uid"] for j in jobs["items"]}
    workloads = await raw(
        custom.list_namespaced_custom_object, "kueue.x-k8s.io", "v1beta2", NAMESPACE, "workloads"
    )
    owned = [
        w
        for w in workloads["items"]
        if any(r.get("uid") in uids for r in w["metadata"].get("ownerReferences") or ())
    ]
    compacted = all(L.COMPACTED in r["metadata"].get("annotations", {}) for r in records["items"])
    return {
        "record": sum(size(o) for o in records["items"]),
        "jobs": sum(size(o) for o in jobs["items"]),
        "pods": sum(size(o) for o in pods["items"]),
        "workloads": sum(size(o) for o in owned),
        "compacted": int(compacted and bool(records["items"])),
    }


def staged_notebook() -> str:
    """A notebook as users ship them: the example that falls back, as its file is."""
    return (examples_dir() / "falls-back.ipynb").read_text()


async def job_sizes() -> dict[str, Any]:
    """A job with a staged notebook-sized file: while it runs, once it has ended (before
    compaction: the baseline), and after compaction; and a job that fell back once."""
    notebook = staged_notebook()
    pad = "#" + "x" * max(0, len(notebook) - 200) + "\n"  # a script as large as the notebook
    sleeper = {
        "script": {"path": "work/train.py", "kind": "python",
                   "content": pad + "import time\ntime.sleep(600)\n"},
        "name": "train", "resources": {"cpu": 1},
    }  # fmt: skip
    quick = {**sleeper, "script": {**sleeper["script"], "content": pad + "print('done')\n"}}
    with tempfile.TemporaryDirectory(prefix="aiinfn-bench-") as tmp:
        sandbox = SandboxProcess(state_dir=tmp).start()
        api = await kube_client(str(sandbox.kubeconfig))
        config = Config()
        config.JobsRetention.keep_logs_after_collected_hours = 0
        # A fallback from a refused site is what is measured: its breaker must not skip it.
        config.BreakerPolicy.failures = 0
        manager = JobsManager(Kube(api, NAMESPACE), config=config)
        await manager.start()
        user = "Mario.Rossi@infn.it"
        try:
            running, _ = await manager.submit(user, {**sleeper, "local_only": True})
            await _state(manager, running["id"], ("running",))
            while_running = await kept_bytes(api, running["id"])
            del while_running["compacted"]
            await manager.cancel(user, False, running["id"])

            done, _ = await manager.submit(user, {**quick, "local_only": True})
            await _state(manager, done["id"], ("succeeded",))
            before = await kept_bytes(api, done["id"])
            del before["compacted"]
            await manager.collected(user, False, done["id"])
            after = await _compacted(api, done["id"])

            sandbox.faults.provider_failure("tier1")  # CPU, offloadable: Tier-1, then local
            fell, _ = await manager.submit(user, quick)
            await _state(manager, fell["id"], ("succeeded",))
            sandbox.faults.provider_failure("tier1", on=False)
            attempts = len(manager.jobs[fell["id"]].view["attempts"])
            await manager.collected(user, False, fell["id"])
            fell_after = await _compacted(api, fell["id"])
        finally:
            await manager.stop()
            await api.close()
            sandbox.stop()
    return {
        "running": while_running,
        "before": before,
        "after": after,
        "fell_after": fell_after,
        "fell_attempts": attempts,
        "staged": len(quick["script"]["content"]),
    }


async def _state(manager: JobsManager, job_id: str, states: tuple[str, ...]) -> None:
    def reached() -> bool:
        view = manager.jobs[job_id].view
        return bool(view) and view["state"] in states

    await wait_until(reached, 300, 0.05, f"job {job_id} in {states}")


async def _compacted(api: client.ApiClient, job_id: str) -> dict[str, int]:
    async def only_the_record() -> dict[str, int] | None:
        found = await kept_bytes(api, job_id)
        compacted = found.pop("compacted")  # as the API server returned the record
        return found if compacted and sum(found.values()) == found["record"] else None

    return await wait_until(only_the_record, 300, 0.2, f"job {job_id} to be compacted")


# ------------------------------------------------------------------- 100,000 records


def compacted_record(placer: Placer, plans: dict[int, dict], i: int, owner: str) -> dict:
    """The record of job ``i`` as retention leaves it: request, plan, one attempt, the end,
    no staged file; ended between 1 and 80 days ago (within the default history window)."""
    kind = i % 4
    spec = parse_spec(job_body(i), placer, 1 << 20)
    if kind not in plans:
        plans[kind] = placer.plan(spec.request, {}).to_dict()
    plan = plans[kind]
    ended_at = time.time() - (1 + i % 80) * DAY
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ended_at))
    site = plan["sites"][0]["name"]
    record = build_record(f"{i:010x}", owner, spec=spec, plan=plan, namespace=NAMESPACE, now=stamp)
    attempt = {
        "number": 1, "site": site, "site_display": placer.sites[site].display_name,
        "job_name": L.attempt_name(f"{i:010x}", 1), "started": stamp, "ended": stamp,
        "outcome": "succeeded", "reason": "completed",
        "kueue": {"condition": "Finished", "status": "True", "reason": "Succeeded",
                  "message": "Job finished successfully"},
        "remote_job_id": None, "pod": None,
    }  # fmt: skip
    annotations = record["metadata"]["annotations"]
    annotations[L.ATTEMPTS] = json.dumps([attempt], sort_keys=True)
    annotations[L.FINAL] = json.dumps(
        {"state": "succeeded", "reason": "completed", "attempt": 1,
         "progress": {"succeeded": 1, "failed": 0, "active": 0}}, sort_keys=True,
    )  # fmt: skip
    annotations[L.COMPACTED] = stamp
    return record


def seed(sandbox: Sandbox, count: int) -> int:
    """``count`` compacted records straight into the sandbox's store; their mean size."""
    placer = PlacementConfig().placer()
    configmaps = sandbox.registry.get("configmaps")
    plans: dict[int, dict] = {}
    total = 0
    for i in range(count):
        owner = "user-000" if i < CALLER_JOBS else f"user-{1 + i % (USERS - 1):03d}"
        record = compacted_record(placer, plans, i, owner)
        record.update(apiVersion="v1", kind="ConfigMap")
        total += size(record)
        sandbox.store.insert(configmaps, record)
    return total // max(1, count)


class ServiceProcess:
    """``python -m aiinfn_hub.jobs`` on the sandbox, for USERS fixed tokens."""

    def __init__(self, kubeconfig: Path, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{PREFIX}"
        config = {
            "JobsService": {
                "authenticator_class": "aiinfn_hub.jobs.auth.TokenAuthenticator",
                "base_url": PREFIX,
                "start_timeout": 600,
            },
            "TokenAuthenticator": {
                "tokens": {f"token-{i:03d}": f"user-{i:03d}" for i in range(USERS)}
            },
        }
        self.config = tmp / "jobs_config.json"
        self.config.write_text(json.dumps(config))
        self.kubeconfig = kubeconfig
        self.log = tmp / "service.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Start it; seconds until /readyz says ready (every record read and reconciled)."""
        command = [sys.executable, "-m", "aiinfn_hub.jobs", "--port", str(self.port),
                   "--ip", "127.0.0.1", "--kubeconfig", str(self.kubeconfig),
                   "--config", str(self.config)]  # fmt: skip
        started = time.perf_counter()
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL
            )
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the service exited:\n{self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(self.url + "readyz") as response:
                        return response.status == 200
                return False

            await wait_until(ready, 900, 0.05, "the jobs service to be ready")
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        """CPU time the process has used (user and system), from /proc: what a restart costs
        the service itself, whatever else the machine runs."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self) -> dict[str, int]:
        """Resident memory now and at its peak (kB), from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
        return fields

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def get_jobs(url: str) -> list[float]:
    latencies = []
    headers = {"Authorization": "token token-000"}
    async with aiohttp.ClientSession() as session:
        for _ in range(CALLS):
            started = time.perf_counter()
            async with session.get(url + "jobs", headers=headers) as response:
                body = await response.read()
            latencies.append(time.perf_counter() - started)
            assert response.status == 200, body[:300]
            assert json.loads(body)["total"] == CALLER_JOBS
    return latencies


async def many_records() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aiinfn-bench-") as tmp:
        sandbox = Sandbox(state_dir=Path(tmp) / "sandbox")
        await sandbox.start()
        service = None
        try:
            mean = seed(sandbox, RECORDS)
            kubeconfig = sandbox.write_kubeconfig(Path(tmp) / "kubeconfig")
            service = ServiceProcess(kubeconfig, Path(tmp))
            first = await service.start()
            await service.stop()
            restart = await service.start()  # the cold restart measured
            restart_cpu = service.cpu_seconds()
            ready_memory = service.memory()
            latencies = await get_jobs(service.url)
            memory = service.memory()
        finally:
            if service is not None:
                await service.stop()
            await sandbox.stop()
    return {
        "mean_record": mean,
        "first": first,
        "restart": restart,
        "restart_cpu": restart_cpu,
        "load": os.getloadavg()[0],
        "latencies": latencies,
        "rss_mb": memory["VmRSS"] / 1024,
        "peak_mb": memory["VmHWM"] / 1024,
        "ready_rss_mb": ready_memory["VmRSS"] / 1024,
    }


# ------------------------------------------------------------------- the figures


async def _run() -> list[dict]:
    sizes = await job_sizes()
    scale = await many_records()
    before, after = sizes["before"], sizes["after"]
    parts = ", ".join(f"{k} {v:,}" for k, v in sizes["running"].items())
    latencies = scale["latencies"]
    return [
        {
            "name": "bytes in Kubernetes per running job",
            "value": sum(sizes["running"].values()),
            "unit": "bytes",
            "note": f"{parts}; the record carries the staged file ({sizes['staged']:,} bytes, "
            "the size of the example notebook falls-back.ipynb)",
        },
        {
            "name": "bytes in Kubernetes per ended job, after compaction",
            "value": sum(after.values()),
            "unit": "bytes",
            "target": 4096,
            "higher_is_better": False,
            "baseline": float(sum(before.values())),
            "note": "the record alone (request, plan, attempt history); baseline: the same job "
            "ended, before compaction (" + ", ".join(f"{k} {v:,}" for k, v in before.items()) + ")",
        },
        {
            "name": f"  the same for a job that fell back ({sizes['fell_attempts']} attempts)",
            "value": sum(sizes["fell_after"].values()),
            "unit": "bytes",
            "target": 4096,
            "higher_is_better": False,
        },
        {
            "name": f"GET /jobs p95, {RECORDS:,} records, {CALLER_JOBS:,} the caller's",
            "value": percentile(latencies, 0.95) * 1000,
            "unit": "ms",
            "target": 30,
            "higher_is_better": False,
            "note": f"first page (100 jobs), p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"{CALLS} calls; records of {scale['mean_record']:,} bytes each, compacted",
        },
        {
            "name": f"jobs service resident memory, {RECORDS:,} records",
            "value": scale["rss_mb"],
            "unit": "MB",
            "target": 500,
            "higher_is_better": False,
            "note": f"VmRSS after the calls ({scale['ready_rss_mb']:.0f} MB once ready); "
            f"peak {scale['peak_mb']:.0f} MB",
        },
        {
            "name": f"jobs service cold restart, {RECORDS:,} records",
            "value": scale["restart"],
            "unit": "s",
            "target": 30,
            "higher_is_better": False,
            "note": "from the process's start (Python imports included) until /readyz says "
            "ready: every record listed over HTTP and reconciled; the service's own CPU time "
            f"{scale['restart_cpu']:.1f} s, the machine's load {scale['load']:.1f} on "
            f"{os.cpu_count()} cores (the sandbox serving the lists shares them); the first "
            f"start {scale['first']:.1f} s",
        },
    ]


def run() -> list[dict]:
    return asyncio.run(_run())


if __name__ == "__main__":
    from benchmarks.__main__ import report

    with contextlib.suppress(KeyboardInterrupt):
        report(__name__, run())
