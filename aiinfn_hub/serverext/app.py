"""The ``aiinfn_hub`` jupyter-server extension: its mode, its backend, events and notebooks."""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from typing import Any

from jupyter_events import EventLogger
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from traitlets import Enum, Float, List, Unicode, default

from ..errors import AIInfnError, ClusterUnavailable
from .backends import Backend, ServiceBackend
from .copyback import copy_back_routes
from .events import SCHEMA, SCHEMA_ID, job_event
from .handlers import routes
from .place import place_routes
from .returns import NotebookReturns
from .standalone import Standalone

MODES = ("auto", "hub", "standalone")
#: The jobs service's defaults (JobsManager.max_staged_bytes and home_mount_path), for a
#: service too old to give its own in ``/whoami``.
SERVICE_DEFAULTS: dict[str, Any] = {
    "max_staged_bytes": 900 * 1024,
    "home_mount_path": "/home/jovyan",
}


def extension_routes() -> list[tuple[str, type]]:
    """Every route of the extension: the server's place and copy-back, then the jobs' (whose
    last pattern answers any other path under the prefix)."""
    return [*place_routes(), *copy_back_routes(), *routes()]


class AiinfnHubExtension(ExtensionApp):
    """Background jobs from JupyterLab: forwards to the hub's jobs service, or hosts one."""

    name = "aiinfn_hub"

    mode = Enum(
        list(MODES),
        "auto",
        help="'hub': forward to the hub's jobs service with the user's JupyterHub token (no "
        "Kubernetes credentials here); 'standalone': start a sandbox cluster and host the "
        "jobs service in this server; 'auto' (default): hub when a jobs service URL is "
        "known ($AIINFN_JOBS_URL or jobs_url), else standalone. Default: $AIINFN_HUB_MODE.",
    ).tag(config=True)
    jobs_url = Unicode(
        help="Hub mode: URL of the jobs service (default: $AIINFN_JOBS_URL, set by AIInfnSpawner)."
    ).tag(config=True)
    hub_token = Unicode(
        help="Hub mode: the token sent to the jobs service (default: $JUPYTERHUB_API_TOKEN, "
        "the user's own)."
    ).tag(config=True)
    kubeconfig = Unicode(
        "",
        help="Standalone mode: run the jobs service against the cluster of this kubeconfig "
        "(e.g. a sandbox already running) instead of starting a sandbox.",
    ).tag(config=True)
    state_dir = Unicode(
        "",
        help="Standalone mode: where the sandbox keeps pod files and logs (default: a "
        "temporary folder, removed when the server stops).",
    ).tag(config=True)
    sandbox_faults = List(
        Unicode(),
        help="Standalone mode: faults the sandbox starts with, written as for "
        "`aiinfn-hub demo --fault`, e.g. ['provider-failure:tier1'] so that offloadable CPU "
        "jobs fall back from CNAF Tier-1 (a classroom's or Binder's demonstration).",
    ).tag(config=True)
    standalone_user = Unicode(
        help="Standalone mode: owner of the jobs (default: the account running the server)."
    ).tag(config=True)
    user_image = Unicode(
        help="Image for jobs: the user's own (default: $JUPYTER_IMAGE_SPEC, set by KubeSpawner)."
    ).tag(config=True)
    returns_window_hours = Float(
        24.0,
        help="At start-up, bring back the executed notebooks of notebook jobs that ended this "
        "many hours ago or less while the server was not running.",
    ).tag(config=True)

    @default("mode")
    def _mode_default(self) -> str:
        mode = os.environ.get("AIINFN_HUB_MODE", "auto")
        return mode if mode in MODES else "auto"

    @default("jobs_url")
    def _jobs_url_default(self) -> str:
        return os.environ.get("AIINFN_JOBS_URL", "")

    @default("hub_token")
    def _hub_token_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("user_image")
    def _user_image_default(self) -> str:
        return os.environ.get("JUPYTER_IMAGE_SPEC") or os.environ.get("JUPYTER_IMAGE", "")

    @default("standalone_user")
    def _standalone_user_default(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    # ------------------------------------------------------------------ set-up

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "hub" if self.jobs_url else "standalone"

    @property
    def user(self) -> str:
        """Whose jobs these are: the hub user, or the standalone owner."""
        if self.resolved_mode() == "hub":
            return os.environ.get("JUPYTERHUB_USER") or self.standalone_user
        return self.standalone_user

    @property
    def server(self) -> ServerApp:
        """The Jupyter server this extension runs in (jupyter_server sets it before any hook)."""
        if self.serverapp is None:
            raise RuntimeError("the aiinfn_hub extension runs only inside a Jupyter server")
        return self.serverapp

    @property
    def event_logger(self) -> EventLogger:
        """The server's event logger, where the panel's job events go."""
        logger = self.server.event_logger
        if logger is None:
            raise RuntimeError("this Jupyter server has no event logger")
        return logger

    def initialize_settings(self) -> None:
        #: Files modified since are this server's own (what a copy-back takes home).
        self.started_at = time.time()
        self.event_logger.register_event_schema(SCHEMA)
        self.backend: Backend | None = None
        self.standalone: Standalone | None = None
        self.returns: NotebookReturns | None = None
        self._starting: asyncio.Future | None = None
        self._settings: dict[str, Any] | None = None
        self._tasks: set[asyncio.Task] = set()
        self.log.info("aiinfn-hub jobs extension in %s mode", self.resolved_mode())

    def initialize_handlers(self) -> None:
        self.handlers.extend(extension_routes())

    def defaults(self) -> dict[str, Any]:
        """The resources of the user's profile, as the spawner put them in the environment."""
        env = os.environ
        gpus = env.get("AIINFN_DEFAULT_GPUS", "0")
        return {
            "cpu": env.get("AIINFN_DEFAULT_CPU") or env.get("CPU_GUARANTEE") or "1",
            "memory": env.get("AIINFN_DEFAULT_MEMORY") or "2Gi",
            "gpus": int(gpus) if gpus.isdigit() else 0,
            "gpu_model": env.get("AIINFN_DEFAULT_GPU_MODEL") or None,
        }

    # ------------------------------------------------------------------ lifecycle

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start at server start-up, so events flow before the first request."""
        try:
            await self.ensure_backend()
        except AIInfnError as exc:
            self.log.error("aiinfn-hub: %s", exc.message)

    async def ensure_backend(self) -> Backend:
        """The backend, started once (concurrent callers wait for the same start)."""
        if self.backend is not None:
            return self.backend
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._start_backend())
        try:
            return await asyncio.shield(self._starting)
        except AIInfnError:
            raise
        except Exception as exc:
            self.log.exception("aiinfn-hub: the jobs backend did not start")
            raise ClusterUnavailable(
                f"the jobs service could not start ({exc}); see the server log, then restart "
                "the server"
            ) from None

    async def service_settings(self) -> dict[str, Any]:
        """The jobs service's own settings (largest staged file, home mount path), read once
        from its ``/whoami``: the service is their one source. AIInfnError if it cannot say."""
        if self._settings is None:
            backend = await self.ensure_backend()
            self.remember_caller(*await backend.call("GET", "whoami"))
        if self._settings is None:
            raise ClusterUnavailable(
                "the jobs service did not answer who you are, so files cannot be sent with "
                "jobs yet; try again in a moment, or ask your hub admin if it persists",
            )
        return self._settings

    def known_settings(self) -> dict[str, Any]:
        """The service's settings if it gave them, else its documented defaults (for what the
        panel shows while the service does not answer: nothing is sent then)."""
        return self._settings or SERVICE_DEFAULTS

    def remember_caller(self, status: int, caller: Any) -> None:
        """Keep the settings of a ``/whoami`` answer. A service older than its ``settings``
        answers without them: its documented defaults apply, and the log says so."""
        if status != 200 or not isinstance(caller, dict):
            return
        settings = caller.get("settings")
        if not isinstance(settings, dict):
            self.log.warning(
                "aiinfn-hub: the jobs service gives no settings (older than this extension); "
                "using its defaults: %s",
                SERVICE_DEFAULTS,
            )
            settings = SERVICE_DEFAULTS
        self._settings = {**SERVICE_DEFAULTS, **settings}

    async def _start_backend(self) -> Backend:
        if self.resolved_mode() == "hub":
            if not self.jobs_url or not self.hub_token:
                raise ClusterUnavailable(
                    "hub mode needs the jobs service's URL and the user's token "
                    "($AIINFN_JOBS_URL and $JUPYTERHUB_API_TOKEN, or "
                    "c.AiinfnHubExtension.jobs_url and hub_token); ask your hub admin",
                )
            backend: Backend = ServiceBackend(self.jobs_url, self.hub_token, mode="hub")
        else:
            standalone = Standalone(
                self.standalone_user,
                parent=self,
                kubeconfig=self.kubeconfig or None,
                state_dir=self.state_dir or None,
                home_dir=self.server.root_dir,
                faults=self.sandbox_faults,
                image=self.user_image,
            )
            backend = await standalone.start()
            self.standalone = standalone
        self.returns = NotebookReturns(
            backend, self.server.contents_manager, self.user, self._on_notebook_saved
        )
        self.backend = backend
        self._spawn(backend.follow(self._on_event))
        self._spawn(self.returns.scan(self.returns_window_hours))
        return backend

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop_extension(self) -> None:
        """Stop relaying events, and in standalone mode the service and the sandbox."""
        if self._starting is not None and not self._starting.done():
            try:
                await self._starting
            except Exception as exc:  # what a request that waited for it was told, too
                self.log.warning("aiinfn-hub: the jobs backend did not start: %s", exc)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.returns is not None:
            await self.returns.close()
        if self.standalone is not None:
            await self.standalone.stop()
        self.backend = self.standalone = self.returns = None

    # ------------------------------------------------------------------ events

    def emit(self, data: dict[str, Any]) -> None:
        self.event_logger.emit(schema_id=SCHEMA_ID, data=data)

    def _on_event(self, event: dict[str, Any]) -> None:
        job = event.get("job")
        if not isinstance(job, dict) or "id" not in job:
            return
        self.returns_for(job)
        try:
            self.emit(job_event(job))
        except Exception:
            self.log.exception("aiinfn-hub: job %s's event was not published", job["id"])

    def returns_for(self, job: dict[str, Any]) -> None:
        """Bring back the job's executed notebook if it is an ended notebook job of ours."""
        if self.returns is not None:
            self.returns.on_job(job)

    def _on_notebook_saved(self, job: dict[str, Any], path: str) -> None:
        self.emit(job_event(job, "notebook", path=path))
