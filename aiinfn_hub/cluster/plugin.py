"""An interLink plugin that behaves like a remote batch system, for the real control plane.

It serves interLink's plugin API (``POST /create``, ``GET /status``, ``POST /delete``,
``GET /getLogs``, bodies as interLink sends them) to the virtual kubelet of one site, and runs
each pod as local processes with the sandbox's kubelet, as the sandbox runs a pod on an
interLink node: a remote queue delay, a remote job id (``slurm-123456``), no claims mounted.
It also enforces a walltime (``--time`` in ``slurm-job.vk.io/flags``, or the pod's
``activeDeadlineSeconds``) as the batch system would.

Faults on demand, on a separate admin port (``/aiinfn/faults``): refuse submissions with a
message (the virtual kubelet then fails the pod with ``ProviderFailed``), hold jobs in the
queue, end every job with an exit code, and stop or start serving the API
(``{"api": false}``): the interLink API stopped, while the site keeps its jobs.

Run: ``python -m aiinfn_hub.cluster.plugin CONFIG.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado import web
from tornado.httpserver import HTTPServer

from ..sandbox.api import Api
from ..sandbox.kubelet import Kubelet
from ..sandbox.logs import read_log
from ..sandbox.objects import clone, timestamp
from ..sandbox.registry import Registry
from ..sandbox.store import Store
from ..sandbox.topology import NodeSpec, SiteSpec

log = logging.getLogger("aiinfn_hub.cluster.plugin")
_SLURM_TIME = re.compile(r"--time[= ]([0-9:-]+)")
TIMEOUT_EXIT = 143  # the batch system's SIGTERM at the walltime


@dataclass
class PluginFaults:
    """What the site does wrong on demand; read by the sandbox kubelet as a SiteFaults."""

    refuse: str | None = None  # answer /create with this error
    hold: bool = False  # keep jobs queued
    exit_code: int | None = None  # end each job with this code when it leaves the queue
    api: bool = True  # the interLink API answers

    def site_is_down(self, site: str) -> bool:
        return self.hold

    def provider_failure_message(self, site: str) -> str | None:
        return None  # a refusal happens at /create, where interLink sees it

    def exit_code_of(self, site: str) -> int | None:
        return self.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "refuse": self.refuse,
            "hold": self.hold,
            "exit_code": self.exit_code,
            "api": self.api,
        }


@dataclass
class RemoteJob:
    """One pod submitted to the site."""

    job_id: str
    namespace: str
    name: str
    walltime: float | None
    final: list[dict[str, Any]] | None = None  # container statuses once ended by the site
    started: float | None = None


@dataclass
class PluginConfig:
    site: str
    node: str  # the virtual node's name (the pods arrive bound to it)
    port: int
    admin_port: int
    state_dir: str
    job_id_prefix: str = "remote"
    queue_delay: float = 0.5
    faults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PluginConfig:
        return cls(**json.loads(path.read_text()))


def slurm_seconds(text: str) -> float:
    """Seconds of a Slurm ``--time`` value: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``
    or ``D-H:M:S``."""
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:
        hours, minutes, seconds = ([*parts, 0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        hours, (minutes, seconds) = 0, ([*parts, 0])[:2]
    return float(int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds)


def walltime_of(pod: dict[str, Any]) -> float | None:
    """The remote walltime: Slurm's ``--time`` in the site's flags, else the pod's deadline."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    match = _SLURM_TIME.search(annotations.get("slurm-job.vk.io/flags", ""))
    if match:
        return slurm_seconds(match.group(1))
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return float(deadline) if deadline else None


