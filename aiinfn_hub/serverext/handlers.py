"""Routes under ``/aiinfn-hub/api/``: every jobs operation, for the server's user."""

from __future__ import annotations

import json
import os
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..jobs.errors import BadRequest, JobsError
from ..runner import strip_blocks
from .staging import check_path, read_for_job

AUTH_RESOURCE = "aiinfn_hub"
#: Fields the panel and the CLI send besides the jobs service's own.
STAGING_FIELDS = {"path", "args", "parameters"}


class BaseHandler(ExtensionHandlerMixin, APIHandler):
    """Authenticated JSON handler; errors as ``{"error", "status", "field"}``."""

    auth_resource = AUTH_RESOURCE

    @property
    def ext(self):
        return self.extensionapp

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, JobsError):
            self.set_status(exc.status)
            self.finish(json.dumps(exc.to_dict()))
        elif isinstance(exc, web.HTTPError) and status_code < 500:
            self.finish(
                json.dumps({"error": exc.log_message or self._reason, "status": status_code})
            )
        else:
            self.finish(
                json.dumps(
                    {
                        "error": "the jobs extension hit an unexpected error; it is logged, "
                        "and your jobs are safe: try again",
                        "status": status_code,
                    }
                )
            )

    def log_exception(self, typ, value, tb) -> None:
        if not isinstance(value, JobsError):
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

    async def relay(self, method: str, path: str, body: Any = None, query: dict | None = None):
        status, data = await self.ext.backend.call(method, path, body, query)
        self.set_status(status)
        self.finish(json.dumps(data))
        return status, data

    async def job_body(self, body: Any, for_plan: bool = False) -> dict[str, Any]:
        """The jobs service's request from the panel's: the file at ``path`` staged."""
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object describing the job")
        body = dict(body)
        path = body.pop("path", None)
        args = body.pop("args", None)
        parameters = body.pop("parameters", None)
        if path is not None:
            if body.get("command") is not None:
                raise BadRequest(
                    "give either 'path' (a file to run) or 'command', not both", "path"
                )
            clean = check_path(path)
            content = (
                ""
                if for_plan
                else await read_for_job(self.contents_manager, clean, self.ext.max_staged_bytes)
            )
            script: dict[str, Any] = {"path": clean, "content": content}
            if args is not None:
                script["args"] = args
            if parameters:
                script["parameters"] = parameters
            body["script"] = script
            body.setdefault("name", clean.rsplit("/", 1)[-1])
        if not body.get("image") and self.ext.user_image:
            body["image"] = self.ext.user_image
        return body


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
        body = await self.job_body(self.json_body())
        await self.relay("POST", "jobs", body)


class JobHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        status, data = await self.relay("GET", f"jobs/{job_id}")
        if status == 200:
            self.ext.collect_soon(data)

    @web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        await self.relay("DELETE", f"jobs/{job_id}")


class LogHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        query = {
            "offset": self.int_arg("offset", 0, 2**62),
            "completion_index": self.int_arg("completion_index", 0, 10**6),
        }
        status, data = await self.ext.backend.call("GET", f"jobs/{job_id}/log", None, query)
        if status == 200 and isinstance(data, dict) and data.get("data"):
            data["data"] = strip_blocks(data["data"])
        self.set_status(status)
        self.finish(json.dumps(data))


class RerunHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        await self.relay("POST", f"jobs/{job_id}/rerun", self.json_body() or {})


class PlanHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = await self.job_body(self.json_body(), for_plan=True)
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
        admin = False
        if self.ext.backend.mode == "hub":
            status, data = await self.ext.backend.call("GET", "whoami")
            admin = bool(status == 200 and data.get("admin"))
        else:
            admin = True
        self.finish(
            json.dumps(
                {
                    "name": self.current_user.username,
                    "admin": admin,
                    "mode": self.ext.backend.mode,
                    "defaults": self.ext.defaults(),
                }
            )
        )


def routes(base: str) -> list:
    api = base.rstrip("/") + "/aiinfn-hub/api"
    job = api + r"/jobs/(?P<job_id>[^/]+)"
    return [
        (api + r"/jobs/?", JobsHandler),
        (job + r"/?", JobHandler),
        (job + r"/log/?", LogHandler),
        (job + r"/rerun/?", RerunHandler),
        (api + r"/plan/?", PlanHandler),
        (api + r"/sites/?", SitesHandler),
        (api + r"/whoami/?", WhoamiHandler),
    ]


def profile_defaults() -> dict[str, Any]:
    """The resources of the user's profile, as the spawner put them in the environment."""
    env = os.environ
    gpus = env.get("AIINFN_DEFAULT_GPUS", "0")
    return {
        "cpu": env.get("AIINFN_DEFAULT_CPU") or env.get("CPU_GUARANTEE") or "1",
        "memory": env.get("AIINFN_DEFAULT_MEMORY") or "2Gi",
        "gpus": int(gpus) if gpus.isdigit() else 0,
        "gpu_model": env.get("AIINFN_DEFAULT_GPU_MODEL") or None,
    }
