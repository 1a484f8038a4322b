"""The JupyterHub configuration of a hub on the sandbox (demo, tests, benchmarks).

It is the configuration a real cluster gets from ``helm-values/values.yaml`` (the ``hub.config``
sections, the jobs service from ``hub.services`` and its container in ``hub.extraContainers``
(here a managed service), its config file from ``hub.extraFiles``, the
roles from ``hub.loadRoles``, the ``singleuser`` keys of :data:`SINGLEUSER_TRAITS` as the chart
maps them, the ``hub.extraConfig`` snippets run last), with only what the sandbox needs
changed: the keys listed in :data:`SANDBOX_KEYS` (loopback addresses, files in a state
directory, the host's Python standing in for images, an authenticator for named demo users).
Scenario knobs the caller chooses (interactive offloading, per-site start timeouts) are listed
in :data:`SCENARIO_KEYS`. ``tests/helm`` checks that nothing else differs from the values.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "helm-values" / "values.yaml"
#: configurable-http-proxy as `make` installs it (npm ci in tools/chp).
CHP = ROOT / "tools" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE = "aiinfn-jobs"
DEMO_USERS = ("alice", "bob", "carol")
DEMO_PASSWORD = "aiinfn-demo"
DEMO_ADMIN = "admin"
DEMO_ADMIN_PASSWORD = "aiinfn-demo-admin-password-change-me"
#: What the sandbox runs for every image: this venv's Python.
SANDBOX_IMAGE = "aiinfn-hub/singleuser:sandbox"
#: JupyterLab settings overrides for user servers (the demo's and Binder's): no news question.
LAB_OVERRIDES = Path(__file__).with_name("lab_overrides.json")

#: Keys of the values' config sections that the sandbox replaces, and why.
SANDBOX_KEYS: dict[str, set[str]] = {
    # loopback addresses and ports, files in the state directory, the demo authenticator
    "JupyterHub": {
        "bind_url",
        "hub_bind_url",
        "authenticator_class",
        "db_url",
        "cookie_secret_file",
        "pid_file",
        "cleanup_servers",
        "load_roles",
        "services",
        "tornado_settings",
    },
    # the host's Python stands in for images; the sandbox's namespace; a home claim per user,
    # named as the chart's default storage names it
    "KubeSpawner": {
        "namespace",
        "image",
        "cmd",
        "args",
        "start_timeout",
        "http_timeout",
        "storage_pvc_ensure",
        "storage_capacity",
        "volumes",
        "volume_mounts",
        "notebook_dir",
    },
    # the jobs service's loopback address; timeouts that fit the sandbox's start_timeout
    "AIInfnSpawner": {"jobs_service_url", "session_start_timeouts"},
}
#: ``singleuser`` values the chart passes to KubeSpawner traits (its jupyterhub_config.py sets
#: each that is not null, before ``hub.config``, whose KubeSpawner section therefore wins).
SINGLEUSER_TRAITS: dict[str, str] = {"lifecycleHooks": "lifecycle_hooks"}
#: Keys the caller sets for a scenario (e.g. a test of interactive offloading).
SCENARIO_KEYS: dict[str, set[str]] = {
    "AIInfnSpawner": {
        "interactive_offload",
        "offload_annotations",
        "session_start_timeouts",
        "copy_back_max_bytes",
        "copy_back_timeout",
        "copy_back_lead_seconds",
        "poll_interval",
    },
}


def load_values(path: Path = VALUES) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream) or {}


@dataclass
class SandboxHub:
    """Where and how a hub on the sandbox runs."""

    kubeconfig: Path
    state_dir: Path
    ip: str = "127.0.0.1"  # where the proxy listens (0.0.0.0: every interface)
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    jobs_port: int = 10101
    namespace: str = "default"
    users: tuple[str, ...] = DEMO_USERS
    admins: tuple[str, ...] = (DEMO_ADMIN,)
    password: str = DEMO_PASSWORD
    admin_password: str = DEMO_ADMIN_PASSWORD
    #: a token for a service with admin scopes (tests and benchmarks drive the REST API)
    api_token: str | None = None
    start_timeout: int = 180
    slow_spawn_timeout: float | None = None
    spawner: dict[str, Any] = field(default_factory=dict)  # scenario keys (SCENARIO_KEYS)

    @property
    def url(self) -> str:
        """Where to open the hub (on this machine)."""
        host = "127.0.0.1" if self.ip in ("0.0.0.0", "") else self.ip
        return f"http://{host}:{self.port}"

    @property
    def jobs_url(self) -> str:
        return f"http://127.0.0.1:{self.jobs_port}/services/{SERVICE}/"


def hub_config(hub: SandboxHub, values: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Config sections (``{"JupyterHub": {...}, ...}``) for ``hub``, from the helm values."""
    values = load_values() if values is None else values
    unknown = {k for k in hub.spawner if k not in SCENARIO_KEYS["AIInfnSpawner"]}
    if unknown:
        raise ValueError(f"not scenario keys of AIInfnSpawner: {sorted(unknown)}")
    hub_values = values.get("hub") or {}
    sections: dict[str, dict[str, Any]] = copy.deepcopy(hub_values.get("config") or {})
    singleuser = values.get("singleuser") or {}
    kube = sections.setdefault("KubeSpawner", {})
    for key, trait in SINGLEUSER_TRAITS.items():
        if singleuser.get(key) is not None:
            kube.setdefault(trait, copy.deepcopy(singleuser[key]))
    placement = sections.get("PlacementConfig", {})
    root = os.geteuid() == 0 if hasattr(os, "geteuid") else False

    sections.setdefault("JupyterHub", {}).update(
        {
            "bind_url": f"http://{hub.ip}:{hub.port}",
            "hub_bind_url": f"http://127.0.0.1:{hub.hub_port}",
            "authenticator_class": "shared-password",
            "db_url": f"sqlite:///{hub.state_dir / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(hub.state_dir / "jupyterhub_cookie_secret"),
            "pid_file": str(hub.state_dir / "jupyterhub.pid"),
            "cleanup_servers": True,
            "load_roles": _roles(hub_values, hub),
            "services": _services(hub_values, hub, placement),
        }
    )
    if hub.slow_spawn_timeout is not None:
        # how long a spawn request waits before answering 202 and leaving the rest to the
        # progress API (a tornado setting of the hub, not a config trait)
        sections["JupyterHub"].setdefault("tornado_settings", {})["slow_spawn_timeout"] = (
            hub.slow_spawn_timeout
        )
    sections["ConfigurableHTTPProxy"] = {
        "api_url": f"http://127.0.0.1:{hub.proxy_api_port}",
        "should_start": True,
        "command": [str(CHP)],
        "pid_file": str(hub.state_dir / "jupyterhub-proxy.pid"),
    }
    sections["Authenticator"] = {
        "allowed_users": set(hub.users),
        "admin_users": set(hub.admins),
    }
    sections["SharedPasswordAuthenticator"] = {
        "user_password": hub.password,
        "admin_password": hub.admin_password,
    }
    kube.update(
        {
            "namespace": hub.namespace,
            # no images in the sandbox: pods run this venv's jupyterhub-singleuser
            "image": SANDBOX_IMAGE,
            "cmd": ["jupyterhub-singleuser"],
            "args": [
                *(["--ServerApp.allow_root=True"] if root else []),
                f"--LabApp.app_settings_dir={_lab_settings(hub)}",
            ],
            "start_timeout": hub.start_timeout,
            "http_timeout": 90,
            # z2jh's singleuser.storage (type dynamic): a home claim per user
            "storage_pvc_ensure": True,
            "storage_capacity": "1Gi",
            "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}],
            "volume_mounts": [{"name": "home", "mountPath": "/home/jovyan"}],
            "notebook_dir": "/home/jovyan",
        }
    )
    aiinfn = sections.setdefault("AIInfnSpawner", {})
    aiinfn["jobs_service_url"] = hub.jobs_url
    # the sandbox's sites start servers in seconds; keep the fallback within start_timeout
    aiinfn["session_start_timeouts"] = {
        name: min(float(seconds), hub.start_timeout / 3)
        for name, seconds in (aiinfn.get("session_start_timeouts") or {}).items()
    }
    aiinfn.update(copy.deepcopy(hub.spawner))
    return sections


