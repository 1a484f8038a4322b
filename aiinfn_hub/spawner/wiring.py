"""What the hub's configuration hands to the jobs service from the spawner's own settings.

The jobs service mounts a user's home claim under the name the spawner gives it, so the
spawner's ``pvc_name_template`` and ``slug_scheme`` are the one source of truth. They may be
set anywhere the hub's configuration sets them (the chart maps
``singleuser.storage.dynamic.pvcNameTemplate`` onto ``KubeSpawner.pvc_name_template``;
``hub.config`` sets either class's section); :func:`share_claim_naming`, run at the end of the
hub's configuration (``hub.extraConfig`` in helm-values/values.yaml, and the sandbox hub's
generated config), reads the values the spawner will use and puts them in the service's
environment, where :class:`aiinfn_hub.jobs.claims.HomeClaim` takes them as its defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from importlib.metadata import entry_points
from typing import Any

from traitlets.utils.importstring import import_item

from ..jobs.claims import SPAWNER_ENV

SERVICE = "aiinfn-jobs"


def spawner_class(config: Mapping[str, Any]) -> type:
    """The hub's spawner class: ``JupyterHub.spawner_class`` (a class, a dotted name or an
    entry point of ``jupyterhub.spawners``), AIInfnSpawner if unset."""
    chosen = (config.get("JupyterHub") or {}).get("spawner_class")
    if chosen is None:
        from .spawner import AIInfnSpawner

        return AIInfnSpawner
    if isinstance(chosen, type):
        return chosen
    if "." in chosen:
        return import_item(chosen)
    (found,) = entry_points(group="jupyterhub.spawners", name=chosen)
    return found.load()


def claim_naming(config: Mapping[str, Any]) -> dict[str, str]:
    """The spawner's ``pvc_name_template`` and ``slug_scheme`` as the spawner will read them:
    the most derived class's section that sets one wins, else the trait's default."""
    cls = spawner_class(config)
    traits = cls.class_traits()
    found = {}
    for name in SPAWNER_ENV:
        sections = [config.get(c.__name__) or {} for c in cls.__mro__]
        value = next((s[name] for s in sections if name in s), traits[name].default())
        found[name] = str(value)
    return found


def share_claim_naming(config: MutableMapping[str, Any], service: str = SERVICE) -> None:
    """Put the spawner's claim naming in the environment of the managed ``service``; run it
    after the spawner's settings and ``JupyterHub.services`` are configured."""
    naming = claim_naming(config)
    services = (config.get("JupyterHub") or {}).get("services") or []
    entries = [s for s in services if s.get("name") == service]
    if not entries:
        raise ValueError(f"no managed service named {service!r} in JupyterHub.services")
    for entry in entries:
        environment = entry.setdefault("environment", {})
        environment.update({SPAWNER_ENV[name]: value for name, value in naming.items()})
