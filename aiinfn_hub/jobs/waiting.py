"""The wait-aware policy as the jobs service applies it (issue 16, section 4): its settings
(``c.WaitPolicy``), and the plan of a request decided with it, for ``POST /plan`` and for a
submission alike (:meth:`WaitAware.place`).

The decision itself is :func:`~aiinfn_hub.placement.wait.wait_skip` (pure); this module reads
the estimates it needs (:class:`~.queues.SiteQueues`, over HTTP) and plans again with the
skipped site ruled out. Off (every margin 0, the default), a submission reads no estimate:
no request to Kubernetes is added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from traitlets import Dict, Integer, validate
from traitlets.config import Configurable

from ..placement import Placer, Plan, Site, SiteHealth
from ..placement.estimate import Estimate, Queued
from ..placement.requirements import JobRequest
from ..placement.wait import wait_candidates, wait_skip
from .queues import SiteQueues
from .triggers import known_sites, site_changes, whole_numbers

_SITE_KEYS = {"margin"}


class WaitPolicy(Configurable):
    """Whether placement skips a first choice where a job would wait much longer than at the
    fallback: off by default, so the placement table decides alone."""

    margin = Integer(
        0,
        min=0,
        help="Seconds by which a job's likely start at a plan's first choice must be later "
        "than at the plan's next site for the first choice to be skipped (the plan says so: "
        "'CINECA Leonardo: skipped: expected start in 2 h, Local resources free now'). The "
        "next site must be usable now; a start that cannot be estimated never skips a site. "
        "The skipped site is ruled out of that job's plan, so it is not tried later. "
        "0 (the default): never skip, the placement table decides alone.",
    ).tag(config=True)
    sites = Dict(
        value_trait=Dict(),
        help="Changes per site (the first choice), by site name: margin, e.g. "
        "{'leonardo': {'margin': 3600}} (0: never skip that site).",
    ).tag(config=True)

    @validate("sites")
    def _check_sites(self, proposal: Any) -> dict[str, dict[str, Any]]:
        found = site_changes("WaitPolicy", proposal["value"], _SITE_KEYS)
        return whole_numbers("WaitPolicy", found, {"margin": "seconds"})

    def margins(self, sites: Iterable[Site]) -> dict[str, float]:
        """Each site's margin in seconds (0: never skipped); ConfigError for a site in
        ``sites`` (the option) that is not configured."""
        names = {site.name for site in sites}
        known_sites("WaitPolicy", self.sites, names)
        return {name: float(self.sites.get(name, {}).get("margin", self.margin)) for name in names}

    def aware(self, placer: Placer, queues: SiteQueues) -> WaitAware:
        """The planner with this policy, for ``placer``'s sites, reading ``queues``."""
        margins = self.margins(placer.sites.values())
        return WaitAware(placer=placer, queues=queues, margins=margins, clock=queues.clock)


class WaitAware:
    """Plans a request with the wait-aware policy: the table's plan, then its first choice
    skipped if :func:`~aiinfn_hub.placement.wait.wait_skip` says so."""

    def __init__(
        self,
        *,
        placer: Placer,
        queues: SiteQueues,
        margins: Mapping[str, float],
        clock: Callable[[], float],
    ) -> None:
        self.placer = placer
        self.queues = queues
        self.margins = dict(margins)
        self.clock = clock

    async def place(
        self,
        request: JobRequest,
        job: Queued,
        *,
        health: Mapping[str, SiteHealth],
        asked: str | None = None,
        shown: bool = False,
    ) -> tuple[Plan, dict[str, Estimate]]:
        """The plan for ``request`` by ``health``, its first choice skipped when a job like
        ``job`` would wait there too long, and the estimates read for it: those the policy
        needs (none when it is off), and with ``shown`` those of every site of the table's
        plan (``POST /plan`` shows them). A job ``asked`` for one site is not moved by the
        policy (with ``shown``, only that site is estimated). Raises NoSiteError."""
        plan = self.placer.plan(request, health)
        wanted = [] if asked else list(wait_candidates(plan, self.margins))
        if shown:
            wanted += [asked] if asked else plan.site_names
        estimates = await self.queues.estimates(dict.fromkeys(wanted), job) if wanted else {}
        if asked:
            return plan, estimates
        skip = wait_skip(plan, estimates, margins=self.margins, health=health, now=self.clock())
        if skip:
            plan = self.placer.plan(request, health, exclude=skip)
        return plan, estimates
