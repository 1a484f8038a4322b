"""The jobs service on the sandbox: fallback reaction, Kubernetes API load at steady state,
``GET /jobs`` latency with 10,000 jobs, and submission throughput.

Everything runs here: a sandbox in a child process, the jobs service (manager and REST API)
in this process, HTTP clients in this process too (their cost counts against the service).
Baselines are measured or simulated in the same run and said how in each figure's note.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application
from traitlets.config import Config

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.auth import TokenAuthenticator
from aiinfn_hub.jobs.claims import home_claim_manifest
from aiinfn_hub.jobs.handlers import routes
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.jobs.manifests import build_record
from aiinfn_hub.jobs.model import parse_spec
from aiinfn_hub.kube.cache import Reflector
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.kube.conditions import now_iso
from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import wait_until

#: Scale down for a quick look: AIINFN_BENCH_SCALE=0.1 python -m benchmarks bench_jobs
SCALE = float(os.environ.get("AIINFN_BENCH_SCALE", "1"))
USERS = 100
STEADY_JOBS = int(1000 * SCALE)
SUBMITTED = int(900 * SCALE)
BURST = min(300, SUBMITTED // 2)
TOTAL_JOBS = int(10_000 * SCALE)
CALLER_JOBS = int(1000 * SCALE)
FALLBACKS = max(10, int(40 * SCALE))
STEADY_WINDOW = 30.0 if SCALE >= 1 else 10.0
SIDECAR_PERIOD = 60.0
PREFIX = "/services/aiinfn-jobs/"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Service:
    """The jobs manager and its REST API, in this process, against the sandbox."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.tokens = {f"token-{i:03d}": f"user-{i:03d}" for i in range(USERS)}

    async def start(self) -> Service:
        api = await kube_client(self.kubeconfig)
        config = Config()
        config.JobsManager.workers = 8
        # A fallback from a refused site is what is measured: its breaker must not skip it.
        config.BreakerPolicy.failures = 0
        self.manager = JobsManager(Kube(api, "default"), config=config)
        await self.manager.start()
        homes = Kube(api, "default")  # each user's home claim, as a first server start makes it
        for user in self.tokens.values():
            await homes.create("pvc", home_claim_manifest(self.manager.home.name_for(user), user))
        authenticator = TokenAuthenticator(tokens=self.tokens)
        app = Application(routes(PREFIX), jobs_manager=self.manager, authenticator=authenticator)
        sock, port = bind_unused_port()
        self.server = HTTPServer(app)
        self.server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{port}{PREFIX}"
        return self

    async def stop(self) -> None:
        self.server.stop()
        await self.manager.stop()
        await self.manager.kube.api_client.close()

    def settled(self) -> bool:
        """Every job has a view and nothing waits to be reconciled."""
        jobs = self.manager.jobs.values()
        return self.manager.controller.idle and all(t.view for t in jobs)


async def submit_all(
    service: Service, bodies: list[tuple[str, dict]], concurrency: int = 16
) -> float:
    """POST every body (as its user's token); returns the wall time in seconds."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    failures: list[str] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            token, body = queue.get_nowait()
            headers = {"Authorization": f"token {token}"}
            async with session.post(service.url + "jobs", json=body, headers=headers) as r:
                if r.status not in (200, 201):
                    failures.append(f"{r.status} {await r.text()}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"benchmark: {len(failures)} submissions failed: {failures[:3]}")
    return elapsed


def job_body(i: int) -> dict:
    """A mix of the four rows of the placement table."""
    kind = i % 4
    body: dict[str, Any] = {"command": ["python", "-c", f"print({i})"], "name": f"bench-{i}"}
    if kind == 0:
        body["resources"] = {"gpus": 1}
    elif kind == 1:
        body["local_only"] = True
    elif kind == 2:
        body["volumes"] = ["pvc"]
    return body


async def fallback_reaction(sandbox: SandboxProcess, service: Service) -> dict[str, Any]:
    """Pod Failed/ProviderFailed seen by an observer's watch -> fallback Job seen by it."""
    api = await kube_client(str(sandbox.kubeconfig))
    observer = Kube(api, "default")
    failed_at: dict[str, float] = {}
    fallback_at: dict[str, float] = {}

    def on_pod(_kind: str, _event: str, pod: dict) -> None:
        labels = pod["metadata"].get("labels") or {}
        status = pod.get("status") or {}
        if status.get("reason") == "ProviderFailed" and labels.get(L.ATTEMPT) == "1":
            failed_at.setdefault(labels[L.JOB_ID], time.perf_counter())

    def on_job(_kind: str, event: str, job: dict) -> None:
        labels = job["metadata"].get("labels") or {}
        if event == "ADDED" and labels.get(L.ATTEMPT) == "2":
            fallback_at.setdefault(labels[L.JOB_ID], time.perf_counter())

    selector = f"{L.MANAGED_BY}={L.MANAGER}"
    pods = client.CoreV1Api(api).list_namespaced_pod
    jobs = client.BatchV1Api(api).list_namespaced_job
    watchers = [
        Reflector(observer, "pod", pods, ("default",), selector, on_pod),
        Reflector(observer, "job", jobs, ("default",), selector, on_job),
    ]
    for watcher in watchers:
        watcher.start()
    try:
        for watcher in watchers:
            await watcher.synced.wait()
        sandbox.faults.provider_failure("leonardo")
        manager = service.manager
        ids = []
        for i in range(FALLBACKS):
            view, _ = await manager.submit("user-000", job_body(4 * i))
            ids.append(view["id"])
            await asyncio.sleep(0.1)  # independent failures, not one burst
        await wait_until(
            lambda: all(i in fallback_at and i in failed_at for i in ids),
            timeout=120,
            message="every fallback",
        )
        await wait_until(
            lambda: all(manager.jobs[i].view["state"] == "succeeded" for i in ids),
            timeout=120,
            message="the fallen-back jobs to finish",
        )
    finally:
        sandbox.faults.provider_failure("leonardo", on=False)
        for watcher in watchers:
            await watcher.stop()
        await api.close()
    reactions = [fallback_at[i] - failed_at[i] for i in ids]
    rng = random.Random(60)
    # the sidecar notices a signal at its next check, a uniform 0..60 s later, then acts
    # as fast as this service did
    sidecar = [rng.uniform(0, SIDECAR_PERIOD) + r for r in reactions]
    return {"reactions": reactions, "sidecar": sidecar}


