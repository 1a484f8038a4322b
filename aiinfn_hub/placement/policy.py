"""The placement policy: the table from the talk, applied to sites and their health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigError, NoSiteError, RequestError
from .plan import Choice, Exclusion, Plan
from .requirements import JobRequest, Requirements, detect
from .sites import Site, SiteHealth, default_catalogue, index_sites

#: Rows of the table, keyed by (requires_gpu, offloadable).
ROWS = {
    "cpu": (False, False),
    "cpu-offloadable": (False, True),
    "gpu": (True, False),
    "gpu-offloadable": (True, True),
}
ROW_LABELS = {
    "cpu": "CPU jobs that must stay local",
    "cpu-offloadable": "CPU jobs that can be offloaded",
    "gpu": "GPU jobs that must stay local",
    "gpu-offloadable": "GPU jobs that can be offloaded",
}
#: The table from the source talk: first choice, then fallbacks.
DEFAULT_TABLE: dict[str, list[str]] = {
    "cpu": ["local"],
    "cpu-offloadable": ["tier1", "local"],
    "gpu": ["local"],
    "gpu-offloadable": ["leonardo", "local"],
}
_FIELD_LABELS = {
    "gpus": "the number of GPUs",
    "gpu_model": "the GPU model",
    "cpu": "the CPUs",
    "memory": "the memory",
    "walltime": "the walltime",
    "volumes": "the volumes",
    "needs_inbound_network": "inbound network access",
}


def row_key(requires_gpu: bool, offloadable: bool) -> str:
    """The table row for a pair of detected requirements."""
    return ("gpu" if requires_gpu else "cpu") + ("-offloadable" if offloadable else "")


class Placer:
    """Pure placement: sites and a table in, plans out. Thread-safe and side-effect free."""

    def __init__(
        self,
        sites: Sequence[Site] | None = None,
        table: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.sites = index_sites(default_catalogue() if sites is None else sites)
        if not self.sites:
            raise ConfigError("the site catalogue is empty; configure at least one site")
        table = dict(DEFAULT_TABLE if table is None else table)
        missing = set(ROWS) - set(table)
        unknown = set(table) - set(ROWS)
        if unknown:
            raise ConfigError(
                f"unknown placement table rows {sorted(unknown)}; rows are {sorted(ROWS)}"
            )
        if missing:
            raise ConfigError(f"the placement table lacks rows {sorted(missing)}")
        self.table: dict[str, tuple[Site, ...]] = {}
        for key, names in table.items():
            if isinstance(names, str) or not names:
                raise ConfigError(f"placement table row {key!r} must list one or more site names")
            if len(set(names)) != len(names):
                raise ConfigError(f"placement table row {key!r} names a site twice: {list(names)}")
            for name in names:
                if name not in self.sites:
                    raise ConfigError(
                        f"placement table row {key!r} names unknown site {name!r}; "
                        f"sites are {sorted(self.sites)}"
                    )
                if ROWS[key][1] is False and self.sites[name].is_offload:
                    raise ConfigError(
                        f"placement table row {key!r} is for jobs that cannot be offloaded, "
                        f"but names the remote site {name!r}"
                    )
            self.table[key] = tuple(self.sites[n] for n in names)
        self._site_list = tuple(self.sites.values())
        self.gpu_models = tuple(
            dict.fromkeys(m for s in self._site_list for m in s.capabilities.gpu_models)
        )

    def parse(self, data: Mapping[str, Any]) -> JobRequest:
        """Validate a request against this catalogue's GPU models."""
        return JobRequest.parse(data, self.gpu_models)

    def detect(self, request: JobRequest) -> Requirements:
        return detect(request, self._site_list)

    def plan(
        self,
        request: JobRequest,
        health: Mapping[str, SiteHealth] | None = None,
        exclude: Mapping[str, str] | None = None,
    ) -> Plan:
        """The ordered sites to try, with reasons; raises :class:`NoSiteError` if none can.

        ``health`` overrides the catalogue's health per site (live state from the cluster);
        ``exclude`` rules sites out with a reason (e.g. a site that already failed this job).
        """
        if request.gpu_model is not None and request.gpu_model not in self.gpu_models:
            raise RequestError(
                f"unknown GPU model {request.gpu_model!r}; known models: "
                + ", ".join(self.gpu_models),
                "gpu_model",
            )
        requirements = detect(request, self._site_list)
        key = row_key(requirements.requires_gpu, requirements.offloadable)
        row = self.table[key]
        choices: list[Choice] = []
        ruled_out: list[Exclusion] = []
        for site in row:
            problems = site.problems(request)
            if problems:
                ruled_out.append(
                    Exclusion(
                        site,
                        "cannot serve this job: " + "; ".join(p[1] for p in problems),
                        problems[0][0],
                    )
                )
                continue
            if exclude and site.name in exclude:
                ruled_out.append(Exclusion(site, exclude[site.name], "excluded"))
                continue
            state = health.get(site.name, site.health) if health else site.health
            if not state.usable:
                ruled_out.append(Exclusion(site, state.describe(), "health"))
                continue
            choices.append(Choice(site, self._reason(key, site, row, choices, ruled_out)))
        in_row = {site.name for site in row}
        for site in self._site_list:
            if site.name not in in_row:
                ruled_out.append(
                    Exclusion(site, _why_not_in_row(site, requirements, key), "policy")
                )
        if not choices:
            raise _no_site(request, row, ruled_out)
        return Plan(request, requirements, tuple(choices), tuple(ruled_out))

    @staticmethod
    def _reason(
        key: str,
        site: Site,
        row: tuple[Site, ...],
        choices: list[Choice],
        ruled_out: list[Exclusion],
    ) -> str:
        label = ROW_LABELS[key]
        if choices:
            return f"fallback if {choices[-1].site.display_name} cannot serve"
        if site is row[0]:
            detail = f" ({site.summary})" if site.summary else ""
            return f"first choice for {label}{detail}"
        skipped = ", ".join(e.site.display_name for e in ruled_out if e.site in row)
        return f"fallback for {label}, tried first because {skipped} is ruled out"


def _why_not_in_row(site: Site, requirements: Requirements, key: str) -> str:
    if site.is_offload and not requirements.offloadable:
        return requirements.offload_reason
    if requirements.requires_gpu and not site.capabilities.gpus:
        return "has no GPUs"
    if not requirements.requires_gpu and site.capabilities.gpus and site.is_offload:
        return "kept for GPU jobs by the placement policy"
    return f"the placement policy does not use it for {ROW_LABELS[key]}"


def _no_site(request: JobRequest, row: tuple[Site, ...], ruled_out: list[Exclusion]) -> NoSiteError:
    """The error for an empty plan, naming the requirement that nothing satisfies."""
    in_row = [e for e in ruled_out if e.site in row]
    details = "; ".join(f"{e.site.display_name}: {e.reason}" for e in in_row)
    fields = {e.field for e in in_row}
    if len(fields) == 1:
        field = fields.pop()
    else:
        field = next((e.field for e in in_row if e.field not in ("health", "excluded")), "health")
    if field == "health":
        message = f"no site can run this job now: {details}"
    elif field == "excluded":
        message = f"no site is left to try: {details}"
    else:
        message = f"no site can satisfy {_FIELD_LABELS.get(field, field)}: {details}"
    return NoSiteError(message, field, tuple(in_row))
