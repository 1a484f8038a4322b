"""The REST API: thin tornado handlers over :class:`JobsManager`. Every one is authenticated."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tornado import web
from tornado.iostream import StreamClosedError

from . import openapi
from .errors import BadRequest, JobsError
from .manager import JobsManager


class APIHandler(web.RequestHandler):
    """JSON in, JSON out; errors as ``{"error", "status", "field"}``; no anonymous access."""

    caller = None

    @property
    def manager(self) -> JobsManager:
        return self.settings["jobs_manager"]

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated API: no XSRF cookies (browsers come through the extension)."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    async def prepare(self) -> None:
        self.caller = await self.settings["authenticator"].authenticate(self)
        if self.caller is None:
            raise JobsError(
                403,
                "authentication required: send your JupyterHub token as "
                "'Authorization: token <token>'",
            )

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON ({exc})") from None

    def int_argument(self, name: str, default: int | None, low: int, high: int) -> int | None:
        text = self.get_query_argument(name, None)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, got {text!r}", name) from None
        if not low <= value <= high:
            raise BadRequest(f"{name} must be from {low} to {high}", name)
        return value

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, JobsError):
            body = exc.to_dict()
            self.set_status(exc.status)
        elif isinstance(exc, web.HTTPError) and status_code < 500:
            body = {"error": exc.log_message or self._reason, "status": status_code}
        else:
            body = {
                "error": "the jobs service hit an unexpected error; it is logged, "
                "and your jobs are safe: try again",
                "status": status_code,
            }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, JobsError):
            return
        super().log_exception(typ, value, tb)


class JobsHandler(APIHandler):
    async def get(self) -> None:
        state = self.get_query_argument("state", None)
        if state is not None:
            openapi.validate("State", state)
        user = self.get_query_argument("user", None)
        if user and not self.caller.admin and user != self.caller.name:
            raise JobsError(403, "only admins can list another user's jobs")
        self.write_json(
            self.manager.list(
                self.caller.name,
                self.caller.admin,
                owner=user,
                state=state,
                site=self.get_query_argument("site", None),
                limit=self.int_argument("limit", 100, 1, 1000),
                offset=self.int_argument("offset", 0, 0, 10**9),
            )
        )

    async def post(self) -> None:
        body = self.body()
        openapi.validate("JobRequest", body)
        view, new = await self.manager.submit(self.caller.name, body)
        self.write_json(view, 201 if new else 200)


class JobHandler(APIHandler):
    async def get(self, job_id: str) -> None:
        self.write_json(self.manager.get(self.caller.name, self.caller.admin, job_id))

    async def delete(self, job_id: str) -> None:
        self.write_json(await self.manager.cancel(self.caller.name, self.caller.admin, job_id))


class LogHandler(APIHandler):
    async def get(self, job_id: str) -> None:
        self.write_json(
            await self.manager.logs(
                self.caller.name,
                self.caller.admin,
                job_id,
                offset=self.int_argument("offset", 0, 0, 2**62),
                completion_index=self.int_argument("completion_index", None, 0, 10**6),
            )
        )


class RerunHandler(APIHandler):
    async def post(self, job_id: str) -> None:
        body = self.body()
        if not isinstance(body, dict) or set(body) - {"site"}:
            raise BadRequest("the body may only hold 'site', the site to rerun at", "site")
        site = body.get("site")
        if site is not None and not isinstance(site, str):
            raise BadRequest("site must be a site name", "site")
        view = await self.manager.rerun(self.caller.name, self.caller.admin, job_id, site)
        self.write_json(view, 201)


class PlanHandler(APIHandler):
    async def post(self) -> None:
        body = self.body()
        openapi.validate("JobRequest", body)
        self.write_json(self.manager.plan(body))


class SitesHandler(APIHandler):
    async def get(self) -> None:
        self.write_json({"sites": self.manager.sites()})


class OpenAPIHandler(APIHandler):
    async def get(self) -> None:
        self.write_json(openapi.document())


class MetricsHandler(APIHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4")

    async def get(self) -> None:
        data = self.manager.metrics()
        lines = ["# HELP aiinfn_jobs Jobs by state.", "# TYPE aiinfn_jobs gauge"]
        lines += [f'aiinfn_jobs{{state="{k}"}} {v}' for k, v in sorted(data["by_state"].items())]
        lines += ["# TYPE aiinfn_events_total counter"]
        lines += [
            f'aiinfn_events_total{{event="{k}"}} {v}' for k, v in sorted(data["counters"].items())
        ]
        lines += [
            "# HELP aiinfn_kube_requests_total Kubernetes API requests.",
            "# TYPE aiinfn_kube_requests_total counter",
        ]
        lines += [
            f'aiinfn_kube_requests_total{{request="{k}"}} {v}'
            for k, v in sorted(data["kube_requests"].items())
        ]
        lines += ["# TYPE aiinfn_site_usable gauge"]
        lines += [
            f'aiinfn_site_usable{{site="{k}"}} {int(v)}' for k, v in sorted(data["health"].items())
        ]
        self.finish("\n".join(lines) + "\n")


class EventsHandler(APIHandler):
    """Server-sent events: one ``data:`` line per change of the caller's jobs."""

    heartbeat = 15.0

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")

    async def get(self) -> None:
        owner = None if self.caller.admin else self.caller.name
        async with self.manager.subscribe(owner) as queue:
            self.write(": connected\n\n")
            await self.flush()
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self.heartbeat)
                except asyncio.TimeoutError:
                    event = ""
                if event is None:
                    break
                try:
                    self.write(f"data: {json.dumps(event)}\n\n" if event else ": keep-alive\n\n")
                    await self.flush()
                except StreamClosedError:
                    return
        self.finish()


class NotFoundHandler(APIHandler):
    async def get(self, *args: Any) -> None:
        raise JobsError(404, f"no such endpoint {self.request.path}; see GET /openapi.json")

    post = delete = put = patch = get


def routes(prefix: str) -> list:
    """URL patterns under ``prefix`` (e.g. ``/services/aiinfn-jobs/``)."""
    prefix = prefix.rstrip("/")
    job = r"/jobs/(?P<job_id>[^/]+)"
    return [
        (prefix + r"/jobs/?", JobsHandler),
        (prefix + job + r"/?", JobHandler),
        (prefix + job + r"/log/?", LogHandler),
        (prefix + job + r"/rerun/?", RerunHandler),
        (prefix + r"/plan/?", PlanHandler),
        (prefix + r"/sites/?", SitesHandler),
        (prefix + r"/events/?", EventsHandler),
        (prefix + r"/metrics/?", MetricsHandler),
        (prefix + r"/openapi.json", OpenAPIHandler),
        (prefix + r"/?(.*)", NotFoundHandler),
    ]
