"""The placement engine: sites, requirement detection, the table, fallback plans.

Pure policy: no I/O and no Kubernetes imports, so it is fast and easy to test.
"""

from .config import PlacementConfig
from .errors import ConfigError, NoSiteError, PlacementError, RequestError
from .membership import belongs_to, site_nodes
from .plan import Choice, Exclusion, NextSite, Plan, next_site, stored_order
from .policy import DEFAULT_TABLE, ROWS, Placer, row_key
from .requirements import JobRequest, Requirements, VolumeNeed, detect
from .sites import (
    Capabilities,
    GpuPool,
    Site,
    SiteHealth,
    SiteKind,
    Timeouts,
    Wiring,
    default_catalogue,
    site_from_dict,
)

__all__ = [
    "DEFAULT_TABLE",
    "ROWS",
    "Capabilities",
    "Choice",
    "ConfigError",
    "Exclusion",
    "GpuPool",
    "JobRequest",
    "NextSite",
    "NoSiteError",
    "PlacementConfig",
    "PlacementError",
    "Placer",
    "Plan",
    "RequestError",
    "Requirements",
    "Site",
    "SiteHealth",
    "SiteKind",
    "Timeouts",
    "VolumeNeed",
    "Wiring",
    "belongs_to",
    "default_catalogue",
    "detect",
    "next_site",
    "row_key",
    "site_from_dict",
    "site_nodes",
    "stored_order",
]
