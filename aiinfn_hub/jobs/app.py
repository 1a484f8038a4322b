"""The jobs service as a process: a JupyterHub managed service, or standalone with tokens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any
from urllib.parse import ParseResult, urlparse

from kubernetes_asyncio import config
from tornado import web
from traitlets import Bool, Float, Integer, TraitError, Type, Unicode, default
from traitlets.config import Application

from ..kube.client import Kube, kube_client
from ..kube.startup import StartupError
from ..placement import ConfigError, PlacementConfig
from .auth import Authenticator, HubAuthenticator, TokenAuthenticator
from .breakers import BreakerPolicy
from .claims import HomeClaim
from .events import JobEvents
from .handlers import routes
from .images import ImagePolicy
from .manager import JobsManager
from .retention import JobsRetention
from .triggers import FallbackPolicy
from .waiting import WaitPolicy


class JobsService(Application):
    """Serve the jobs REST API and run the fallback controller."""

    name = "aiinfn-jobs"
    description = "The aiinfn_hub jobs service: placement, Kueue jobs and automatic fallback."
    classes = [
        JobsManager,
        JobEvents,
        ImagePolicy,
        HomeClaim,
        JobsRetention,
        PlacementConfig,
        FallbackPolicy,
        BreakerPolicy,
        WaitPolicy,
        HubAuthenticator,
        TokenAuthenticator,
    ]

    config_file = Unicode(
        "", help="A Python config file (c.JobsManager..., c.PlacementConfig...)."
    ).tag(config=True)
    ip = Unicode(help="Address to listen on.").tag(config=True)
    port = Integer(help="Port to listen on.").tag(config=True)
    base_url = Unicode(help="URL prefix of the API (the hub's /services/<name>/).").tag(config=True)
    kubeconfig = Unicode(
        "", help="Kubeconfig file; empty means in-cluster credentials, then $KUBECONFIG."
    ).tag(config=True)
    authenticator_class = Type(
        HubAuthenticator,
        klass=Authenticator,
        help="How callers are authenticated: HubAuthenticator (JupyterHub tokens and OAuth "
        "cookies) or TokenAuthenticator (fixed tokens, for standalone use).",
    ).tag(config=True)
    manager_class = Type(
        JobsManager,
        klass=JobsManager,
        help="The jobs manager: submits, tracks and falls back jobs, and answers the API "
        "(a subclass of aiinfn_hub.jobs.manager.JobsManager). A site plugs in its own, e.g. "
        "to check requests further or to add counts, without forking: "
        "c.JobsService.manager_class = 'mysite.jobs.SiteJobsManager'. It is configured as "
        "c.JobsManager... and, for its own options, under its own class name.",
    ).tag(config=True)
    backend_class = Type(
        Kube,
        klass=Kube,
        help="The Kubernetes backend: every API call the manager makes, in its namespace, with "
        "retries and request counts (a subclass of aiinfn_hub.kube.client.Kube, made with the "
        "API client and the namespace). A site plugs in its own, e.g. to add headers or audit "
        "each call: c.JobsService.backend_class = 'mysite.jobs.AuditedKube'.",
    ).tag(config=True)
    xheaders = Bool(True, help="Trust X-Forwarded-* headers from the proxy.").tag(config=True)
    start_timeout = Float(
        30.0,
        help="Seconds the service waits at start for its first lists of jobs, pods, records, "
        "Kueue Workloads and nodes. Failures meanwhile are retried; at the deadline it exits "
        "(status 1) with one line naming what is missing (Kueue, a permission, the API "
        "server) and the command that fixes it.",
    ).tag(config=True)
    ready_grace = Float(
        60.0,
        help="Seconds the Kubernetes API server may fail to answer before /readyz says "
        "'not ready' (a watch that drops and resumes at once does not count).",
    ).tag(config=True)

    aliases = {
        "port": "JobsService.port",
        "ip": "JobsService.ip",
        "config": "JobsService.config_file",
        "kubeconfig": "JobsService.kubeconfig",
        "namespace": "JobsManager.namespace",
    }

    def _service_url(self) -> ParseResult | None:
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        return urlparse(url) if url else None

    @default("ip")
    def _ip_default(self) -> str:
        url = self._service_url()
        return url.hostname if url and url.hostname else "127.0.0.1"

    @default("port")
    def _port_default(self) -> int:
        url = self._service_url()
        return url.port if url and url.port else 10101

    @default("base_url")
    def _base_url_default(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")

    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
        try:
            HomeClaim("", parent=self).check()
        except (TraitError, ValueError) as exc:
            self.log.critical("%s", exc)
            self.exit(2)

    async def make_app(self) -> tuple[web.Application, JobsManager]:
        api = await kube_client(self.kubeconfig or None)
        try:
            manager = self.manager_class(self.backend_class(api, "default"), parent=self)
        except BaseException:
            await api.close()
            raise
        authenticator = self.authenticator_class(parent=self)
        settings: dict[str, Any] = {
            "jobs_manager": manager,
            "authenticator": authenticator,
            "ready_grace": self.ready_grace,
        }
        extra = authenticator.setup(settings)
        app = web.Application(extra + routes(self.base_url), **settings)
        return app, manager

    async def serve(self) -> None:
        """Listen at once (the probes answer while the caches fill; the API says it is
        starting), start the manager, serve until SIGINT or SIGTERM."""
        app, manager = await self.make_app()
        app.settings["starting"] = True
        server = app.listen(self.port, self.ip, xheaders=self.xheaders)
        self.log.info("aiinfn jobs service on http://%s:%s%s", self.ip, self.port, self.base_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        started = asyncio.ensure_future(manager.start(self.start_timeout))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([started, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not started.done():  # stopped while starting
                started.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await started
                return
            started.result()  # a StartupError is said in one line by start()
            app.settings["starting"] = False
            self.log.info("started with %d jobs", len(manager.jobs))
            await stopping
        finally:
            stopping.cancel()
            server.stop()
            await manager.stop()
            await manager.kube.api_client.close()

    def start(self) -> None:
        """Serve until SIGINT or SIGTERM; exit with one line if the start fails: 2 for the
        admin's configuration or credentials, 1 for the cluster."""
        try:
            asyncio.run(self.serve())
        except ConfigError as exc:
            self.log.critical("the jobs service's configuration is wrong: %s", exc)
            self.exit(2)
        except config.ConfigException as exc:
            self.log.critical(
                "the jobs service cannot read its Kubernetes credentials: %s (give --kubeconfig "
                "a kubeconfig file, or run it in a pod with a service account)",
                exc,
            )
            self.exit(2)
        except StartupError as exc:
            self.log.critical("the jobs service cannot start: %s", exc)
            self.exit(1)


main = JobsService.launch_instance
