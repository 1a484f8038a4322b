"""The wait-aware policy (opt-in): skip a plan's first choice when a job would start there
much later than at the site the plan falls back to.

Pure: the caller estimates each site's start (:mod:`.estimate`) and says, per site, the
margin in seconds by which the first choice's start must be later than the fallback's for
the first choice to be skipped (0: never skipped, the default, so the table decides alone).
The result is the sites to rule out and why, in the form :meth:`.policy.Placer.plan` takes as
``exclude``: planning again with it puts the skipped site among the sites ruled out, with the
sentence, and starts the plan at the fallback. A skipped site is not tried later by that job:
it is ruled out of its plan, as a degraded site is.
"""

from __future__ import annotations

from collections.abc import Mapping

from .estimate import Estimate, span
from .plan import Plan
from .sites import SiteHealth

#: A start sooner than this many seconds from now reads "free now".
NOW = 60.0


def wait_candidates(plan: Plan, margins: Mapping[str, float]) -> tuple[str, ...]:
    """The sites whose estimates :func:`wait_skip` needs for ``plan``: its first choice and
    the next site, when the first choice has a margin (the policy is on there) and the plan
    has a site after it; else none, so nothing is read when the policy is off."""
    if len(plan.sites) < 2 or margins.get(plan.first.name, 0) <= 0:
        return ()
    return (plan.sites[0].site.name, plan.sites[1].site.name)


def wait_skip(
    plan: Plan,
    estimates: Mapping[str, Estimate],
    *,
    margins: Mapping[str, float],
    health: Mapping[str, SiteHealth],
    now: float,
) -> dict[str, str]:
    """The first choice to skip, ``{site name: reason}``, or nothing.

    The first choice is skipped when a job would start there more than its margin
    (``margins``, seconds; 0 or missing: never) later than at the plan's next site, and that
    site is one the plan uses anyway: in the plan and usable now (``health``, else the
    catalogue's; not down, not degraded). Only the first choice is weighed, against the next
    site only.

    Like is compared with like: the **likely** start at both sites, the same simulation of
    each queue with jobs lasting the typical share of their walltime (:mod:`.estimate`). The
    earliest would assume, where no job was seen ending, that every job ends at once, so a
    long queue would never be skipped; the latest assumes every job runs its full walltime,
    so a busy site would be skipped too eagerly. An estimate that is unknown at either site
    (no estimate, or none that can be told) never skips a site.
    """
    names = wait_candidates(plan, margins)
    if not names:
        return {}
    first, following = (plan.sites[0].site, plan.sites[1].site)
    if not health.get(following.name, following.health).usable:
        return {}
    there, instead = estimates.get(first.name), estimates.get(following.name)
    if there is None or instead is None or there.likely is None or instead.likely is None:
        return {}
    if there.likely - instead.likely <= margins[first.name]:
        return {}
    reason = (
        f"skipped: expected start in {_in(there.likely, now)}, "
        f"{following.display_name} {_free_or_in(instead.likely, now)}"
    )
    return {first.name: reason}


def _in(start: float, now: float) -> str:
    """``2 h``, ``40 min``: how long from now, in round words."""
    return span(start - now, start - now)


def _free_or_in(start: float, now: float) -> str:
    """``free now``, or ``in 10 min``."""
    return "free now" if start - now < NOW else f"in {_in(start, now)}"