async def get_jobs_latency(service: Service, calls: int = 200) -> dict[str, Any]:
    before = service.manager.kube.total_requests
    latencies = {"page": [], "all": []}
    headers = {"Authorization": "token token-000"}
    async with aiohttp.ClientSession() as session:
        for i in range(calls):
            for name, query in (("page", ""), ("all", "?limit=1000")):
                started = time.perf_counter()
                async with session.get(service.url + "jobs" + query, headers=headers) as r:
                    raw = await r.read()  # the whole answer is in; decoding it is the client's
                latencies[name].append(time.perf_counter() - started)
                body = json.loads(raw)
                assert r.status == 200 and body["total"] == CALLER_JOBS, (r.status, i)
    return {**latencies, "kube_requests": service.manager.kube.total_requests - before}


def finished_record(service: Service, i: int, owner: str) -> dict:
    """The record of a job that ran and succeeded, as the service leaves it."""
    manager = service.manager
    spec = parse_spec(job_body(i), manager.placer, manager.max_staged_bytes)
    plan = manager.plan(job_body(i))
    record = build_record(
        f"{i:010x}"[-10:], owner, spec=spec, plan=plan, namespace="default", now=now_iso()
    )
    site = plan["sites"][0]
    attempt = {
        "number": 1,
        "site": site["name"],
        "site_display": site["display_name"],
        "started": now_iso(),
        "ended": now_iso(),
        "outcome": "succeeded",
        "reason": "completed",
        "kueue": {"condition": "Finished", "status": "True", "reason": "Succeeded"},
    }
    annotations = record["metadata"]["annotations"]
    annotations[L.ATTEMPTS] = json.dumps([attempt])
    annotations[L.FINAL] = json.dumps({"state": "succeeded", "reason": "completed"})
    return record