def _lab_settings(hub: SandboxHub) -> Path:
    """JupyterLab's application settings for the sandbox's user servers: the overrides an
    image's ``share/jupyter/lab/settings`` carries on a cluster (no news question)."""
    folder = hub.state_dir / "lab-settings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_bytes(LAB_OVERRIDES.read_bytes())
    return folder


def _roles(hub_values: dict[str, Any], hub: SandboxHub) -> list[dict[str, Any]]:
    roles = [{"name": name, **copy.deepcopy(role)} for name, role in _load_roles(hub_values)]
    if hub.api_token:
        roles.append(
            {
                "name": "sandbox-admin",
                "description": "Tests and benchmarks drive the hub's REST API",
                "scopes": [
                    *("admin:users", "admin:servers", "admin:server_state", "tokens"),
                    *("list:users", "read:users", "read:metrics"),
                ],
                "services": ["sandbox-admin"],
            }
        )
    return roles


def _load_roles(hub_values: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list((hub_values.get("loadRoles") or {}).items())


def _services(
    hub_values: dict[str, Any], hub: SandboxHub, placement: dict[str, Any]
) -> list[dict[str, Any]]:
    """The services of the values, each run from this venv against the sandbox as a managed
    service: on a cluster the service runs in its own container of the hub pod
    (``hub.extraContainers``, with the same name); here no pod runs it, so the hub starts its
    command and gives it what the container's environment gives it there (token, URLs)."""
    services = []
    files = hub_values.get("extraFiles") or {}
    containers = {c["name"]: c for c in hub_values.get("extraContainers") or ()}
    for name, service in (hub_values.get("services") or {}).items():
        service = copy.deepcopy(service)
        container = containers[name]
        command = list(container["command"])
        if command[0] in ("python", "python3"):
            command[0] = sys.executable
        _set_option(command, "--port", str(hub.jobs_port))
        _set_option(command, "--ip", "127.0.0.1")
        config_path = _option(command, "--config")
        if config_path is not None:
            data = next(
                copy.deepcopy(f["data"]) for f in files.values() if f["mountPath"] == config_path
            )
            data.setdefault("JobsManager", {})["namespace"] = hub.namespace
            data["PlacementConfig"] = copy.deepcopy(placement)
            if "KubeSpawner" in data:  # the images jobs may use: the sandbox's stands in
                data["KubeSpawner"]["image"] = SANDBOX_IMAGE
            local = hub.state_dir / f"{name}_config.json"
            local.write_text(json.dumps(data, indent=2), encoding="utf-8")
            _set_option(command, "--config", str(local))
        command += ["--kubeconfig", str(hub.kubeconfig)]
        environment = {
            e["name"]: e["value"]
            for e in container.get("env") or ()
            if "value" in e and not e["name"].startswith("JUPYTERHUB_")  # the hub sets these
        }
        services.append(
            {
                **service,
                "name": name,
                "url": f"http://127.0.0.1:{hub.jobs_port}",
                "command": command,
                "environment": environment,
            }
        )
    if hub.api_token:
        services.append({"name": "sandbox-admin", "api_token": hub.api_token})
    return services


def _option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def _set_option(command: list[str], name: str, value: str) -> None:
    if name in command:
        command[command.index(name) + 1] = value
    else:
        command += [name, value]


def extra_config(values: dict[str, Any] | None = None) -> list[str]:
    """The values' ``hub.extraConfig`` snippets in the order the chart runs them (by key)."""
    values = load_values() if values is None else values
    snippets = (values.get("hub") or {}).get("extraConfig") or {}
    return [snippets[key] for key in sorted(snippets)]


def write_config(
    sections: dict[str, dict[str, Any]], path: Path, extra: list[str] | None = None
) -> Path:
    """A ``jupyterhub_config.py`` that sets ``sections``, then runs the ``extra`` snippets
    (:func:`extra_config`), last, as the chart's jupyterhub_config.py does."""
    lines = ["# generated by aiinfn_hub.hubconfig", "c = get_config()  # noqa: F821"]
    for section, body in sections.items():
        for key, value in body.items():
            lines.append(f"c.{section}.{key} = {value!r}")
    for snippet in extra or ():
        lines.append(f"exec({snippet!r})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
