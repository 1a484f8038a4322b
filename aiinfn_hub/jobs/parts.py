"""The parts of the jobs service that the controller and the user operations share."""

from __future__ import annotations

from ..kube.client import Kube
from ..placement import Placer
from .checks import RequestChecks
from .claims import HomeClaim
from .index import JobIndex
from .publisher import Publisher
from .records import RecordWriter
from .retention import JobsRetention
from .sitestatus import SiteStatus


class Parts:
    """Holds the shared parts; :class:`~.controller.Controller` and
    :class:`~.operations.JobOperations` are made of it."""

    def __init__(
        self,
        *,
        kube: Kube,
        placer: Placer,
        index: JobIndex,
        status: SiteStatus,
        publisher: Publisher,
        records: RecordWriter,
        retention: JobsRetention,
        checks: RequestChecks,
        home: HomeClaim,
    ) -> None:
        self.kube = kube  # the Kubernetes API, in the jobs' namespace
        self.placer = placer  # the sites and the placement table
        self.index = index  # the tracked jobs
        self.status = status  # the sites' health
        self.publisher = publisher  # views, events, counts
        self.records = records  # writes jobs' records
        self.retention = retention  # how long ended jobs keep their objects
        self.checks = checks  # the volumes and images a job may use
        self.home = home  # how users' home claims are named
