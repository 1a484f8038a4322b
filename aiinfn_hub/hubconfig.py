"""The JupyterHub configuration of a hub on the sandbox (demo and tests).

It starts from the ``hub.config`` sections of ``helm-values/values.yaml``, the configuration a
real cluster gets, and changes only what the sandbox needs: where the Kubernetes API is,
loopback addresses, the demo authenticator and the jobs service as a local managed service.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "helm-values" / "values.yaml"
#: configurable-http-proxy as `make` installs it (tools/chp); else the one on PATH.
CHP = ROOT / "tools" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE = "aiinfn-jobs"


def values_hub_config(path: Path = VALUES) -> dict[str, Any]:
    """The ``hub.config`` sections and the roles of the helm values (empty if not shipped)."""
    if not path.exists():
        return {}
    values = yaml.safe_load(path.read_text())
    hub = values.get("hub") or {}
    return {"config": hub.get("config") or {}, "roles": hub.get("loadRoles") or {}}


def hub_config(
    *,
    kubeconfig: str,
    state_dir: Path,
    port: int = 8000,
    hub_port: int = 8081,
    jobs_port: int = 10101,
    users: tuple[str, ...] = ("alice", "bob", "carol"),
    admins: tuple[str, ...] = ("admin",),
    password: str = "demo",
    interactive_offload: bool = False,
    site_start_timeouts: dict[str, int] | None = None,
    namespace: str = "default",
) -> dict[str, dict[str, Any]]:
    """Config sections (``{"JupyterHub": {...}, ...}``) for a hub on the sandbox."""
    from_values = values_hub_config()
    sections: dict[str, dict[str, Any]] = {
        name: dict(body) for name, body in from_values.get("config", {}).items()
    }
    placement = sections.get("PlacementConfig", {})
    jobs_url = f"http://127.0.0.1:{jobs_port}/services/{SERVICE}/"
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    roles = [
        {"name": name, **{k: v for k, v in role.items()}}
        for name, role in from_values.get("roles", {}).items()
    ]
    jobs_config = state_dir / "jobs_config.json"
    import json

    jobs_config.write_text(
        json.dumps({"JobsManager": {"namespace": namespace}, "PlacementConfig": placement})
    )
    sections.setdefault("JupyterHub", {}).update(
        {
            "bind_url": f"http://127.0.0.1:{port}",
            "hub_bind_url": f"http://127.0.0.1:{hub_port}",
            "authenticator_class": "dummy",
            "db_url": f"sqlite:///{state_dir / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(state_dir / "cookie_secret"),
            "pid_file": str(state_dir / "jupyterhub.pid"),
            "cleanup_servers": True,
            "load_roles": roles,
            "services": [
                {
                    "name": SERVICE,
                    "url": f"http://127.0.0.1:{jobs_port}",
                    "command": [
                        sys.executable,
                        "-m",
                        "aiinfn_hub.jobs",
                        "--port",
                        str(jobs_port),
                        "--ip",
                        "127.0.0.1",
                        "--kubeconfig",
                        kubeconfig,
                        "--config",
                        str(jobs_config),
                    ],
                    "oauth_no_confirm": True,
                    "display": True,
                }
            ],
        }
    )
    sections.setdefault("ConfigurableHTTPProxy", {}).update(
        {
            "api_url": f"http://127.0.0.1:{hub_port + 1}",
            "should_start": True,
            "command": [str(CHP) if CHP.exists() else "configurable-http-proxy"],
        }
    )
    sections.setdefault("Authenticator", {}).update(
        {"allowed_users": set(users), "admin_users": set(admins)}
    )
    sections.setdefault("DummyAuthenticator", {})["password"] = password
    spawner = sections.setdefault("KubeSpawner", {})
    spawner.update(
        {
            "namespace": namespace,
            "image": "aiinfn-hub/singleuser:sandbox",
            "cmd": ["jupyterhub-singleuser"],
            "args": ["--ServerApp.allow_root=True"] if as_root else [],
            "start_timeout": 120,
            "http_timeout": 60,
            "storage_pvc_ensure": True,
            "storage_capacity": "1Gi",
            "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}],
            "volume_mounts": [{"name": "home", "mountPath": "/home/jovyan"}],
            "notebook_dir": "/home/jovyan",
            "environment": {"AIINFN_INSTALL_EXAMPLES": "1"},
        }
    )
    aiinfn = sections.setdefault("AIInfnSpawner", {})
    aiinfn.update(
        {
            "jobs_service_url": jobs_url,
            "interactive_offload": interactive_offload,
        }
    )
    if site_start_timeouts:
        aiinfn["site_start_timeouts"] = site_start_timeouts
    sections["PlacementConfig"] = placement
    return sections


def write_config(sections: dict[str, dict[str, Any]], path: Path) -> Path:
    """A ``jupyterhub_config.py`` that sets ``sections``."""
    lines = ["# generated by aiinfn_hub.hubconfig", "c = get_config()  # noqa: F821"]
    for section, body in sections.items():
        for key, value in body.items():
            lines.append(f"c.{section}.{key} = {value!r}")
    path.write_text("\n".join(lines) + "\n")
    return path
