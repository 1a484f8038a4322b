"""When a job would start at one site: its position in the site's queue and a range of times.

Pure: the caller reads the site's live state (the jobs ahead in its queue, the jobs running
there and when their time limits end, what is free, what the caches saw lately) and this
module simulates the queue. Kueue admits a site's queue in order (priority, then age), so the
jobs ahead start first: each starts once what it asks for is free, freed by the jobs that end
before it. Run with every job lasting its time limit (walltime), the simulation gives the
**latest** start, since no job runs past its walltime; run with the jobs lasting what jobs
lately lasted of their walltime (a low share of it), it gives the **earliest**; with the
typical share, the **likely** start. An interLink site adds its remote queue delay. When no
job ahead or running has a known walltime, the recent rate of admissions stands in.

Times are epoch seconds; the JSON form (:meth:`Estimate.to_dict`) carries ISO 8601 times.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum

from ..apitypes import EstimatedStart, QueueEstimate
from ..kube.conditions import parse_time

#: The share of their walltime jobs are taken to run when none has been seen completing.
UNSEEN_SHARE = 0.5
#: The low quantile of the runtime shares seen, for the earliest start.
LOW_QUANTILE = 0.1


class Source(Enum):
    """Where the position in the queue came from."""

    VISIBILITY = "visibility"  # Kueue's visibility API (pendingworkloads)
    CACHE = "cache"  # the pending Workloads the service's cache holds, counted


class Bound(Enum):
    """Which start the simulation is run for: how long each job is taken to last."""

    EARLIEST = "earliest"
    LIKELY = "likely"
    LATEST = "latest"


@dataclass(frozen=True, slots=True)
class Demand:
    """What a job holds while it runs: GPUs and CPU cores."""

    gpus: float = 0.0
    cpu: float = 0.0

    def fits(self, free: Demand) -> bool:
        """Whether this much is free in ``free`` (a small tolerance for float sums)."""
        return self.gpus <= free.gpus + 1e-9 and self.cpu <= free.cpu + 1e-9

    def plus(self, other: Demand) -> Demand:
        return Demand(self.gpus + other.gpus, self.cpu + other.cpu)

    def minus(self, other: Demand) -> Demand:
        return Demand(self.gpus - other.gpus, self.cpu - other.cpu)


@dataclass(frozen=True, slots=True)
class Queued:
    """A job waiting in the queue (or the job asked about): what it asks for and its walltime
    in seconds (None when it set none)."""

    demand: Demand
    walltime: float | None = None


@dataclass(frozen=True, slots=True)
class Running:
    """A job running at the site: what it holds, when it started, its walltime (seconds)."""

    demand: Demand
    started: float
    walltime: float | None = None


@dataclass(frozen=True, slots=True)
class Recent:
    """What the service saw at the site over the last ``window`` seconds: jobs admitted,
    jobs completed, and each completed job's runtime as a share of its walltime."""

    window: float = 3600.0
    admitted: int = 0
    completed: int = 0
    runtime_shares: tuple[float, ...] = ()

    def share(self, bound: Bound) -> float:
        """The share of its walltime a job is taken to run for this ``bound``: all of it for
        the latest start; the low quantile (earliest) or median (likely) of the shares seen,
        else :data:`UNSEEN_SHARE` (and nothing at all for the earliest)."""
        if bound is Bound.LATEST:
            return 1.0
        shares = sorted(s for s in self.runtime_shares if 0 <= s <= 1)
        if not shares:
            return 0.0 if bound is Bound.EARLIEST else UNSEEN_SHARE
        if bound is Bound.LIKELY:
            return statistics.median(shares)
        return shares[int(LOW_QUANTILE * (len(shares) - 1))]


