"""The ``aiinfn_hub`` jupyter-server extension: mode, backend, events and returned notebooks."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Integer, Type, Unicode, default

from ..jobs.errors import JobsError
from ..runner import decode_block
from .backends import Backend, HubBackend, LocalBackend, hub_environment
from .events import SCHEMA, SCHEMA_ID
from .handlers import profile_defaults, routes

TERMINAL = {"succeeded", "failed", "cancelled"}


class AiinfnHubExtension(ExtensionApp):
    """Background jobs from JupyterLab: forwards to the hub's jobs service, or hosts one."""

    name = "aiinfn_hub"

    mode = Enum(
        ["auto", "hub", "standalone"],
        "auto",
        help="'hub': forward to the hub's jobs service with the user's token; 'standalone': "
        "run the jobs service in this server on a sandbox cluster; 'auto': hub when "
        "JUPYTERHUB_API_TOKEN and AIINFN_JOBS_URL are set, else standalone.",
    ).tag(config=True)
    jobs_url = Unicode(
        help="URL of the jobs service (default: $AIINFN_JOBS_URL, set by AIInfnSpawner)."
    ).tag(config=True)
    max_staged_bytes = Integer(
        900 * 1024, help="Largest notebook or script shipped with a job, in bytes."
    ).tag(config=True)
    user_image = Unicode(
        help="Image for jobs: the user's own (default: $JUPYTER_IMAGE_SPEC, set by KubeSpawner)."
    ).tag(config=True)
    standalone_user = Unicode(
        help="Owner of jobs in standalone mode (default: the account running the server)."
    ).tag(config=True)
    state_dir = Unicode(
        help="Where standalone mode keeps its sandbox's files (default: a temporary folder)."
    ).tag(config=True)
    backend_class = Type(
        None,
        klass=Backend,
        allow_none=True,
        help="A Backend subclass to use instead of the mode's own (for tests and extensions).",
    ).tag(config=True)

    @default("mode")
    def _mode_default(self) -> str:
        mode = os.environ.get("AIINFN_HUB_MODE", "auto")
        return mode if mode in ("auto", "hub", "standalone") else "auto"

    @default("jobs_url")
    def _jobs_url_default(self) -> str:
        return os.environ.get("AIINFN_JOBS_URL", "")

    @default("user_image")
    def _user_image_default(self) -> str:
        return os.environ.get("JUPYTER_IMAGE_SPEC") or os.environ.get("JUPYTER_IMAGE", "")

    @default("standalone_user")
    def _standalone_user_default(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "hub" if hub_environment() else "standalone"

    def initialize_settings(self) -> None:
        self.backend: Backend = self._make_backend()
        self._collected: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self.serverapp.event_logger.register_event_schema(SCHEMA)

    def _make_backend(self) -> Backend:
        if self.backend_class is not None:
            return self.backend_class()
        if self.resolved_mode() == "hub":
            env = hub_environment() or {}
            url = self.jobs_url or env.get("url", "")
            token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
            if not url:
                raise ValueError(
                    "hub mode needs the jobs service URL: set AIINFN_JOBS_URL or "
                    "c.AiinfnHubExtension.jobs_url"
                )
            return HubBackend(url, token)
        return LocalBackend(self.standalone_user, self._start_standalone)

    async def _start_standalone(self):
        from .standalone import start_standalone

        state = Path(self.state_dir or tempfile.mkdtemp(prefix="aiinfn-standalone-"))
        return await start_standalone(state, self.log)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes(""))

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await self.backend.start(self._on_event)

    async def stop_extension(self) -> None:
        await self.backend.stop()

    def defaults(self) -> dict[str, Any]:
        return profile_defaults()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: dict[str, Any]) -> None:
        try:
            self.serverapp.event_logger.emit(schema_id=SCHEMA_ID, data=event)
        except Exception:
            self.log.exception("could not emit the job event")
        job = event.get("job") or {}
        self.collect_soon(job)

    def collect_soon(self, job: dict[str, Any]) -> None:
        """Bring back an ended notebook job's executed notebook, once, in the background."""
        script = (job.get("spec") or {}).get("script") or {}
        if (
            job.get("state") not in TERMINAL
            or job.get("state") == "cancelled"
            or script.get("kind") != "notebook"
            or job.get("id") in self._collected
        ):
            return
        self._collected.add(job["id"])
        task = asyncio.ensure_future(self._collect(job, script["path"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _collect(self, job: dict[str, Any], source: str) -> None:
        stem = source[: -len(".ipynb")] if source.endswith(".ipynb") else source
        target = f"{stem}.{job['id']}.ipynb"
        try:
            log_text = await self._full_log(job["id"])
            found = decode_block(log_text)
            if found is None:
                self.log.info("job %s left no executed notebook in its log", job["id"])
                return
            _, text = found
            model = {"type": "notebook", "format": "json", "content": json.loads(text)}
            saved = self.serverapp.contents_manager.save(model, target)
            if hasattr(saved, "__await__"):
                await saved
            self.log.info("job %s: executed notebook saved as %s", job["id"], target)
        except (JobsError, ValueError, OSError) as exc:
            self._collected.discard(job["id"])
            self.log.warning("job %s: executed notebook not saved: %s", job["id"], exc)

    async def _full_log(self, job_id: str) -> str:
        parts: list[str] = []
        offset = 0
        for _ in range(1000):
            status, data = await self.backend.call(
                "GET", f"jobs/{job_id}/log", None, {"offset": offset}
            )
            if status != 200:
                raise JobsError(status, (data or {}).get("error", "log unavailable"))
            parts.append(data.get("data", ""))
            if data.get("eof") or data.get("next_offset", offset) == offset:
                break
            offset = data["next_offset"]
        return "".join(parts)
