"""The result of placement: the sites to try in order and the sites ruled out, with reasons;
and the one fallback order, :func:`next_site`, which the jobs controller and the spawner's
Automatic profile both ask which site comes next and why."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..apitypes import PlanView, SiteReason
from .requirements import JobRequest, Requirements
from .sites import Site, SiteHealth


@dataclass(frozen=True, slots=True)
class Choice:
    """A site to try, and why it is in the plan at this position."""

    site: Site
    reason: str

    def to_dict(self) -> SiteReason:
        return {"name": self.site.name, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class NextSite:
    """The site to try next, why, and whether it is the last one left to try."""

    site: Site
    reason: str
    last: bool


def next_site(
    order: Sequence[Choice],
    tried: Collection[str],
    health: Mapping[str, SiteHealth],
) -> NextSite | None:
    """The site to try after those ``tried``, in the plan's ``order``; None when every one
    has been tried.

    The first site left whose health (``health``, else the catalogue's) is usable, for the
    plan's reason (with the sites passed over and why). If no site left is usable, the last
    one: waiting for a site to come back beats failing the job. ``last`` says that no other
    site is left after it, so it is not left for a fallback whatever happens.
    """
    left = [choice for choice in order if choice.site.name not in tried]
    if not left:
        return None
    last = len(left) == 1
    passed: list[str] = []
    for choice in left:
        state = health.get(choice.site.name, choice.site.health)
        if state.usable:
            if not passed:
                return NextSite(choice.site, choice.reason, last)
            return NextSite(choice.site, f"{choice.reason}; " + "; ".join(passed), last)
        passed.append(f"{choice.site.display_name} is {state.describe()}")
    site = left[-1].site
    waits = f"no site left is usable now ({'; '.join(passed)}): it waits at {site.display_name}"
    return NextSite(site, waits, last)


def stored_order(data: Mapping[str, Any], sites: Mapping[str, Site]) -> tuple[Choice, ...]:
    """The order of a plan kept in its JSON form (:meth:`Plan.to_dict`), without the sites
    no longer configured."""
    return tuple(
        Choice(sites[entry["name"]], entry.get("reason", ""))
        for entry in data.get("sites", ())
        if entry["name"] in sites
    )


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A site left out of the plan, and why."""

    site: Site
    reason: str
    field: str = ""

    def to_dict(self) -> SiteReason:
        return {"name": self.site.name, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a job runs: ``sites[0]`` first, then each fallback in order."""

    request: JobRequest
    requirements: Requirements
    sites: tuple[Choice, ...]
    ruled_out: tuple[Exclusion, ...]

    @property
    def first(self) -> Site:
        return self.sites[0].site

    @property
    def site_names(self) -> tuple[str, ...]:
        return tuple(choice.site.name for choice in self.sites)

    def next_site(
        self, tried: Collection[str], health: Mapping[str, SiteHealth]
    ) -> NextSite | None:
        """The site to try after those ``tried``, and why (:func:`next_site`)."""
        return next_site(self.sites, tried, health)

    def to_dict(self) -> PlanView:
        """The JSON form ``aiinfn-hub plan --json`` prints and the jobs API returns."""
        return {
            "requires_gpu": self.requirements.requires_gpu,
            "offloadable": self.requirements.offloadable,
            "reasons": {
                "requires_gpu": self.requirements.gpu_reason,
                "offloadable": self.requirements.offload_reason,
            },
            "sites": [choice.to_dict() for choice in self.sites],
            "ruled_out": [exclusion.to_dict() for exclusion in self.ruled_out],
        }

    def explain(self) -> str:
        """A few lines for people: what was detected, the sites in order, and those ruled out."""
        lines = [
            f"  {self.requirements.gpu_reason}",
            f"  {self.requirements.offload_reason}",
        ]
        for number, choice in enumerate(self.sites, 1):
            lines.append(
                f"  {number}. {choice.site.display_name} [{choice.site.name}]: {choice.reason}"
            )
        for exclusion in self.ruled_out:
            lines.append(
                f"  x  {exclusion.site.display_name} [{exclusion.site.name}]: {exclusion.reason}"
            )
        return "\n".join(lines)
