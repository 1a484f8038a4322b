"""Each site's circuit breaker (:mod:`aiinfn_hub.placement.breaker`) as the jobs service
keeps it: its settings (``c.BreakerPolicy``), and the endings of attempts it is fed.

The breakers keep no state of their own in Kubernetes: they are folded from the attempts
recorded in jobs' records, which the controller reads at every reconcile
(:meth:`Breakers.observe`). At start-up, before :meth:`Breakers.settle`, the endings of
every record are gathered and then folded in the order they ended, so a restarted service
has the same breakers as before. An attempt counts as the site's failure when the
controller recorded it as the site's doing (``blame: site``, from
:func:`~aiinfn_hub.jobs.signals.assess`); a success or the user's own failure shows the site
served it; anything else (a cancel, a wait that timed out, a preemption) is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from traitlets import Dict, Integer, validate
from traitlets.config import Configurable

from ..apitypes import SiteBreakerView
from ..kube.conditions import parse_time
from ..placement import Site
from ..placement.breaker import Breaker, BreakerSettings, BreakerState, BreakerView, Ending
from . import labels as L
from .model import Blame, Outcome
from .tracked import Tracked
from .triggers import known_sites, site_changes, whole_numbers
from .views import short

_SITE_KEYS = {"failures", "window", "cooldown", "max_cooldown"}
#: How long after the newest ending an attempt is still remembered, so that reading the
#: same record again (every reconcile does) does not count its attempts twice; older ones
#: are never new.
REMEMBER = 3600.0


class BreakerPolicy(Configurable):
    """Each site's circuit breaker: defaults for every site, and ``sites`` for changes per
    site."""

    failures = Integer(
        3,
        min=0,
        help="How many submissions to a site must fail for a reason of the site's own (the "
        "remote submission failed (ProviderFailed), the site lost the job, its node lost "
        "the connection) within `window` seconds for the site to be skipped (its breaker "
        "opens). A user's own failure never counts. 0: the site is never skipped for this.",
    ).tag(config=True)
    window = Integer(
        600, min=1, help="Seconds in which `failures` failures open a site's breaker."
    ).tag(config=True)
    cooldown = Integer(
        300,
        min=1,
        help="Seconds a site is skipped once its breaker opens; then the next submission "
        "tests it: a success closes the breaker, a failure skips the site again for twice "
        "as long (up to `max_cooldown`).",
    ).tag(config=True)
    max_cooldown = Integer(
        3600, min=1, help="The longest cool-down, however often the test submissions fail."
    ).tag(config=True)
    sites = Dict(
        value_trait=Dict(),
        help="Changes per site, by site name: any of failures, window, cooldown, "
        "max_cooldown, e.g. {'tier1': {'failures': 5, 'cooldown': 600}}.",
    ).tag(config=True)

    @validate("sites")
    def _check_sites(self, proposal: Any) -> dict[str, dict[str, Any]]:
        found = site_changes("BreakerPolicy", proposal["value"], _SITE_KEYS)
        units = {key: "failures" if key == "failures" else "seconds" for key in _SITE_KEYS}
        return whole_numbers("BreakerPolicy", found, units)

    def for_site(self, site: Site) -> BreakerSettings:
        """The breaker settings in force at ``site``."""
        changes: Mapping[str, Any] = self.sites.get(site.name, {})
        values = {key: changes.get(key, getattr(self, key)) for key in sorted(_SITE_KEYS)}
        return BreakerSettings(**values)

    def breakers(self, sites: Mapping[str, Site]) -> Breakers:
        """The breakers of ``sites``, each with its settings; ConfigError if ``sites`` (the
        option) names a site that is not configured."""
        known_sites("BreakerPolicy", self.sites, sites)
        return Breakers(sites=sites, settings={n: self.for_site(s) for n, s in sites.items()})


def ending_of(attempt: Mapping[str, Any]) -> Ending | None:
    """How a recorded attempt bears on its site's breaker; None when it says nothing of the
    site (not ended, cancelled, a wait that timed out, or recorded before blame was)."""
    ended = parse_time(attempt.get("ended"))
    if ended is None:
        return None
    blame = attempt.get("blame")
    if blame == Blame.SITE:
        failed = True
    elif blame == Blame.USER or attempt.get("outcome") == Outcome.SUCCEEDED:
        failed = False
    else:
        return None
    started = parse_time(attempt.get("started")) or ended
    return Ending(started, ended, failed, short(attempt.get("reason") or "") if failed else "")


def iso(epoch: float) -> str:
    """An ISO time in UTC, as the API writes times."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Breakers:
    """Every site's breaker, fed the attempts the controller reads (:meth:`observe`).
    ``now``: the clock the breakers are read by (tests move it)."""

    def __init__(
        self,
        *,
        sites: Mapping[str, Site],
        settings: Mapping[str, BreakerSettings],
        now: Callable[[], float] = time.time,
    ) -> None:
        self.now = now
        self.breakers = {
            name: Breaker(site.display_name, settings.get(name, BreakerSettings()))
            for name, site in sites.items()
        }
        #: until :meth:`settle`: every ending seen, folded then in the order they ended
        self._gathered: dict[tuple[str, int], tuple[str, Ending]] | None = {}
        self._seen: dict[tuple[str, int], float] = {}  # recent endings folded, when they ended
        self._newest = 0.0
        self._prune_at = 1024  # how many remembered endings make the next pruning
        #: the attempt each job has in progress: its site and when it started
        self._in_progress: dict[str, tuple[str, float]] = {}

    def observe(self, tracked: Tracked) -> None:
        """Take the job's recorded attempts and its attempt in progress into account."""
        job_id = tracked.job_id
        if tracked.record is None:
            self._in_progress.pop(job_id, None)
            return
        history = tracked.history
        for attempt in history:
            site = attempt.get("site")
            found = ending_of(attempt)
            if found is not None and site in self.breakers:
                self._take((job_id, int(attempt.get("number") or 0)), site, found)
        current = None if tracked.final else tracked.attempts.get(len(history) + 1)
        meta = (current or {}).get("metadata") or {}
        running_at = (meta.get("labels") or {}).get(L.SITE)
        started = parse_time(meta.get("creationTimestamp"))
        if running_at and started is not None:
            self._in_progress[job_id] = (running_at, started)
        else:
            self._in_progress.pop(job_id, None)

    def _take(self, key: tuple[str, int], site: str, ending: Ending) -> None:
        """Fold an ending not seen before (gather it, before :meth:`settle`)."""
        if self._gathered is not None:
            self._gathered[key] = (site, ending)
            return
        if key in self._seen or ending.ended < self._newest - REMEMBER:
            return
        self._seen[key] = ending.ended
        self._fold(site, ending)

    def _fold(self, site: str, ending: Ending) -> None:
        self.breakers[site].fold(ending)
        self._newest = max(self._newest, ending.ended)
        if len(self._seen) > self._prune_at:
            self._forget_old()

    def _forget_old(self) -> None:
        """Forget the endings too old to be seen as new again."""
        horizon = self._newest - REMEMBER
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        self._prune_at = max(1024, 2 * len(self._seen))

    def settle(self) -> None:
        """Every record has been read (start-up is over): fold what was gathered, in the
        order the attempts ended; from now on each new ending is folded as it is seen."""
        gathered, self._gathered = self._gathered or {}, None
        for key, (site, ending) in sorted(gathered.items(), key=lambda item: item[1][1].ended):
            self._seen[key] = ending.ended
            self._fold(site, ending)
        self._forget_old()

    def view(self, name: str) -> BreakerView:
        """The site's breaker now."""
        breaker = self.breakers.get(name)
        if breaker is None:
            return BreakerView(BreakerState.CLOSED)
        starts = [started for site, started in self._in_progress.values() if site == name]
        return breaker.at(self.now(), starts)

    def skip(self, name: str) -> str:
        """Why placement skips the site now because of its breaker (empty: it does not)."""
        return self.view(name).skip

    def shown(self, name: str) -> SiteBreakerView:
        """The site's breaker as ``GET /sites`` shows it."""
        found = self.view(name)
        return {
            "state": found.state.value,
            "reason": found.reason,
            "retry_at": iso(found.retry_at) if found.retry_at is not None else None,
        }

    def states(self) -> dict[str, str]:
        """Each site's breaker state now, for the metrics."""
        return {name: self.view(name).state.value for name in self.breakers}
