"""A site plugs its own jobs manager and Kubernetes backend into the service by configuration
(``JobsService.manager_class`` and ``backend_class``), without forking."""

from __future__ import annotations

from typing import Any

from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from traitlets import Unicode

from aiinfn_hub.jobs.app import JobsService
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.client import Kube

from .conftest import Api, stop_manager
from .service import PREFIX, standalone_config


class AuditedKube(Kube):
    """A site's backend: notes every Kubernetes call the service makes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit: list[str] = []

    async def call(self, label: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.audit.append(label)
        return await super().call(label, fn, *args, **kwargs)


class SiteJobsManager(JobsManager):
    """A site's manager, with an option of its own: notes who submits, for its accounting."""

    accounting_project = Unicode("", help="The site's accounting project.").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitters: list[str] = []

    async def submit(self, user: str, data: Any, action: dict[str, Any] | None = None) -> Any:
        self.submitters.append(f"{user} for {self.accounting_project}")
        return await super().submit(user, data, action)


async def test_a_site_plugs_its_manager_and_backend_into_the_service(sandbox, tmp_path):
    here = __name__  # the classes above, named as a site's config file names its own
    path = standalone_config(
        tmp_path,
        JobsService={
            "manager_class": f"{here}.SiteJobsManager",
            "backend_class": f"{here}.AuditedKube",
            "kubeconfig": str(sandbox.kubeconfig),
        },
        SiteJobsManager={"accounting_project": "INFN_AI-2026"},
        JobsManager={"shared_claims": ["datasets"]},  # the base class's options still apply
    )
    service = JobsService()
    try:
        service.initialize(["--config", str(path)])
        app, manager = await service.make_app()
    finally:
        JobsService.clear_instance()
    assert type(manager) is SiteJobsManager
    assert type(manager.kube) is AuditedKube
    assert manager.shared_claims == ["datasets"]
    await manager.start()
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    try:
        api = Api(f"http://127.0.0.1:{port}{PREFIX}")
        status, view = await api.call("POST", "jobs", {"command": ["true"], "local_only": True})
        assert status == 201, view
        assert manager.submitters == ["alice for INFN_AI-2026"]
        assert "create configmap" in manager.kube.audit
    finally:
        server.stop()
        await stop_manager(manager)
