"""Writing and reading the sandbox's kubeconfig (an http:// server and a bearer token)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

CONTEXT = "aiinfn-sandbox"


def write_kubeconfig(
    path: str | Path, url: str, token: str | None, namespace: str = "default"
) -> Path:
    """Write a kubeconfig for ``url`` (mode 0600, it holds the token); returns the path."""
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    user: dict = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    tmp.replace(path)
    return path


def read_kubeconfig(path: str | Path) -> tuple[str, str | None]:
    """(server URL, token) of the current context; ValueError if the file is not usable."""
    try:
        data = yaml.safe_load(Path(path).expanduser().read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read kubeconfig {path}: {exc}") from exc
    try:
        current = data["current-context"]
        context = next(c["context"] for c in data["contexts"] if c["name"] == current)
        cluster = next(c["cluster"] for c in data["clusters"] if c["name"] == context["cluster"])
        user: dict[str, Any] = next(
            (u["user"] for u in data.get("users") or [] if u["name"] == context.get("user")), {}
        )
    except (KeyError, TypeError, StopIteration) as exc:
        raise ValueError(f"kubeconfig {path} has no usable current context") from exc
    return cluster["server"].rstrip("/"), (user or {}).get("token")
