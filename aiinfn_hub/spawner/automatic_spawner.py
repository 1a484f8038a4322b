"""AIInfnSpawner's Automatic profile: the placement engine plans the server like a job
(:mod:`.sessions`), and the spawner starts it at the plan's first site, falling back to the
next one when a site does not start it in time, fails it, goes down, or starts it where the
hub cannot reach it; each step is said on the progress page and kept in the server's state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tornado import web
from traitlets import Bool, Dict, Float, List, Unicode
from traitlets.config import LoggingConfigurable

from ..placement import (
    Exclusion,
    GpuPool,
    NextSite,
    PlacementError,
    Placer,
    Plan,
    Site,
    row_key,
)
from ..serverplace import ServerPlace
from .clusterview import ClusterView, GpuCount
from .profiles import GPUS, Resources
from .progress import describe_pod
from .sessions import SessionSpec, choose_pool, claim_volumes, unreachable

CHECK_INTERVAL = 0.25

#: KubeSpawner's own start at the site chosen (its ``_start``): the server's URL.
Start = Callable[[], Awaitable[str]]


class FallBack(Exception):
    """A site did not start the server; the message says why."""


class AutomaticStart(LoggingConfigurable):
    """Mixed into AIInfnSpawner (before KubeSpawner): where an Automatic server runs, and the
    fallback along the plan. Its options are set as AIInfnSpawner's
    (``c.AIInfnSpawner.interactive_offload``)."""

    automatic_gpu_models = List(
        Unicode(),
        help="""GPU models the automatic profile prefers at local sites, most preferred first
        (e.g. [A100, RTX5000]); a model with enough free GPUs always beats one without. Empty:
        the model of the plan's first site if the local site has it, else the one with the
        most free GPUs.""",
    ).tag(config=True)
    interactive_offload = Bool(
        False,
        help="""Let the automatic profile run servers at remote sites (GPU servers at CINECA
        Leonardo, CPU servers at the CNAF Tier-1, as the placement table says). Enable it only
        where interLink's mesh or VPN makes a remote pod reachable from the proxy; otherwise
        servers stay on local nodes.""",
    ).tag(config=True)
    offload_annotations = Dict(
        {"interlink.eu/pod-vpn": "true"},
        help="""Annotations on a server sent to a remote site, added to the site's own. The
        default asks interLink for its VPN, which gives the pod an address in the cluster's
        network: without it (or interLink's wstunnel, on a virtual node with
        Network.EnableTunnel) the pod's address is 127.0.0.1, the hub cannot reach the server,
        and the spawner starts it at the next site of the plan instead, saying why.""",
    ).tag(config=True)
    offload_scratch_claims = Bool(
        True,
        help="""When the automatic profile sends a server to a remote site, replace its
        volumes backed by PersistentVolumeClaims (which interLink sites cannot mount) with
        empty scratch folders, and say so on the progress page. False: a server that mounts a
        claim is never offloaded.""",
    ).tag(config=True)
    session_start_timeouts = Dict(
        value_trait=Float(),
        default_value={"leonardo": 300.0, "tier1": 300.0},
        help="""Seconds the automatic profile waits for the server to run at each site before
        removing it and starting it at the next site of the plan. Sites not listed (and the
        last site of a plan) get what is left of start_timeout, so keep the sum below it.""",
    ).tag(config=True)

    #: The site chosen now, by name; kept in the state.
    site_name: str
    #: Every site this start tried, and how it went ({site, outcome}); kept in the state.
    attempts: list[dict[str, str]]
    #: The site and GPU pool of the attempt under way (what the pod is placed on).
    _session: tuple[Site, GpuPool | None] | None
    #: The site and GPU model of a GPU server, for the progress page's counts.
    _gpu: tuple[Site, GpuPool] | None
    #: The sites the plan ruled out as unhealthy before the first attempt.
    _skipped: list[Exclusion]

    if TYPE_CHECKING:  # what the mixin reads of the spawner it is mixed into
        placer: Placer
        automatic_cpu: str
        automatic_memory: str
        cluster_ready_timeout: float
        user_options: Any
        volumes: Any
        start_timeout: int
        pod_name: str
        scratch_place: dict[str, Any]
        _place: ServerPlace | None
        _home: tuple[Any, str] | None

        @property
        def cluster(self) -> ClusterView: ...

        def count_gpus(self, site: Site, pool: GpuPool) -> GpuCount | None: ...

        def _note(self, message: str) -> None: ...

        def _sorted_dict_values(self, values: Any) -> list[Any]: ...

        async def stop(self, now: bool = False) -> None: ...

    def session_spec(self) -> SessionSpec:
        gpus = int((self.user_options or {}).get(GPUS) or 0)
        res = Resources.parse(self.automatic_cpu, self.automatic_memory, "automatic")
        volumes = self._sorted_dict_values(self.volumes)
        return SessionSpec(res.cpu, res.memory, gpus, claim_volumes(volumes))

    async def _start_automatic(self, *, remote: bool, start: Start) -> str:
        """Start at the plan's first site, falling back along it; ``remote`` lets the plan use
        remote sites (the hub allows it and the user did not keep the server local); ``start``
        is KubeSpawner's start at the site chosen."""
        await self.cluster.ready(self.cluster_ready_timeout)
        spec = self.session_spec()
        remote = remote and self.interactive_offload
        request = spec.request(remote, self.offload_scratch_claims)
        try:
            plan = self.placer.plan(request, self.cluster.healths(self.placer.sites.values()))
        except PlacementError as exc:
            raise web.HTTPError(503, f"no site can run your server now: {exc}") from None
        skipped = self._skipped = [e for e in plan.ruled_out if e.field == "health"]
        for exclusion in skipped:
            self._note(f"not at {exclusion.site.display_name}: it is {exclusion.reason}")
        if not self.interactive_offload and any(s.is_offload for s in self.placer.sites.values()):
            self._note("remote sites are off for interactive servers on this hub")
        elif not remote:
            self._note("kept at local resources, as you chose: your home folder is mounted")
        # the GPU model of the table's first choice (e.g. A100 at Leonardo), then the admin's
        row = row_key(plan.requirements.requires_gpu, plan.requirements.offloadable)
        first = self.placer.table[row][0].capabilities.gpu_pool(None) if spec.gpus else None
        preferred = [*self.automatic_gpu_models, *([first.model] if first else [])]
        overall = self.start_timeout
        started = time.monotonic()
        tried: list[str] = []
        chosen = self._next_site(plan, tried)  # the plan's first site
        try:
            while chosen is not None:
                site = chosen.site
                left = overall - (time.monotonic() - started)
                # the last site left gets what is left of start_timeout; others their own
                wait = min(
                    left if chosen.last else self.session_start_timeouts.get(site.name, left), left
                )
                pool = choose_pool(site, spec.gpus, self.count_gpus, preferred)
                self._session = (site, pool)
                self._gpu = (site, pool) if pool is not None else None
                self.site_name = site.name
                fell_back = bool(self.attempts or skipped)
                what = f" on {pool.model} GPUs" if pool else ""
                self._note(
                    f"starting your server at {site.display_name}{what}"
                    + (" (fallback)" if fell_back else f": {chosen.reason}")
                )
                self.start_timeout = max(1, int(left) + 1)  # a jupyterhub Spawner trait
                try:
                    url = await self._attempt(site, wait, watch=not chosen.last, start=start)
                except FallBack as exc:
                    self.attempts.append({"site": site.name, "outcome": str(exc)})
                    if chosen.last:
                        raise web.HTTPError(503, f"{exc}; no other site is left to try") from None
                    tried.append(site.name)
                    chosen = self._next_site(plan, tried)
                    # a site that was not the last leaves at least one other to try
                    assert chosen is not None
                    self._note(f"{exc}; falling back to {chosen.site.display_name}")
                    continue
                self.attempts.append({"site": site.name, "outcome": "running"})
                self._note(self._outcome(site))
                place = self._place
                if place and place.scratch_home and place.copy_back_bytes and self._home:
                    volume, mount = self._home
                    self.scratch_place = asdict(place) | {"home": [dict(volume), mount]}
                return url
        finally:
            self.start_timeout = overall
        raise AssertionError("a plan has a first site, and the last site is never left")

    def _next_site(self, plan: Plan, tried: list[str]) -> NextSite | None:
        """The site the plan names after those ``tried``, by the sites' health now: the one
        fallback order of servers and jobs (:func:`~aiinfn_hub.placement.plan.next_site`)."""
        return plan.next_site(tried, self.cluster.healths(self.placer.sites.values()))

    def _fallbacks(self) -> list[tuple[str, str]]:
        """(site, why) of each site this start left or skipped, in order."""
        sites = self.placer.sites
        steps = [
            (sites[a["site"]].display_name if a["site"] in sites else a["site"], a["outcome"])
            for a in self.attempts
            if a["outcome"] != "running"
        ]
        return steps + [(e.site.display_name, e.reason) for e in self._skipped]

    def _outcome(self, site: Site) -> str:
        earlier = [f"{name}: {why}" for name, why in self._fallbacks()]
        if earlier:
            return f"your server runs at {site.display_name}; it fell back from " + "; ".join(
                earlier
            )
        return f"your server runs at {site.display_name}"

    async def _attempt(self, site: Site, wait: float, watch: bool, start: Start) -> str:
        """KubeSpawner's ``start`` at ``site``; FallBack if the site fails or exceeds ``wait``
        (when ``watch``), or starts the server where the hub cannot reach it."""
        task = asyncio.ensure_future(start())
        deadline = time.monotonic() + wait
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=CHECK_INTERVAL)
                if task in done:
                    url = task.result()
                    problem = unreachable(site, url)
                    if problem is None:
                        return url
                    break
                problem = self._site_problem(site, wait, deadline) if watch else None
                if problem is not None:
                    break
        finally:
            if not task.done():  # a fallback, or the spawn itself cancelled (hub timeout, user)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.stop(now=True)
        raise FallBack(problem)

    def _site_problem(self, site: Site, wait: float, deadline: float) -> str | None:
        health = self.cluster.health(site)
        if health is not None and not health.usable:
            return f"{site.display_name} became unavailable ({health.describe()})"
        pod = self.cluster.pod(self.pod_name) or {}
        status = pod.get("status") or {}
        if status.get("phase") == "Failed":
            why = ": ".join(x for x in (status.get("reason"), status.get("message")) if x)
            return f"{site.display_name} could not run your server ({why or 'it failed'})"
        if time.monotonic() >= deadline:
            queued = describe_pod(pod, site.display_name)
            return f"{site.display_name} did not start your server within {wait:g} s" + (
                f" ({queued})" if queued else ""
            )
        return None
