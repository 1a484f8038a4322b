"""How close the estimated start at a site comes to the actual start (issue 16, section 1).

A seeded synthetic workload (arrivals, GPUs asked, walltimes, runtimes below the walltimes)
is replayed through a small discrete-event simulation of three sites with different
capacities, each admitting its queue in order as Kueue does. At each arrival the estimator
(:func:`aiinfn_hub.placement.estimate.estimate_start`) is asked where the job stands and when
it will start, from what a live service would see then: the jobs ahead, the running jobs and
their walltimes, what is free, and the runtimes of the jobs completed in the last hours. Its
likely start is compared with the actual one, beside a naive baseline: the jobs ahead times
the mean runtime seen.
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections import deque
from dataclasses import dataclass, field

from aiinfn_hub.placement.estimate import (
    Demand,
    Estimate,
    Queued,
    Recent,
    Running,
    SiteQueue,
    estimate_start,
)

SEED = 16
JOBS = 3000
#: GPUs at each site.
SITES = {"Local resources": 4, "CINECA Leonardo": 16, "CNAF Tier-1": 8}
WALLTIMES = (1800.0, 3600.0, 2 * 3600.0, 4 * 3600.0)
GPUS = (1, 1, 1, 2, 4)
#: How long the service remembers completed jobs (Recent.window).
WINDOW = 6 * 3600.0
#: Load: the mean GPU-seconds arriving per second, as a share of all GPUs.
LOAD = 0.8


@dataclass
class Job:
    number: int
    site: str
    arrival: float
    gpus: int
    walltime: float
    runtime: float
    start: float | None = None
    estimate: Estimate | None = None
    baseline: float | None = None


@dataclass
class Site:
    name: str
    gpus: int
    queue: deque[Job] = field(default_factory=deque)
    running: list[Job] = field(default_factory=list)
    done: deque[tuple[float, Job]] = field(default_factory=deque)  # (end, job)

    @property
    def free(self) -> int:
        return self.gpus - sum(j.gpus for j in self.running)

    def admit(self, now: float, ends: list[tuple[float, int, str]]) -> None:
        """Start the jobs at the head of the queue while they fit (in order: no passing)."""
        while self.queue and self.queue[0].gpus <= self.free:
            job = self.queue.popleft()
            job.start = now
            self.running.append(job)
            heapq.heappush(ends, (now + job.runtime, job.number, self.name))

    def seen(self, now: float) -> SiteQueue:
        """The site as a live service sees it at ``now``."""
        while self.done and self.done[0][0] < now - WINDOW:
            self.done.popleft()
        shares = tuple(j.runtime / j.walltime for _, j in self.done)
        return SiteQueue(
            display_name=self.name,
            ahead=tuple(Queued(Demand(gpus=j.gpus), j.walltime) for j in self.queue),
            running=tuple(
                Running(Demand(gpus=j.gpus), j.start or 0, j.walltime) for j in self.running
            ),
            free=Demand(gpus=self.free),
            recent=Recent(window=WINDOW, completed=len(shares), runtime_shares=shares),
        )

    def mean_runtime(self) -> float | None:
        runtimes = [j.runtime for _, j in self.done]
        return statistics.fmean(runtimes) if runtimes else None


def workload(seed: int) -> list[Job]:
    """The seeded arrivals: a site, GPUs, a walltime and a runtime below it for each job."""
    rng = random.Random(seed)
    names = list(SITES)
    weights = [SITES[n] for n in names]  # each site loaded alike
    mean_gpu_seconds = statistics.fmean(GPUS) * statistics.fmean(WALLTIMES) * 2 / 3
    gap = mean_gpu_seconds / (LOAD * sum(SITES.values()))
    jobs, clock = [], 0.0
    for number in range(JOBS):
        clock += rng.expovariate(1 / gap)
        site = rng.choices(names, weights)[0]
        walltime = rng.choice(WALLTIMES)
        share = rng.betavariate(4, 2)  # mean 2/3 of the walltime, never above it
        gpus = min(rng.choice(GPUS), SITES[site])
        jobs.append(Job(number, site, clock, gpus, walltime, walltime * share))
    return jobs


def replay(seed: int = SEED) -> list[Job]:
    """Run the workload through the sites; each job gets its estimate at arrival and its
    actual start."""
    jobs = workload(seed)
    sites = {name: Site(name, gpus) for name, gpus in SITES.items()}
    ends: list[tuple[float, int, str]] = []
    by_number = {j.number: j for j in jobs}
    for job in jobs:
        while ends and ends[0][0] <= job.arrival:
            end, number, name = heapq.heappop(ends)
            site = sites[name]
            ended = by_number[number]
            site.running.remove(ended)
            site.done.append((end, ended))
            site.admit(end, ends)
        site = sites[job.site]
        state = site.seen(job.arrival)
        job.estimate = estimate_start(
            queue=state, job=Queued(Demand(gpus=job.gpus), job.walltime), now=job.arrival
        )
        mean = site.mean_runtime()
        if mean is not None:
            job.baseline = job.arrival + state.jobs_ahead * mean
        site.queue.append(job)
        site.admit(job.arrival, ends)
    while ends:
        end, number, name = heapq.heappop(ends)
        site = sites[name]
        site.running.remove(by_number[number])
        site.admit(end, ends)
    return jobs


def figures(jobs: list[Job]) -> dict[str, float]:
    """Median absolute error as a share of the actual wait (jobs that waited at least a
    minute), for the estimator and the baseline, and the share of starts inside the range."""
    waited = [j for j in jobs if j.start is not None and j.start - j.arrival >= 60]
    errors, naive, inside = [], [], 0
    for job in waited:
        assert job.start is not None and job.estimate is not None
        wait = job.start - job.arrival
        est = job.estimate
        if est.likely is not None:
            errors.append(abs(est.likely - job.start) / wait)
        if est.earliest is not None and est.latest is not None:
            inside += est.earliest - 1 <= job.start <= est.latest + 1
        if job.baseline is not None:
            naive.append(abs(job.baseline - job.start) / wait)
    return {
        "waited": len(waited),
        "error": statistics.median(errors),
        "baseline": statistics.median(naive),
        "inside": inside / len(waited),
    }


def run() -> list[dict]:
    found = figures(replay())
    return [
        {
            "name": "estimated start: median error, share of the wait",
            "value": found["error"] * 100,
            "unit": "%",
            "target": 25,
            "higher_is_better": False,
            "baseline": found["baseline"] * 100,
            "note": f"{found['waited']:.0f} jobs that waited, of {JOBS} over "
            f"{len(SITES)} sites ({', '.join(f'{n}: {g} GPUs' for n, g in SITES.items())}); "
            "baseline: jobs ahead x mean runtime seen (ratio: target <= 0.5)",
        },
        {
            "name": "actual starts inside the estimated range",
            "value": found["inside"] * 100,
            "unit": "%",
        },
    ]


if __name__ == "__main__":
    from benchmarks.__main__ import report

    report(__name__, run())
