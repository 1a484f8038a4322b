"""The REST API: thin tornado handlers over :class:`JobsManager`. Every one is authenticated
but the two probes, ``/healthz`` and ``/readyz`` (as JupyterHub's ``/hub/health`` and
Kubernetes' own ``/healthz``), which answer their status word and nothing else.

Request bodies and query strings are validated against the OpenAPI document
(``openapi.yaml``); every error is JSON ``{"error", "status", "field"}`` in plain words.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from types import TracebackType
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, StreamClosedError

from ..errors import AIInfnError, BadRequest, Forbidden, NotFound, Starting, Unauthorized
from ..jsonerrors import JSONErrors
from ..kube.startup import Readiness, readiness
from . import metrics, openapi
from .auth import Caller, Handler
from .manager import JobsManager

log = logging.getLogger(__name__)

UNEXPECTED = (
    "the jobs service hit an unexpected error; it is logged, and your jobs are safe: try again"
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _check_unicode(data: Any) -> None:
    """Refuse text that cannot be UTF-8: a JSON escape of half a surrogate pair (``\\ud800``)."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest(
            "the body holds an unpaired surrogate escape (such as \\ud800), which is not "
            "text; send valid Unicode (escape characters outside the BMP as a pair)"
        ) from None


class APIHandler(JSONErrors):
    """JSON in, JSON out; errors as ``{"error", "status", "field"}`` (:mod:`aiinfn_hub.jsonerrors`);
    no anonymous access."""

    routes_hint = "GET /openapi.json"
    unexpected = UNEXPECTED

    #: The OpenAPI path this handler serves, for query-string validation.
    openapi_path = ""
    #: Who is asking (set by prepare(), which refuses anyone it cannot name).
    caller: Caller | None = None

    @property
    def who(self) -> Caller:
        """The authenticated caller, in a handler method (after :meth:`prepare`)."""
        if self.caller is None:  # prepare() has answered 401 already
            raise Unauthorized("authentication required")
        return self.caller

    @property
    def manager(self) -> JobsManager:
        found: JobsManager = self.settings["jobs_manager"]
        return found

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    async def prepare(self) -> None:
        authenticator = self.settings["authenticator"]
        self.caller = await authenticator.authenticate(self)
        if self.caller is not None:
            if self.settings.get("starting"):
                raise Starting()
            return
        if self.request.method == "GET" and self._browser_navigation():
            url = authenticator.login_url(self)
            if url:
                self.redirect(url)
                return
        raise Unauthorized(
            "authentication required: send your JupyterHub API token as "
            "'Authorization: token <token>' (or log in to the hub in this browser)",
        )

    def _browser_navigation(self) -> bool:
        headers = self.request.headers
        mode = headers.get("Sec-Fetch-Mode")
        return mode == "navigate" or (mode is None and "text/html" in headers.get("Accept", ""))

    def query(self) -> dict[str, Any]:
        """The query string, checked against this operation's OpenAPI parameters."""
        method = self.request.method or "GET"
        return openapi.query(self.openapi_path, method, self.request.query_arguments)

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def body(self, schema: str | None = None, required: bool = True) -> Any:
        """The JSON body, validated against ``schema`` from the OpenAPI document."""
        raw = self.request.body
        if not raw.strip():
            if required:
                raise BadRequest(
                    "the request needs a JSON body; see GET /openapi.json for its fields"
                )
            data: Any = {}
        else:
            try:
                data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
            except (ValueError, RecursionError) as exc:
                raise BadRequest(f"the body is not valid JSON ({exc})") from None
            if b"\\u" in raw:
                _check_unicode(data)
        if schema:
            openapi.validate(schema, data)
        return data

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, Starting) or (isinstance(value, AIInfnError) and value.status < 500):
            return
        super().log_exception(typ, value, tb)


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
        body = self.body("JobRequest")
        view, new = await self.manager.submit(self.who.name, body)
        self.write_json(view, 201 if new else 200)


class JobHandler(APIHandler):
    openapi_path = "/jobs/{id}"

    async def get(self, job_id: str) -> None:
        self.query()
        self.write_json(self.manager.get(self.who.name, self.who.admin, job_id))

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
        body = self.body("RerunRequest", required=False)
        view = await self.manager.rerun(self.who.name, self.who.admin, job_id, body.get("site"))
        self.write_json(view, 201)


class PlanHandler(APIHandler):
    openapi_path = "/plan"

    async def post(self) -> None:
        self.query()
        self.write_json(self.manager.plan(self.body("JobRequest"), self.who.name))


class SitesHandler(APIHandler):
    openapi_path = "/sites"

    async def get(self) -> None:
        self.query()
        self.write_json({"sites": self.manager.sites()})


class WhoamiHandler(APIHandler):
    openapi_path = "/whoami"

    async def get(self) -> None:
        self.query()
        manager = self.manager
        settings = {
            "max_staged_bytes": manager.max_staged_bytes,
            "home_mount_path": manager.home_mount_path,
        }
        self.write_json({"name": self.who.name, "admin": self.who.admin, "settings": settings})


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
        self.write_json({"status": "ok"})


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
        self.write_json({"status": state.value}, 200 if state is Readiness.READY else 503)


class NotFoundHandler(APIHandler):
    async def get(self, *args: Any) -> None:
        raise NotFound(f"no such endpoint {self.request.path:.100}; see GET /openapi.json")

    post = delete = put = patch = head = options = get


def routes(prefix: str) -> list[Handler]:
    """URL patterns under ``prefix`` (e.g. ``/services/aiinfn-jobs/``)."""
    from .servicepage import ServicePageHandler  # it builds on this module's APIHandler

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
