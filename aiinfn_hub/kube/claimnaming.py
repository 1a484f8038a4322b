"""How KubeSpawner names and marks users' home claims: what the spawner's wiring and the jobs
service must agree on, shared here so that neither imports the other.

The hub hands the spawner's configured ``pvc_name_template`` and ``slug_scheme`` to the jobs
service in the environment variables of :data:`SPAWNER_ENV` (``aiinfn_hub.spawner.wiring``);
the service reads them back (``aiinfn_hub.jobs.claims``), or finds them in the spawner's
sections of its own configuration (:func:`naming_in_config`). KubeSpawner labels each claim it
makes with :data:`STORAGE_COMPONENT` and annotates it with the raw user and server names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The KubeSpawner traits that name a user's claim, and the service environment variables in
#: which the hub hands their configured values to the jobs service.
SPAWNER_ENV = {
    "pvc_name_template": "AIINFN_SPAWNER_PVC_NAME_TEMPLATE",
    "slug_scheme": "AIINFN_SPAWNER_SLUG_SCHEME",
}
#: The spawner's config sections the service's own configuration may carry (the helm values
#: alias the hub's into it), most derived first.
SPAWNER_SECTIONS = ("AIInfnSpawner", "KubeSpawner")
#: Labels and annotations KubeSpawner puts on the claims it creates.
STORAGE_COMPONENT = "singleuser-storage"
STORAGE_SELECTOR = f"component={STORAGE_COMPONENT}"
USERNAME_ANNOTATION = "hub.jupyter.org/username"
SERVERNAME_ANNOTATION = "hub.jupyter.org/servername"


def naming_in_config(config: Mapping[str, Any]) -> dict[str, str]:
    """The claim naming the spawner's sections of ``config`` set (the most derived wins)."""
    found = {}
    for name in SPAWNER_ENV:
        for section in SPAWNER_SECTIONS:
            value = (config.get(section) or {}).get(name)
            if value is not None:
                found[name] = str(value)
                break
    return found