async def seed_records(service: Service, records: list[dict], concurrency: int = 16) -> None:
    kube = Kube(service.manager.kube.api_client, "default")  # not counted as the service's
    queue = list(records)

    async def worker() -> None:
        while queue:
            await kube.create("configmap", queue.pop())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="aiinfn-bench-") as tmp:
        sandbox = SandboxProcess(state_dir=tmp).start()
        service = None
        try:
            service = await Service(str(sandbox.kubeconfig)).start()
            manager = service.manager
            fallback = await fallback_reaction(sandbox, service)

            # throughput: 100 users submit jobs of every row, admission held at every site
            # (no pod starts while we measure), then released: the jobs run ("true") and end
            for site in ("leonardo", "tier1", "local"):
                sandbox.faults.stall_admission(site)
            bodies = [
                (f"token-{i % USERS:03d}", {**job_body(i), "command": ["true"]})
                for i in range(BURST)
            ]
            burst_start = time.perf_counter()
            seconds = await submit_all(service, bodies)
            await wait_until(
                lambda: all(t.attempts or t.final for t in manager.jobs.values()),
                timeout=300,
                message="every first attempt",
            )
            attempts_seconds = time.perf_counter() - burst_start
            for site in ("leonardo", "tier1", "local"):
                sandbox.faults.stall_admission(site, on=False)
            rest = [
                (f"token-{i % USERS:03d}", {**job_body(i), "command": ["true"]})
                for i in range(BURST, SUBMITTED - FALLBACKS)
            ]
            flowing = await submit_all(service, rest)
            await wait_until(
                lambda: all(
                    t.view and t.view["state"] == "succeeded" for t in manager.jobs.values()
                ),
                timeout=900,
                message="the submitted jobs to succeed",
            )
            # steady state: 100 users, 1,000 jobs (100 of them running)
            running = [
                (f"token-{i:03d}", {"command": ["sleep", "3600"], "local_only": True})
                for i in range(STEADY_JOBS - len(manager.jobs))
            ]
            await submit_all(service, running)
            await wait_until(
                lambda: (
                    sum(t.view["state"] == "running" for t in manager.jobs.values()) == len(running)
                ),
                timeout=300,
                message="the long jobs to run",
            )
            await wait_until(service.settled, timeout=300, message="the jobs to settle")
            kube = manager.kube
            before = sum(kube.requests.values())
            window_start = time.perf_counter()
            await asyncio.sleep(STEADY_WINDOW)  # a measuring window, not a wait for a condition
            window = time.perf_counter() - window_start
            made = sum(kube.requests.values()) - before
            per_minute = made / window * 60
            renewals = len(manager.reflectors) * 60 / manager.watch_timeout

            # 10,000 jobs, 1,000 of them user-000's: the rest are finished jobs' records
            have = len(manager.by_owner.get("user-000", ()))
            owners = ["user-000"] * (CALLER_JOBS - have)
            owners += [f"user-{1 + i % (USERS - 1):03d}" for i in range(TOTAL_JOBS - STEADY_JOBS)]
            owners = owners[: TOTAL_JOBS - len(manager.jobs)]
            records = [finished_record(service, 10**6 + i, o) for i, o in enumerate(owners)]
            await seed_records(service, records)
            await wait_until(
                lambda: len(manager.jobs) >= TOTAL_JOBS and service.settled(),
                timeout=600,
                message="10,000 jobs in the service's cache",
            )
            listing = await get_jobs_latency(service)
        finally:
            if service is not None:
                await service.stop()
            sandbox.stop()
    throughput = len(bodies) / seconds
    reactions, sidecar = fallback["reactions"], fallback["sidecar"]
    return [
        {
            "name": "fallback reaction p50 (signal at API server -> fallback Job)",
            "value": statistics.median(reactions) * 1000,
            "unit": "ms",
            "baseline": statistics.median(sidecar) * 1000,
            "note": f"{len(reactions)} ProviderFailed pods at Leonardo, seen by a separate "
            "watch; baseline: a checker every 60 s (the AI_INFN dispatcher sidecar) notices "
            "each signal at a uniformly random point of its period, then acts as fast",
        },
        {
            "name": "fallback reaction p95",
            "value": percentile(reactions, 0.95) * 1000,
            "unit": "ms",
            "target": 1000,
            "higher_is_better": False,
            "baseline": percentile(sidecar, 0.95) * 1000,
        },
        {
            "name": f"Kubernetes API requests/min, steady, {USERS} users {STEADY_JOBS:,} jobs",
            "value": per_minute + renewals,
            "unit": "req/min",
            "target": 10,
            "higher_is_better": False,
            "baseline": float(USERS),
            "note": f"{len(running)} jobs running, the rest ended; {made} requests in a "
            f"{window:.0f} s window, plus {renewals:.0f}/min watch renewals "
            f"({len(manager.reflectors)} watches of {manager.watch_timeout} s); "
            "baseline: one poll a minute per user",
        },
        {
            "name": f"GET /jobs p95, {TOTAL_JOBS:,} jobs, {CALLER_JOBS:,} the caller's",
            "value": percentile(listing["page"], 0.95) * 1000,
            "unit": "ms",
            "target": 30,
            "higher_is_better": False,
            "note": f"first page (100 jobs), p50 {statistics.median(listing['page']) * 1000:.1f}"
            f" ms; {len(records):,} of the jobs are finished jobs' records written directly",
        },
        {
            "name": "GET /jobs?limit=1000 p95 (all of the caller's jobs)",
            "value": percentile(listing["all"], 0.95) * 1000,
            "unit": "ms",
        },
        {
            "name": "Kubernetes requests per GET /jobs",
            "value": listing["kube_requests"] / (2 * len(listing["page"])),
            "unit": "req",
            "target": 0,
            "higher_is_better": False,
            "note": f"{listing['kube_requests']} requests during {2 * len(listing['page'])} calls",
        },
        {
            "name": "submission throughput (POST /jobs over HTTP, 16 clients)",
            "value": throughput,
            "unit": "jobs/s",
            "target": 100,
            "note": f"{len(bodies):,} jobs of {USERS} users, every row of the table, admission "
            "held; each answer comes once the job's record (a ConfigMap) is in Kubernetes",
        },
        {
            "name": "the same jobs with their first attempt Job created",
            "value": len(bodies) / attempts_seconds,
            "unit": "jobs/s",
            "note": "from the first POST until every job's batch/v1 Job exists (the controller "
            "creates it after the answer)",
        },
        {
            "name": "submission throughput while the sandbox runs every job",
            "value": len(rest) / flowing,
            "unit": "jobs/s",
            "note": f"{len(rest):,} more jobs, admitted and run as they arrive: bounded by the "
            "sandbox (one process per pod, admission cycles over every workload), which "
            "shares this machine's 2 cores",
        },
    ]


def run() -> list[dict]:
    return asyncio.run(_run())


if __name__ == "__main__":
    from benchmarks.__main__ import report

    with contextlib.suppress(KeyboardInterrupt):
        report(__name__, run())
