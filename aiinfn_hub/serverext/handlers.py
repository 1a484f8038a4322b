"""REST routes of the server extension: every jobs operation, for the server's user.

All routes live under ``{base_url}aiinfn-hub/api/``, take and return JSON, and need the
user's Jupyter login (token or cookie; XSRF for cookie POSTs, as every Jupyter API).
Errors are ``{"error": "<what is wrong and how to fix it>", "status": <code>, "field": ...}``.

======  ===============================  ==================================================
GET     ``jobs``                         your jobs, newest first; ``?state=&site=&limit=
                                         &offset=`` (admins: ``&user=``) ->
                                         ``{jobs, total, next_offset}``
POST    ``jobs``                         submit; the jobs service's request (``command``,
                                         ``resources``, ``walltime``, ``completions``, ...)
                                         or instead of ``command`` a file: ``path`` (a
                                         .ipynb, .py or .sh relative to the server root),
                                         ``args``, ``parameters`` (notebooks) and
                                         ``staging`` (``ship``, default, or ``home``: read
                                         in place from the home volume, local sites only)
                                         -> 201 the job (200 for a repeated
                                         ``client_request_id``)
GET     ``jobs/{id}``                    the job with plan and attempts; notebook jobs add
                                         ``executed_notebook`` (its path, once saved)
DELETE  ``jobs/{id}``                    cancel -> the job
GET     ``jobs/{id}/log``                ``?offset=&completion_index=`` ->
                                         ``{data, next_offset, eof}``
POST    ``jobs/{id}/rerun``              ``{"site": optional}`` -> 201 the new job
POST    ``plan``                         where a request would run, and why (nothing is
                                         submitted; a ``path`` is not read)
GET     ``sites``                        ``{sites: [...]}``: health, capacity, queue
GET     ``whoami``                       ``{name, admin, mode, defaults, limits}``
GET     ``server``                       where this server runs, fell back, scratch home
                                         (:mod:`.place`)
GET     ``copy-back``                    ``?max_bytes=``: a tar of the files changed since
                                         the server started (:mod:`.copyback`)
======  ===============================  ==================================================

Any other path under the prefix is a JSON 404 naming these routes; a method a route does not
take is a JSON 405 naming the ones it does.

Job changes are not polled: they arrive on the Jupyter Server event bus under
:data:`.events.SCHEMA_ID`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..errors import AIInfnError, BadRequest, NotFound
from ..jobs.client import job_path
from ..jsonerrors import JSONErrors
from ..runner import readable
from .returns import targets
from .staging import build_request

AUTH_RESOURCE = "aiinfn_hub"
PREFIX = "aiinfn-hub/api"
#: Words for the errors Jupyter Server and tornado raise without a message of their own.
PLAIN_ERRORS = {
    403: "this Jupyter server did not accept your login: log in again, or send the server's "
    "token (header 'Authorization: token <token>'; for aiinfn-jobs: --token or "
    "$AIINFN_JOBS_TOKEN)",
    404: "this request's origin is not allowed by the Jupyter server; call the API from "
    "JupyterLab's own page or without an Origin header",
}

log = logging.getLogger(__name__)


class BaseHandler(ExtensionHandlerMixin, JSONErrors, APIHandler):
    """JSON handler of the extension; errors as ``{"error", "status", "field"}``
    (:mod:`aiinfn_hub.jsonerrors`)."""

    auth_resource = AUTH_RESOURCE
    routes_hint = f"the routes in {PREFIX}"
    unexpected = (
        "the jobs extension hit an unexpected error; it is logged, and your jobs are safe: "
        "try again"
    )

    @property
    def ext(self) -> Any:
        return self.extensionapp

    def plain_words(self, status_code: int, exc: web.HTTPError) -> str:
        """Jupyter Server's errors in words: its own refusals carry none."""
        if status_code == 403 and getattr(self, "_jupyter_current_user", None) is None:
            return PLAIN_ERRORS[403]  # not logged in (not the XSRF check it then fails)
        return exc.log_message or PLAIN_ERRORS.get(status_code) or self._reason

    def log_exception(self, typ, value, tb) -> None:
        if not isinstance(value, AIInfnError):
            super().log_exception(typ, value, tb)

    def json_body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON ({exc})") from None

    def int_arg(self, name: str, low: int, high: int) -> int | None:
        text = self.get_query_argument(name, None)
        if text in (None, ""):
            return None
        try:
            value = int(text)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, got {text!r}", name) from None
        if not low <= value <= high:
            raise BadRequest(f"{name} must be from {low} to {high}", name)
        return value

    async def call(self, method: str, path: str, body: Any = None, query: dict | None = None):
        backend = await self.ext.ensure_backend()
        return await backend.call(method, path, body, query)

    async def relay(self, method: str, path: str, body: Any = None, query: dict | None = None):
        status, data = await self.call(method, path, body, query)
        self.reply(status, data)
        return status, data

    def reply(self, status: int, data: Any) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    async def request_body(self, for_plan: bool = False) -> dict[str, Any]:
        ext = self.ext
        body = self.json_body()
        settings = await ext.service_settings()
        return await build_request(
            body,
            self.contents_manager,
            max_bytes=settings["max_staged_bytes"],
            home_mount=settings["home_mount_path"],
            image=ext.user_image,
            for_plan=for_plan,
        )


class JobsHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = {
            "state": self.get_query_argument("state", None),
            "site": self.get_query_argument("site", None),
            "user": self.get_query_argument("user", None),
            "limit": self.int_arg("limit", 1, 1000),
            "offset": self.int_arg("offset", 0, 10**9),
        }
        await self.relay("GET", "jobs", query=query)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = await self.request_body()
        await self.relay("POST", "jobs", body)


class JobHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        status, job = await self.call("GET", job_path(job_id))
        if status == 200 and isinstance(job, dict):
            self.ext.returns_for(job)
            saved = None
            for path in targets(job).values():
                if await ensure_async(self.contents_manager.file_exists(path)):
                    saved = path
                    break
            job["executed_notebook"] = saved
        self.reply(status, job)

    @web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        await self.relay("DELETE", job_path(job_id))


class LogHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        offset = self.int_arg("offset", 0, 2**62) or 0
        query = {"offset": offset, "completion_index": self.int_arg("completion_index", 0, 10**6)}
        status, data = await self.call("GET", job_path(job_id, "/log"), None, query)
        if status == 200 and isinstance(data, dict):
            data["data"], data["next_offset"] = readable(
                data.get("data") or "", offset, bool(data.get("eof"))
            )
        self.reply(status, data)


class RerunHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        await self.relay("POST", job_path(job_id, "/rerun"), self.json_body() or {})


class PlanHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = await self.request_body(for_plan=True)
        await self.relay("POST", "plan", body)


class SitesHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.relay("GET", "sites")


class WhoamiHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        ext = self.ext
        admin = await self.service_admin()  # asks the service, and keeps its settings
        settings = ext.known_settings()
        self.reply(
            200,
            {
                "name": ext.user,
                "admin": admin,
                "mode": ext.resolved_mode(),
                "defaults": ext.defaults(),
                "settings": settings,  # the service's, as its /whoami gives them
            },
        )

    async def service_admin(self) -> bool:
        """Whether the jobs service lets this user see everyone's jobs: it is the one that
        decides (the browser's hub login does not carry the admin flag to this server). If it
        does not answer, the user is taken for no admin, and the log says why."""
        try:
            status, caller = await self.call("GET", "whoami")
        except AIInfnError as exc:
            status, caller = exc.status, exc.message
        self.ext.remember_caller(status, caller)
        if status == 200 and isinstance(caller, dict):
            return caller.get("admin") is True
        error = caller.get("error") if isinstance(caller, dict) else caller
        log.warning(
            "the jobs service did not say whether %s is an admin (%s: %s); the panel shows "
            "their own jobs only",
            self.ext.user,
            status,
            str(error)[:300],
        )
        return False


class UnknownHandler(BaseHandler):
    """Any other path under the prefix: a JSON 404 that names the routes."""

    def unknown(self) -> None:
        routes = "jobs, jobs/ID, jobs/ID/log, jobs/ID/rerun, plan, sites, whoami, server, copy-back"
        raise NotFound(
            f"no such endpoint {self.request.path!r:.100}; the routes under {PREFIX} are {routes}",
        )

    @web.authenticated
    @authorized
    async def get(self, *args: str) -> None:
        self.unknown()

    post = put = patch = delete = get


def routes() -> list[tuple[str, type[BaseHandler]]]:
    """URL patterns relative to the server's base URL (an ExtensionApp adds the base)."""
    api = "/" + PREFIX
    job = api + r"/jobs/(?P<job_id>[^/]+)"
    return [
        (api + r"/jobs/?", JobsHandler),
        (job + r"/?", JobHandler),
        (job + r"/log/?", LogHandler),
        (job + r"/rerun/?", RerunHandler),
        (api + r"/plan/?", PlanHandler),
        (api + r"/sites/?", SitesHandler),
        (api + r"/whoami/?", WhoamiHandler),
        (api + r"(/.*)?", UnknownHandler),
    ]
