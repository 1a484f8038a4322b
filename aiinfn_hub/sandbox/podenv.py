"""A container's environment and command line, as the kubelet would compute them.

The host stands in for every image: PATH starts with the running interpreter's bin directory,
HOME is a directory of the pod's own, and a few host variables (locale, time zone,
PYTHONPATH, VIRTUAL_ENV) pass through. ``$(VAR)`` references expand as Kubernetes expands them.
"""

from __future__ import annotations

import base64
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .objects import Obj

PASS_THROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

Lookup = Callable[[str, str], Obj | None]  # (kind "configmaps"/"secrets", name) -> object


class EnvError(Exception):
    """A reference that cannot be resolved (CreateContainerConfigError)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """``$(VAR)`` from ``env``, ``$$`` for a literal ``$``, unknown references left as they are."""

    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REF.sub(sub, text)


def field_ref(pod: Obj, path: str) -> str:
    """The downward API's fieldRef values."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    values = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    return str(values.get(path) or "")


def _data(obj: Obj | None, secret: bool) -> dict[str, str]:
    if obj is None:
        return {}
    if secret:
        return {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (obj.get("data") or {}).items()
        }
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


def _key_ref(ref: Obj, kind: str, lookup: Lookup) -> str | None:
    obj = lookup(kind, ref.get("name", ""))
    data = _data(obj, kind == "secrets")
    if ref.get("key") in data:
        return data[ref["key"]]
    if ref.get("optional"):
        return None
    what = "secret" if kind == "secrets" else "configmap"
    if obj is None:
        raise EnvError(f'{what} "{ref.get("name")}" not found')
    raise EnvError(f"couldn't find key {ref.get('key')} in {what.title()} {ref.get('name')}")


def container_env(
    pod: Obj, container: Obj, lookup: Lookup, home: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    """The process environment of one container."""
    env: dict[str, str] = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"
    env["HOME"] = str(home)
    env["HOSTNAME"] = pod["metadata"]["name"]
    env.update(extra)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, field in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = source.get(field)
            if ref is None:
                continue
            obj = lookup(kind, ref.get("name", ""))
            if obj is None and not ref.get("optional"):
                raise EnvError(f'{kind[:-1]} "{ref.get("name")}" not found')
            env.update({prefix + k: v for k, v in _data(obj, kind == "secrets").items()})
    for var in container.get("env") or []:
        name = var.get("name")
        if not name:
            continue
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        source = var["valueFrom"] or {}
        value: str | None
        if "fieldRef" in source:
            value = field_ref(pod, source["fieldRef"].get("fieldPath", ""))
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], "configmaps", lookup)
        elif "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], "secrets", lookup)
        elif "resourceFieldRef" in source:
            value = _resource_field(container, source["resourceFieldRef"])
        else:
            value = ""
        if value is not None:
            env[name] = value
    return env


def _resource_field(container: Obj, ref: Obj) -> str:
    part, _, name = str(ref.get("resource", "")).partition(".")
    value = ((container.get("resources") or {}).get(part) or {}).get(name)
    return str(value) if value is not None else "0"


def rewrite_service_url(env: dict[str, str], pod_ip: str) -> None:
    """``JUPYTERHUB_SERVICE_URL`` on 0.0.0.0 binds the pod's own address instead, so that many
    single-user servers can listen on port 8888 at once."""
    url = env.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        return
    parts = urlsplit(url)
    if parts.hostname == "0.0.0.0":
        netloc = pod_ip + (f":{parts.port}" if parts.port else "")
        env["JUPYTERHUB_SERVICE_URL"] = urlunsplit(parts._replace(netloc=netloc))


def command_line(container: Obj, env: Mapping[str, str]) -> list[str]:
    """``command`` + ``args`` with references expanded; without an image entrypoint to fall
    back on, ``args`` alone is the command."""
    argv: list[Any] = list(container.get("command") or []) + list(container.get("args") or [])
    return [expand(str(a), env) for a in argv]
