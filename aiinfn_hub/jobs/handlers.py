"""The REST API: thin tornado handlers over :class:`JobsManager`. Every one is authenticated
but the two probes, ``/healthz`` and ``/readyz`` (as JupyterHub's ``/hub/health`` and
Kubernetes' own ``/healthz``), which answer their status word and nothing else.

Request bodies and query strings are validated against the OpenAPI document
(``openapi.yaml``); every error is JSON ``{"error", "status", "field"}`` in plain words. What
every handler shares (authentication, JSON in and out, errors) is :mod:`.apibase`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, StreamClosedError

from ..apitypes import (
    JobRequest,
    ProbeBody,
    RerunRequest,
    ServiceSettings,
    SiteList,
    WhoamiBody,
)
from ..errors import BadRequest, Forbidden, NotFound
from ..kube.startup import Readiness, readiness
from . import metrics, openapi
from .apibase import APIHandler as APIHandler
from .auth import Handler
from .servicepage import ServicePageHandler

log = logging.getLogger(__name__)


class JobsHandler(APIHandler):
    openapi_path = "/jobs"

    async def get(self) -> None:
        args = self.query()
        user = args["user"]
        if user and not self.who.admin and user != self.who.name:
            raise Forbidden("only admins can list another user's jobs; leave out 'user'")
        site = args["site"]
        if site and site not in self.manager.placer.sites:
            sites = ", ".join(self.manager.placer.sites)
            raise BadRequest(f"unknown site {site!r:.60}; sites are {sites}", "site")
        self.finish(
            self.manager.list_json(
                self.who.name,
                self.who.admin,
                owner=user,
                state=args["state"],
                site=site,
                limit=args["limit"],
                offset=args["offset"],
            )
        )

    async def post(self) -> None:
        self.query()
        request: JobRequest = self.body("JobRequest")
        view, new = await self.manager.submit(self.who.name, request)
        self.write_json(view, 201 if new else 200)


class JobHandler(APIHandler):
    openapi_path = "/jobs/{id}"

    async def get(self, job_id: str) -> None:
        self.query()
        view = self.manager.get(self.who.name, self.who.admin, job_id)
        self.write_json(await self.manager.queues.add_to_job(view))

    async def delete(self, job_id: str) -> None:
        self.query()
        self.write_json(await self.manager.cancel(self.who.name, self.who.admin, job_id))


class LogHandler(APIHandler):
    openapi_path = "/jobs/{id}/log"

    async def get(self, job_id: str) -> None:
        args = self.query()
        self.write_json(
            await self.manager.logs(
                self.who.name,
                self.who.admin,
                job_id,
                offset=args["offset"],
                completion_index=args["completion_index"],
            )
        )


class CollectedHandler(APIHandler):
    """The owner's server saved the job's executed notebook: its log may be removed sooner."""

    openapi_path = "/jobs/{id}/collected"

    async def post(self, job_id: str) -> None:
        self.query()
        self.write_json(await self.manager.collected(self.who.name, self.who.admin, job_id))


class RerunHandler(APIHandler):
    openapi_path = "/jobs/{id}/rerun"

    async def post(self, job_id: str) -> None:
        self.query()
        body: RerunRequest = self.body("RerunRequest", required=False)
        view = await self.manager.rerun(self.who.name, self.who.admin, job_id, body.get("site"))
        self.write_json(view, 201)


class PlanHandler(APIHandler):
    openapi_path = "/plan"

    async def post(self) -> None:
        self.query()
        request: JobRequest = self.body("JobRequest")
        self.write_json(await self.manager.preview(request, self.who.name))


class SitesHandler(APIHandler):
    openapi_path = "/sites"

    async def get(self) -> None:
        self.query()
        sites: SiteList = {"sites": self.manager.sites()}
        await self.manager.queues.add_to_sites(sites["sites"])
        self.write_json(sites)


class WhoamiHandler(APIHandler):
    openapi_path = "/whoami"

    async def get(self) -> None:
        self.query()
        manager = self.manager
        settings: ServiceSettings = {
            "max_staged_bytes": manager.max_staged_bytes,
            "home_mount_path": manager.home_mount_path,
        }
        whoami: WhoamiBody = {"name": self.who.name, "admin": self.who.admin, "settings": settings}
        self.write_json(whoami)


class OpenAPIHandler(APIHandler):
    openapi_path = "/openapi.json"

    async def get(self) -> None:
        self.query()
        self.write_json(openapi.document())


class MetricsHandler(APIHandler):
    openapi_path = "/metrics"

    async def get(self) -> None:
        self.query()
        if not self.who.metrics:
            raise Forbidden(
                "the service's metrics count every user's jobs, so only admins may read them "
                "(or a token with JupyterHub's read:metrics scope, such as a Prometheus "
                "server's); your own jobs are at GET /jobs",
            )
        self.set_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)  # what generate_latest writes
        self.finish(metrics.prometheus(self.manager))


class EventsHandler(APIHandler):
    """Server-sent events: one ``data:`` line per change of the caller's jobs. A client that
    falls too far behind gets ``{"type": "reconnect"}`` and the end of the stream
    (:mod:`.events`); one that stops reading altogether is disconnected after
    ``write_timeout`` seconds of writes that do not drain."""

    openapi_path = "/events"
    heartbeat = 15.0
    write_timeout = 60.0
    _queue: asyncio.Queue[dict[str, Any] | None] | None = None

    def on_connection_close(self) -> None:
        if self._queue is not None:
            with contextlib.suppress(asyncio.QueueFull):  # full: it has ended already
                self._queue.put_nowait(None)

    async def get(self) -> None:
        self.query()
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("X-Accel-Buffering", "no")
        owner = None if self.who.admin else self.who.name
        async with self.manager.subscribe(owner) as queue:
            self._queue = queue
            try:
                self.write(": connected\n\n")
                await self.flush()
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), self.heartbeat)
                    except asyncio.TimeoutError:
                        self.write(": keep-alive\n\n")
                    else:
                        if event is None:
                            break
                        self.write(f"data: {json.dumps(event)}\n\n")
                    await asyncio.wait_for(self.flush(), self.write_timeout)
            except StreamClosedError:
                return
            except asyncio.TimeoutError:
                log.warning(
                    "closed the event stream of %s: it read nothing for %g s",
                    self.who.name,
                    self.write_timeout,
                )
                self._stream().close()
                return
            finally:
                self._queue = None
        if not self._stream().closed():
            self.finish()

    def _stream(self) -> IOStream:
        """The connection's stream (the service speaks HTTP/1.1)."""
        connection = self.request.connection
        assert isinstance(connection, HTTP1Connection)
        return connection.stream


