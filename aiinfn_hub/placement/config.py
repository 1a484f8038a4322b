"""Admin configuration of sites and the placement table, through traitlets.

In ``jupyterhub_config.py`` (or the ``hub.config`` section of the helm values)::

    c.PlacementConfig.site_overrides = {"leonardo": {"max_walltime": "12h"}}
    c.PlacementConfig.table = {"gpu-offloadable": ["leonardo", "local"], ...}
"""

from __future__ import annotations

from traitlets import Dict, List
from traitlets.config import Configurable

from .errors import ConfigError
from .policy import DEFAULT_TABLE, Placer
from .sites import Site, default_catalogue, site_from_dict


class PlacementConfig(Configurable):
    """Sites and the placement table; :meth:`placer` builds the engine from them."""

    sites = List(
        Dict(),
        help="""Site definitions replacing the built-in AI_INFN catalogue (leonardo, tier1, local).

        Each is a dict with name, display_name, kind ('local' or 'offload'), summary, cpu,
        memory (e.g. '480Gi'), max_walltime (e.g. '24h'), volume_types (pvc, configmap,
        secret, emptydir), inbound_network, gpus ([{model, per_node, nodes, product}]),
        wiring ({local_queue, node_selector, tolerations, annotations, nodes,
        gpu_selector_key}), health and timeouts ({admission, start} in seconds).
        Empty means the built-in catalogue.""",
    ).tag(config=True)

    extra_sites = List(
        Dict(),
        help="Sites added to the catalogue, in the same form as `sites`. "
        "Name them in `table` to use them.",
    ).tag(config=True)

    site_overrides = Dict(
        value_trait=Dict(),
        help="""Partial changes to sites by name, e.g.
        {'leonardo': {'max_walltime': '12h', 'timeouts': {'admission': 300}}}.""",
    ).tag(config=True)

    table = Dict(
        value_trait=List(),
        default_value=DEFAULT_TABLE,
        help="""The placement table: for each row, the sites to try in order.

        Rows: 'cpu' (no GPU, must stay local), 'cpu-offloadable', 'gpu' (GPU, must stay
        local), 'gpu-offloadable'. The default is the AI_INFN table: cpu -> [local],
        cpu-offloadable -> [tier1, local], gpu -> [local], gpu-offloadable ->
        [leonardo, local].""",
    ).tag(config=True)

    def catalogue(self) -> list[Site]:
        """The configured sites, overrides applied."""
        sites = [site_from_dict(s) for s in self.sites] if self.sites else list(default_catalogue())
        sites += [site_from_dict(s) for s in self.extra_sites]
        by_name = {site.name: site for site in sites}
        for name, override in self.site_overrides.items():
            if name not in by_name:
                raise ConfigError(
                    f"PlacementConfig.site_overrides names unknown site {name!r}; "
                    f"sites are {sorted(by_name)}"
                )
            by_name[name] = site_from_dict({**override, "name": name}, base=by_name[name])
        return [by_name[site.name] for site in sites]

    def placer(self) -> Placer:
        """The placement engine for this configuration; raises :class:`ConfigError`."""
        return Placer(self.catalogue(), self.table)
