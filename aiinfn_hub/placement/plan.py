"""The result of placement: the sites to try in order and the sites ruled out, with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .requirements import JobRequest, Requirements
from .sites import Site


@dataclass(frozen=True, slots=True)
class Choice:
    """A site to try, and why it is in the plan at this position."""

    site: Site
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.site.name, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A site left out of the plan, and why."""

    site: Site
    reason: str
    field: str = ""

    def to_dict(self) -> dict[str, Any]:
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

    def after(self, name: str) -> tuple[Choice, ...]:
        """The fallbacks left once ``name`` has been tried."""
        names = self.site_names
        return self.sites[names.index(name) + 1 :] if name in names else ()

    def to_dict(self) -> dict[str, Any]:
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
