"""Which signals move a job on to the next site: defaults for every site, changes per site.

The waiting times live with each site (``PlacementConfig`` ``timeouts``: ``admission`` and
``start``); everything else is configured here, for instance::

    c.FallbackPolicy.infrastructure_exit_codes = [404, 502]
    c.FallbackPolicy.sites = {
        "tier1": {"infrastructure_exit_codes": [404, 502, 137]},
        "leonardo": {"eviction_reasons": ["PodsReadyTimeout", "NodeFailures"]},
    }
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from traitlets import Bool, Dict, Integer, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..placement import ConfigError, Site
from .podfindings import DISRUPTIONS

#: Kueue reasons for QuotaReserved=False that waiting cannot clear, in the detailed words (a
#: default install's Pending or Inadmissible is read from its message: jobs/kueuewords.py).
INADMISSIBLE_REASONS = ("NoMatchingFlavor", "ExceedsMaxQuota", "Misconfigured", "Inadmissible")
#: Kueue's reasons for Evicted=True (``Deactivated`` also names ``DeactivatedDueTo<cause>``).
EVICTION_REASONS = (
    "Preempted",
    "PodsReadyTimeout",
    "AdmissionCheck",
    "ClusterQueueStopped",
    "LocalQueueStopped",
    "NodeFailures",
    "Deactivated",
)
#: Why Kubernetes itself stopped a pod (its DisruptionTarget condition): the node lost,
#: removed, short of resources or drained, or a pod of higher priority preempting it.
DISRUPTION_REASONS = tuple(DISRUPTIONS)
#: Exit codes the HTCondor plugin uses when the site lost a job (404) or its output (502).
INFRASTRUCTURE_EXIT_CODES = (404, 502)
_SITE_KEYS = {
    "inadmissible_reasons",
    "eviction_reasons",
    "provider_failed",
    "infrastructure_exit_codes",
    "disruption_reasons",
    "site_unhealthy",
    "start_timeout",
}


def site_changes(
    owner: str, sites: dict[str, dict[str, Any]], known: set[str]
) -> dict[str, dict[str, Any]]:
    """``sites`` (an option's changes per site), if each names only ``known`` keys; else a
    TraitError naming the option (``owner``), the site and the keys."""
    for name, changes in sites.items():
        unknown = set(changes) - known
        if unknown:
            raise TraitError(
                f"{owner}.sites[{name!r}]: unknown keys {sorted(unknown)}; "
                f"known keys: {sorted(known)}"
            )
    return sites


def known_sites(owner: str, changes: Mapping[str, Any], sites: Iterable[str]) -> None:
    """A ConfigError naming the option (``owner``) if its changes per site (``changes``) name a
    site that is not configured (a typo would otherwise change nothing, silently)."""
    names = set(sites)
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(f"{owner}.sites names unknown sites {unknown}; sites are {sorted(names)}")


def whole_numbers(
    owner: str, sites: dict[str, dict[str, Any]], units: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """``sites`` (an option's changes per site, as :func:`site_changes` returns them), if
    every value is a whole number, 0 or more; else a TraitError naming the option
    (``owner``), the site, the key and what it counts (``units``, by key)."""
    for name, changes in sites.items():
        for key, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TraitError(
                    f"{owner}.sites[{name!r}][{key!r}] must be a whole number of "
                    f"{units[key]}, got {value!r}"
                )
    return sites


@dataclass(frozen=True)
class Triggers:
    """The fallback triggers of one site. A timeout of ``None`` never fires."""

    admission_timeout: float | None = 600
    start_timeout: float | None = 1800
    inadmissible_reasons: frozenset[str] = frozenset(INADMISSIBLE_REASONS)
    eviction_reasons: frozenset[str] = frozenset(EVICTION_REASONS)
    provider_failed: bool = True
    infrastructure_exit_codes: frozenset[int] = frozenset(INFRASTRUCTURE_EXIT_CODES)
    disruption_reasons: frozenset[str] = frozenset(DISRUPTION_REASONS)
    site_unhealthy: bool = True


class FallbackPolicy(Configurable):
    """The fallback triggers: defaults for every site, and ``sites`` for changes per site."""

    inadmissible_reasons = List(
        Unicode(),
        default_value=list(INADMISSIBLE_REASONS),
        help="Kueue reasons for QuotaReserved=False that cannot clear by waiting: a job whose "
        "Workload reports one moves to the next site at once. Kueue's detailed reasons (its "
        "UnadmittedWorkloadsObservability gate); without the gate Kueue writes Pending or "
        "Inadmissible and the service reads the detailed reason from the message.",
    ).tag(config=True)
    eviction_reasons = List(
        Unicode(),
        default_value=list(EVICTION_REASONS),
        help="Kueue eviction reasons (Evicted=True) that move a job to the next site. For "
        "other reasons the job stays and Kueue requeues it at the same site. Deactivated "
        "also matches Kueue's DeactivatedDueTo<cause>; a deactivation ends the attempt even "
        "on the last site.",
    ).tag(config=True)
    provider_failed = Bool(
        True,
        help="Fall back when interLink reports the remote submission failed (pod Failed with "
        "reason ProviderFailed).",
    ).tag(config=True)
    infrastructure_exit_codes = List(
        Integer(),
        default_value=list(INFRASTRUCTURE_EXIT_CODES),
        help="Exit codes that mean the site, not the user's code, lost the job (HTCondor "
        "plugin: 404 job lost, 502 output lost): the job falls back instead of failing.",
    ).tag(config=True)
    disruption_reasons = List(
        Unicode(),
        default_value=list(DISRUPTION_REASONS),
        help="Reasons of a pod's DisruptionTarget condition (Kubernetes, not the user's code, "
        "stopped it: its node lost, removed, short of resources or drained, or a pod of "
        "higher priority preempting it) that move the job on to the next site. A job "
        "stopped for a reason not listed fails, blamed on the site, not on the user's code.",
    ).tag(config=True)
    site_unhealthy = Bool(
        True,
        help="Fall back when the site's nodes turn NotReady, InterlinkConnectivity False or "
        "get a maintenance taint while the job waits there (not once it runs).",
    ).tag(config=True)
    local_start_timeout = Bool(
        False,
        help="Apply the start timeout to local sites too. By default only offloading sites "
        "have one: there it measures the wait in the remote batch queue.",
    ).tag(config=True)
    sites = Dict(
        value_trait=Dict(),
        help="Changes per site, by site name: any of inadmissible_reasons, eviction_reasons, "
        "provider_failed, infrastructure_exit_codes, site_unhealthy, and start_timeout "
        "(true/false: whether the site's start timeout applies). The waiting times "
        "themselves are the site's timeouts in PlacementConfig.",
    ).tag(config=True)

    @validate("sites")
    def _check_sites(self, proposal: Any) -> dict[str, dict[str, Any]]:
        return site_changes("FallbackPolicy", proposal["value"], _SITE_KEYS)

    def triggers(self, sites: Mapping[str, Site]) -> dict[str, Triggers]:
        """The triggers in force at each of ``sites``; ConfigError if ``sites`` (the option)
        names a site that is not configured."""
        known_sites("FallbackPolicy", self.sites, sites)
        return {name: self.for_site(site) for name, site in sites.items()}

    def for_site(self, site: Site) -> Triggers:
        """The triggers in force at ``site``."""
        changes: Mapping[str, Any] = self.sites.get(site.name, {})

        def pick(key: str) -> Any:
            return changes.get(key, getattr(self, key))

        start = changes.get("start_timeout", site.is_offload or self.local_start_timeout)
        return Triggers(
            admission_timeout=site.timeouts.admission,
            start_timeout=site.timeouts.start if start else None,
            inadmissible_reasons=frozenset(pick("inadmissible_reasons")),
            eviction_reasons=frozenset(pick("eviction_reasons")),
            provider_failed=bool(pick("provider_failed")),
            infrastructure_exit_codes=frozenset(int(c) for c in pick("infrastructure_exit_codes")),
            disruption_reasons=frozenset(pick("disruption_reasons")),
            site_unhealthy=bool(pick("site_unhealthy")),
        )