@dataclass(frozen=True, slots=True)
class SiteQueue:
    """A site's live state, as far as the start of a new job there depends on it.

    ``ahead``: the jobs ahead in the queue, in order (Kueue's visibility API, or the cache);
    ``ahead_count``: how many there are, when more than those described (the visibility API
    may name jobs of other namespaces the cache does not hold); ``free``: what is free now;
    ``default_walltime``: the site's limit, for jobs that set none; ``remote_delay``: the
    seconds an interLink site's own batch queue takes before a job runs, when known;
    ``source_note``: why the position was counted from the cache, if it was.
    """

    display_name: str
    ahead: tuple[Queued, ...] = ()
    running: tuple[Running, ...] = ()
    free: Demand = Demand()
    recent: Recent = Recent()
    default_walltime: float | None = None
    remote_delay: float | None = None
    ahead_count: int | None = None
    source: Source = Source.VISIBILITY
    source_note: str = ""

    @property
    def jobs_ahead(self) -> int:
        return max(len(self.ahead), self.ahead_count or 0)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A job's place at a site: ``position`` (1 for the next to start), ``ahead`` (jobs before
    it), the start as a range of epoch seconds (None when it cannot be told) with the likely
    time inside it, and ``basis``: one sentence on how it was computed."""

    position: int
    ahead: int
    earliest: float | None
    likely: float | None
    latest: float | None
    basis: str
    display_name: str = field(default="", compare=False)

    @property
    def known(self) -> bool:
        return self.earliest is not None and self.latest is not None

    def to_dict(self) -> QueueEstimate:
        """The ``queue`` object of ``POST /plan``, ``GET /jobs/{id}`` and ``GET /sites``."""
        start: EstimatedStart | None = None
        if self.earliest is not None and self.latest is not None:
            start = {"earliest": iso(self.earliest), "latest": iso(self.latest)}
        return {
            "position": self.position,
            "ahead": self.ahead,
            "estimated_start": start,
            "basis": self.basis,
        }

    def in_words(self, now: float) -> str:
        """E.g. ``3rd in CINECA Leonardo's queue; expected to start in 10 to 25 min``."""
        return in_words(
            position=self.position,
            display_name=self.display_name,
            earliest=self.earliest,
            latest=self.latest,
            now=now,
        )


def in_words(
    *, position: int, display_name: str, earliest: float | None, latest: float | None, now: float
) -> str:
    """A place in a site's queue and its start in a user's words (a waiting job's detail):
    ``3rd in CINECA Leonardo's queue; expected to start in 10 to 25 min``."""
    place = f"{ordinal(position)} in {possessive(display_name)} queue"
    return f"{place}; {start_in_words(earliest, latest, now=now)}"


def start_in_words(earliest: float | None, latest: float | None, *, now: float) -> str:
    """``expected to start in 10 to 25 min``, ``... within a minute``, or that it cannot be
    told."""
    if earliest is None or latest is None:
        return "no estimate of when it starts"
    if latest - now < 60:
        return "expected to start within a minute"
    return f"expected to start in {span(earliest - now, latest - now)}"


def view_start_in_words(queue: QueueEstimate, *, now: float) -> str:
    """:func:`start_in_words` for the JSON form (:meth:`Estimate.to_dict`) of an answer."""
    start = queue.get("estimated_start")
    if not start:
        return start_in_words(None, None, now=now)
    return start_in_words(parse_time(start["earliest"]), parse_time(start["latest"]), now=now)


def estimate_start(*, queue: SiteQueue, job: Queued, now: float) -> Estimate:
    """Where ``job`` would stand in the site's ``queue`` and when it would start.

    The queue is simulated three times (:class:`Bound`) against the running jobs' ends; a
    job that asks for more than the site ever frees, or jobs whose length nothing tells (no
    walltime, no site limit, no recent admissions), leave the start unknown.
    """
    ahead = queue.jobs_ahead
    position = ahead + 1
    where = f"{ordinal(position)} in {possessive(queue.display_name)} queue"
    if queue.source is Source.CACHE and queue.source_note:
        where += f" ({queue.source_note})"
    delay = queue.remote_delay or 0.0
    lengths_known = _lengths_known(queue, job)
    starts: dict[Bound, float | None] = {}
    for bound in Bound:
        starts[bound] = _simulate(queue, job, now=now, bound=bound) if lengths_known else None
    if starts[Bound.LATEST] is None and lengths_known:
        why = f"it asks for more than {queue.display_name} frees as its jobs end"
        return _unknown(queue, position=position, why=f"{where}; {why}")
    if not lengths_known:
        return _by_rate(queue, position=position, ahead=ahead, where=where, now=now)
    if queue.ahead and queue.ahead[0].demand.fits(queue.free):
        held = f"{where}; jobs ahead wait though {queue.display_name} has room"
        return _by_rate(queue, position=position, ahead=ahead, where=held, now=now)
    earliest, likely, latest = (
        (starts[b] or now) + delay for b in (Bound.EARLIEST, Bound.LIKELY, Bound.LATEST)
    )
    basis = f"{where}; {_how(queue, job, now=now, latest=latest)}"
    if delay >= 30:
        basis += f"; its own batch queue adds about {span(delay, delay)}"
    return Estimate(position, ahead, earliest, likely, latest, basis, queue.display_name)