class BatchSite:
    """The site's state: its jobs, its local store and kubelet, its faults."""

    def __init__(self, config: PluginConfig) -> None:
        self.config = config
        self.faults = PluginFaults(**config.faults)
        self.api = Api(Store(), Registry())
        self.pods = self.api.registry.get("pods")
        self.site = SiteSpec(
            name=config.site,
            type="interlink",
            nodes=(NodeSpec(name=config.node),),
            remote_queue_delay=config.queue_delay,
            job_id_prefix=config.job_id_prefix,
        )
        self.kubelet = Kubelet(self.api, [self.site], Path(config.state_dir), self.faults)
        self.jobs: dict[str, RemoteJob] = {}
        self._ids = itertools.count(100001)

    def _ensure(self, kind: str, obj: dict[str, Any]) -> None:
        rt = self.api.registry.get(kind)
        meta = obj["metadata"]
        fresh = clone(obj)
        fresh["metadata"].pop("resourceVersion", None)
        if self.api.store.get(rt, meta.get("namespace", ""), meta["name"]) is None:
            self.api.store.insert(rt, fresh)
        else:
            self.api.store.replace(rt, fresh)

    def create(self, data: dict[str, Any]) -> dict[str, str]:
        pod = clone(data["pod"])
        meta = pod["metadata"]
        uid = meta["uid"]
        if uid in self.jobs:
            return {"PodUID": uid, "PodJID": self.jobs[uid].job_id}
        namespace = meta["namespace"]
        self._ensure("namespaces", {"metadata": {"name": namespace}, "status": {"phase": "Active"}})
        for container in data.get("container") or ():
            for kind, key in (("configmaps", "configMaps"), ("secrets", "secrets")):
                for obj in container.get(key) or ():
                    placed = {**obj["metadata"], "namespace": namespace}
                    self._ensure(kind, {**obj, "metadata": placed})
        job = RemoteJob(
            f"{self.config.job_id_prefix}-{next(self._ids)}",
            namespace,
            meta["name"],
            walltime_of(pod),
        )
        self.jobs[uid] = job
        meta.pop("resourceVersion", None)
        pod["status"] = {"phase": "Pending"}
        pod["spec"]["nodeName"] = self.config.node
        self.api.store.insert(self.pods, pod)
        log.info("pod %s/%s accepted as %s", namespace, meta["name"], job.job_id)
        return {"PodUID": uid, "PodJID": job.job_id}

    def status(self, requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers = []
        for pod in requested:
            meta = pod.get("metadata") or {}
            job = self.jobs.get(meta.get("uid", ""))
            if job is None:
                continue
            local = self.api.store.get(self.pods, job.namespace, job.name)
            containers = job.final
            if containers is None:
                containers = ((local or {}).get("status") or {}).get("containerStatuses") or []
                self._enforce_walltime(job, local)
                containers = job.final or containers
            answers.append(
                {
                    "name": job.name,
                    "UID": meta["uid"],
                    "namespace": job.namespace,
                    "JID": job.job_id,
                    "containers": containers,
                    "initContainers": [],
                }
            )
        return answers

    def _enforce_walltime(self, job: RemoteJob, local: dict[str, Any] | None) -> None:
        if local is None or (local.get("status") or {}).get("phase") != "Running":
            return
        job.started = job.started or time.monotonic()
        if job.walltime is None or time.monotonic() - job.started < job.walltime:
            return
        now = timestamp()
        job.final = [
            {
                **status,
                "ready": False,
                "state": {
                    "terminated": {
                        "exitCode": TIMEOUT_EXIT,
                        "reason": "Timeout",
                        "message": f"the job reached its walltime of {job.walltime:.0f} s",
                        "finishedAt": now,
                    }
                },
            }
            for status in (local.get("status") or {}).get("containerStatuses") or ()
        ]
        self.api.delete(self.pods, job.namespace, job.name, {"gracePeriodSeconds": 1})

    def delete(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        job = self.jobs.pop(meta.get("uid", ""), None)
        if job is not None and self.api.store.get(self.pods, job.namespace, job.name):
            self.api.delete(self.pods, job.namespace, job.name, {"gracePeriodSeconds": 1})

    async def logs(self, request: dict[str, Any]) -> bytes:
        job = self.jobs.get(request.get("PodUID", ""))
        if job is None:
            raise web.HTTPError(404, "no such job at this site")
        local = self.api.store.get(self.pods, job.namespace, job.name)
        path = self.kubelet.log_path(local, request.get("ContainerName", "")) if local else None
        if path is None:
            return b""
        opts = request.get("Opts") or {}
        chunks = [
            chunk
            async for chunk in read_log(
                path,
                tail_lines=opts.get("Tail") or None,
                limit_bytes=opts.get("Bytes") or None,
            )
        ]
        return b"".join(chunks)


class _Handler(web.RequestHandler):
    def initialize(self, site: BatchSite) -> None:
        self.site = site

    def body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError as exc:
            raise web.HTTPError(400, f"the body is not JSON: {exc}") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.finish(getattr(exc, "log_message", None) or self._reason)


class CreateHandler(_Handler):
    def post(self) -> None:
        if self.site.faults.refuse:
            self.set_status(500)
            self.finish(self.site.faults.refuse)
            return
        data = self.body()
        pods = data if isinstance(data, list) else [data]
        answers = [self.site.create(item) for item in pods]
        self.finish(json.dumps(answers[0] if isinstance(data, dict) else answers))


class StatusHandler(_Handler):
    def get(self) -> None:
        self.finish(json.dumps(self.site.status(self.body() or [])))


class DeleteHandler(_Handler):
    def post(self) -> None:
        self.site.delete(self.body() or {})
        self.finish("")


class LogsHandler(_Handler):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.finish(await self.site.logs(self.body() or {}))


class FaultsHandler(_Handler):
    def initialize(self, site: BatchSite, serving: Serving) -> None:  # type: ignore[override]
        self.site = site
        self.serving = serving

    def get(self) -> None:
        self.finish(self.site.faults.to_dict())

    def post(self) -> None:
        change = self.body() or {}
        for key in ("refuse", "hold", "exit_code", "api"):
            if key in change:
                setattr(self.site.faults, key, change[key])
        self.serving.follow(self.site.faults.api)
        self.finish(self.site.faults.to_dict())


class Serving:
    """The plugin API's listening socket, closed while the API is "stopped"."""

    def __init__(self, site: BatchSite, port: int) -> None:
        self.app = make_app(site)
        self.port = port
        self.server: HTTPServer | None = None

    def follow(self, up: bool) -> None:
        if up and self.server is None:
            self.server = self.app.listen(self.port, "127.0.0.1")
        elif not up and self.server is not None:
            server, self.server = self.server, None
            server.stop()  # no new connections, and none of the kept-alive ones answers again
            asyncio.get_running_loop().create_task(server.close_all_connections())


def make_app(site: BatchSite) -> web.Application:
    args = {"site": site}
    return web.Application(
        [
            (r"/create", CreateHandler, args),
            (r"/status", StatusHandler, args),
            (r"/delete", DeleteHandler, args),
            (r"/getLogs", LogsHandler, args),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m aiinfn_hub.cluster.plugin CONFIG.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = PluginConfig.load(Path(args[0]))

    async def serve() -> None:
        site = BatchSite(config)
        site.kubelet.start()
        serving = Serving(site, config.port)
        serving.follow(site.faults.api)
        admin = web.Application(
            [(r"/aiinfn/faults", FaultsHandler, {"site": site, "serving": serving})]
        ).listen(config.admin_port, "127.0.0.1")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("interLink plugin of %s on 127.0.0.1:%s", config.site, config.port)
        await stop.wait()
        serving.follow(False)
        admin.stop()
        with contextlib.suppress(Exception):
            await site.kubelet.stop(grace=1.0)

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
