"""Standalone mode: the whole system inside one Jupyter server (a laptop, Binder, a classroom).

The server starts a sandbox cluster and hosts the jobs service in-process on it, serving the
service's own REST API on a loopback port with a random token; the extension then talks to
it exactly as it talks to the hub's service (:class:`.backends.ServiceBackend`).

The sandbox runs as a child process (:class:`~aiinfn_hub.sandbox.SandboxProcess`), not in
this event loop: its API server, controllers and kubelets then use their own core instead of
slowing JupyterLab, a crash of one cannot take the other down, and nothing is left behind:
``stop()`` ends the sandbox's process group (and with it every pod), and the sandbox also
exits by itself when this server dies without stopping it (``--exit-with-parent``).

The user's home volume: the sandbox keeps each PersistentVolumeClaim as a directory; the
home claim (made here as the hub's spawner makes it for a server) has its directory linked
to the server's root, so a job that asks for the home volume on a local site reads and
writes the user's own files, as it would on the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets.config import Configurable

from ..jobs.auth import TokenAuthenticator
from ..jobs.claims import home_claim_manifest
from ..jobs.handlers import routes
from ..jobs.manager import JobsManager
from ..kube.client import Kube, kube_client
from ..sandbox.faults import parse_fault
from .backends import ServiceBackend

log = logging.getLogger(__name__)


class JobsServiceServer:
    """The jobs service's REST API for ``manager`` on 127.0.0.1, for holders of ``tokens``."""

    def __init__(self, manager: JobsManager, tokens: dict[str, str], admins: set[str]) -> None:
        authenticator = TokenAuthenticator(tokens=tokens, admin_users=admins)
        app = web.Application(routes("/"), jobs_manager=manager, authenticator=authenticator)
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server = HTTPServer(app)
        self.server.add_sockets(sockets)

    async def stop(self) -> None:
        self.server.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.close_all_connections(), 5)


class Standalone:
    """A sandbox (or a given cluster) and the jobs service on it, for one user."""

    def __init__(
        self,
        user: str,
        *,
        parent: Configurable | None = None,
        kubeconfig: str | None = None,
        state_dir: str | None = None,
        home_dir: str | None = None,
        faults: Sequence[str] = (),
        image: str = "",
    ) -> None:
        self.user = user
        #: the user's own image, which their jobs may use (they are the only user)
        self.image = image
        #: fault requests for the sandbox this starts (parsed now: a typo fails at start-up)
        try:
            self.faults = [parse_fault(text) for text in faults]
        except ValueError as exc:
            raise ValueError(f"c.AiinfnHubExtension.sandbox_faults: {exc}") from None
        self.parent = parent
        self.kubeconfig = kubeconfig
        self.home_dir = Path(home_dir) if home_dir else None
        self._own_state = not state_dir
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="aiinfn-standalone-"))
        self.sandbox: Any = None
        self.manager: JobsManager | None = None
        self.service: JobsServiceServer | None = None
        self._api: Any = None

    async def start(self) -> ServiceBackend:
        """Start everything; the backend to reach the service. Cleans up if a step fails."""
        try:
            kubeconfig = self.kubeconfig or await self._start_sandbox()
            self._api = await kube_client(kubeconfig)
            self.manager = JobsManager(
                Kube(self._api, "default"), parent=self.parent, images=[self.image]
            )
            await self._make_home()
            await self.manager.start()
            token = secrets.token_urlsafe(32)
            self.service = JobsServiceServer(self.manager, {token: self.user}, {self.user})
        except BaseException:
            await self.stop()
            raise
        log.info("standalone jobs service for %s at %s", self.user, self.service.url)
        return ServiceBackend(self.service.url, token, mode="standalone")

    async def _start_sandbox(self) -> str:
        from ..sandbox import SandboxProcess

        self.sandbox = SandboxProcess(state_dir=self.state_dir / "sandbox")
        await asyncio.to_thread(self.sandbox.start)
        log.info("standalone sandbox at %s (pid %s)", self.sandbox.url, self.sandbox.proc.pid)
        for fault in self.faults:
            self.sandbox.admin.request("POST", "faults", fault)
            log.info("standalone sandbox fault on: %s", fault)
        return str(self.sandbox.kubeconfig)

    async def _make_home(self) -> None:
        """On the sandbox, the user's home claim as the hub's spawner makes it for a server,
        its folder linked to the server's root folder."""
        if self.sandbox is None or self.manager is None:
            return
        claim = self.manager.home.name_for(self.user)
        await self.manager.kube.create("pvc", home_claim_manifest(claim, self.user))
        if self.home_dir is None:
            return
        link = self.sandbox.state_dir / "claims" / self.manager.namespace / claim
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink() and not link.exists():
            os.symlink(self.home_dir.resolve(), link, target_is_directory=True)

    async def stop(self) -> None:
        """Stop the service, the manager and the sandbox (with every pod); idempotent."""
        service, self.service = self.service, None
        manager, self.manager = self.manager, None
        api, self._api = self._api, None
        sandbox, self.sandbox = self.sandbox, None
        if service is not None:
            service.server.stop()
        if manager is not None:
            await manager.stop()
        if service is not None:
            await service.stop()
        if api is not None:
            await api.close()
        if sandbox is not None:
            await asyncio.to_thread(sandbox.stop)
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