def _unknown(queue: SiteQueue, *, position: int, why: str) -> Estimate:
    """A place in the queue without a start: ``why`` it cannot be told."""
    basis = f"{why}, so when it starts cannot be told"
    return Estimate(position, position - 1, None, None, None, basis, queue.display_name)


def _lengths_known(queue: SiteQueue, job: Queued) -> bool:
    """Whether every job the simulation waits on has a walltime (its own, or the site's)."""
    if queue.default_walltime:
        return True
    return all(q.walltime for q in queue.ahead) and all(r.walltime for r in queue.running)


def _simulate(queue: SiteQueue, job: Queued, *, now: float, bound: Bound) -> float | None:
    """The start of ``job`` behind the jobs ahead, each starting in order once what it asks
    for is free (never before the one ahead of it), with each job lasting ``bound``'s share
    of its walltime. None when it never fits."""
    share = queue.recent.share(bound)
    default = queue.default_walltime or 0.0
    free = queue.free
    ends: list[tuple[float, int, Demand]] = []
    for number, run in enumerate(queue.running):
        length = (run.walltime or default) * share
        ends.append((max(now, run.started + length), number, run.demand))
    heapq.heapify(ends)
    counter = len(ends)
    clock = now
    for waiting in (*queue.ahead, job):
        while not waiting.demand.fits(free):
            if not ends:
                return None
            end, _, held = heapq.heappop(ends)
            clock = max(clock, end)
            free = free.plus(held)
        free = free.minus(waiting.demand)
        counter += 1
        heapq.heappush(
            ends, (clock + (waiting.walltime or default) * share, counter, waiting.demand)
        )
    return clock


def _by_rate(queue: SiteQueue, *, position: int, ahead: int, where: str, now: float) -> Estimate:
    """The start from the recent admission rate alone (no walltimes to simulate with, or
    a queue held by something the free resources do not show: a quota, a stalled site): the
    jobs ahead admitted at that rate, between half and twice as fast."""
    recent = queue.recent
    if not recent.admitted:
        why = "no job admitted there lately"
        return _unknown(queue, position=position, why=f"{where}; {why}")
    per_job = recent.window / recent.admitted
    delay = queue.remote_delay or 0.0
    likely = now + ahead * per_job + delay
    return Estimate(
        position,
        ahead,
        now + ahead * per_job / 2 + delay,
        likely,
        now + ahead * per_job * 2 + delay,
        f"{where}; estimated from the {recent.admitted} jobs admitted there in the last "
        f"{span(recent.window, recent.window)}",
        queue.display_name,
    )


def _how(queue: SiteQueue, job: Queued, *, now: float, latest: float) -> str:
    """How the range was computed, in words: what ends soon, and what the bounds assume."""
    if not queue.ahead and not queue.jobs_ahead and job.demand.fits(queue.free):
        return "room for it now"
    default = queue.default_walltime or 0.0
    horizon = max(latest - now, 60.0)
    ending = sum(1 for r in queue.running if r.started + (r.walltime or default) <= now + horizon)
    parts = []
    if ending:
        jobs = "job ends" if ending == 1 else "jobs end"
        parts.append(
            f"{ending} running {jobs} within {span(horizon, horizon)} by their time limits"
        )
    seen = len(queue.recent.runtime_shares)
    if seen:
        typical = round(queue.recent.share(Bound.LIKELY) * 100)
        parts.append(f"recent jobs ran {typical}% of their time limit ({seen} seen)")
    else:
        parts.append("no recent job seen ending, so the earliest assumes jobs end at once")
    return "; ".join(parts)


def possessive(name: str) -> str:
    """``CINECA Leonardo's``, ``Local resources'``: English's possessive of a site's name."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``22nd``."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def span(low: float, high: float) -> str:
    """``10 to 25 min``, ``1 to 3 h``, ``40 min``: a range of seconds in round words."""
    low, high = max(low, 0.0), max(high, 0.0)
    if high < 5400:
        a, b, unit = round(low / 60), max(1, round(high / 60)), "min"
    elif high < 2 * 86400:
        a, b, unit = round(low / 3600), round(high / 3600), "h"
    else:
        a, b, unit = round(low / 86400), round(high / 86400), "days"
    return f"{b} {unit}" if a == b else f"{a} to {b} {unit}"


def iso(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC, to the second."""
    moment = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def runtime_shares(runtimes: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    """Runtime shares from (runtime, walltime) pairs of completed jobs, each within 0..1."""
    return tuple(min(1.0, max(0.0, r / w)) for r, w in runtimes if w > 0)
