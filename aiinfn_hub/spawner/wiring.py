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

import yaml
from traitlets.utils.importstring import import_item

from ..kube.claimnaming import SPAWNER_ENV, naming_in_config

SERVICE = "aiinfn-jobs"


def spawner_class(config: Mapping[str, Any]) -> type[Any]:
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


def share_claim_naming(
    config: MutableMapping[str, Any], service: str = SERVICE, service_config: str | None = None
) -> None:
    """Hand the spawner's claim naming to the jobs ``service``; run it after the spawner's
    settings and ``JupyterHub.services`` are configured.

    A managed service (one the hub starts: its entry has a ``command``) gets it in its
    environment. A service that runs on its own (a container of the hub pod) reads it from
    the spawner's sections of its config file ``service_config``; there, the hub refuses to
    start, in one line, if that file would name claims otherwise than the spawner does (the
    spawner's naming set elsewhere, e.g. the chart's
    ``singleuser.storage.dynamic.pvcNameTemplate``)."""
    naming = claim_naming(config)
    services = (config.get("JupyterHub") or {}).get("services") or []
    entries = [s for s in services if s.get("name") == service]
    if not entries:
        raise ValueError(f"no service named {service!r} in JupyterHub.services")
    for entry in entries:
        if entry.get("command"):
            environment = entry.setdefault("environment", {})
            environment.update({SPAWNER_ENV[name]: value for name, value in naming.items()})
        elif service_config is not None:
            check_service_config(naming, service_config)


def check_service_config(naming: Mapping[str, str], path: str) -> None:
    """ValueError, one line, if the service's config file at ``path`` names home claims
    otherwise than the spawner (``naming``)."""
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    theirs = {
        **{k: str(t.default()) for k, t in _naming_traits().items()},
        **naming_in_config(data),
    }
    theirs.update({k: str(v) for k, v in (data.get("HomeClaim") or {}).items() if k in naming})
    for name, value in naming.items():
        if theirs.get(name) != value:
            raise ValueError(
                f"the spawner names home claims with {name} {value!r} but the jobs service's "
                f"config ({path}) says {theirs.get(name)!r}: set KubeSpawner.{name} in "
                "hub.config (whose KubeSpawner section the service's config carries), not "
                "elsewhere, so both read the same value"
            )


def _naming_traits() -> dict[str, Any]:
    from kubespawner import KubeSpawner

    traits = KubeSpawner.class_traits()
    return {name: traits[name] for name in SPAWNER_ENV}