class ProbeHandler(APIHandler):
    """A probe for the kubelet: no authentication, and nothing in the answer but a status
    word (why the service is not ready goes to its log, not to anonymous callers)."""

    async def prepare(self) -> None:
        self.caller = None


class HealthzHandler(ProbeHandler):
    """Liveness: the process serves requests."""

    openapi_path = "/healthz"

    async def get(self) -> None:
        self.query()
        alive: ProbeBody = {"status": "ok"}
        self.write_json(alive)


class ReadyzHandler(ProbeHandler):
    """Readiness: caches synced, and the API server answering (see :func:`.readiness`)."""

    openapi_path = "/readyz"
    _last = ""

    async def get(self) -> None:
        self.query()
        manager = self.manager
        state, why = readiness(
            manager.reflectors.values(),
            manager.kube.contact,
            self.settings.get("ready_grace", 60.0),
        )
        if state is Readiness.READY and (self.settings.get("starting") or not manager.started):
            state, why = Readiness.NOT_READY, "reading the jobs found at start"
        if why != ReadyzHandler._last:
            ReadyzHandler._last = why
            level = logging.INFO if state is Readiness.READY else logging.WARNING
            log.log(level, "readiness: %s (%s)", state.value, why)
        ready: ProbeBody = {"status": state.value}
        self.write_json(ready, 200 if state is Readiness.READY else 503)


class NotFoundHandler(APIHandler):
    async def get(self, *args: Any) -> None:
        raise NotFound(f"no such endpoint {self.request.path:.100}; see GET /openapi.json")

    post = delete = put = patch = head = options = get


def routes(prefix: str) -> list[Handler]:
    """URL patterns under ``prefix`` (e.g. ``/services/aiinfn-jobs/``)."""
    openapi.warm()
    prefix = prefix.rstrip("/")
    job = r"/jobs/(?P<job_id>[^/]+)"
    return [
        (prefix + r"/jobs/?", JobsHandler),
        (prefix + job + r"/?", JobHandler),
        (prefix + job + r"/log/?", LogHandler),
        (prefix + job + r"/rerun/?", RerunHandler),
        (prefix + job + r"/collected/?", CollectedHandler),
        (prefix + r"/plan/?", PlanHandler),
        (prefix + r"/sites/?", SitesHandler),
        (prefix + r"/whoami/?", WhoamiHandler),
        (prefix + r"/events/?", EventsHandler),
        (prefix + r"/metrics/?", MetricsHandler),
        (prefix + r"/openapi.json", OpenAPIHandler),
        (prefix + r"/healthz", HealthzHandler),
        (prefix + r"/readyz", ReadyzHandler),
        (prefix + r"/?", ServicePageHandler),
        (prefix + r"/?(.*)", NotFoundHandler),
    ]
