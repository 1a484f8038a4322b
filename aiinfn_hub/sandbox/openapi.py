"""A minimal OpenAPI v3 for kubectl: the paths of each resource and the query parameters the
server accepts, so that ``kubectl apply`` uses server-side field validation. No schemas."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .registry import SERVER_VERSION, Registry, ResourceType

_PARAMS = ("fieldValidation", "fieldManager", "dryRun")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _item_path(rt: ResourceType, version: str) -> str:
    base = "/" + _gv_path(rt.group, version)
    if rt.namespaced:
        base += "/namespaces/{namespace}"
    return f"{base}/{rt.plural}/{{name}}"


def group_version_doc(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    paths: dict[str, Any] = {}
    for rt in registry:
        if rt.group != group or version not in rt.versions:
            continue
        gvk = {"group": group, "version": version, "kind": rt.kind}
        params = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _PARAMS]
        operation = {
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch",
            "parameters": params,
            "responses": {"200": {"description": "OK"}},
        }
        paths[_item_path(rt, version)] = {
            "patch": operation,
            "put": dict(operation, **{"x-kubernetes-action": "put"}),
        }
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {
            "title": "Kubernetes (aiinfn-hub sandbox)",
            "version": SERVER_VERSION["gitVersion"],
        },
        "paths": paths,
        "components": {"schemas": {}},
    }


def root_doc(registry: Registry) -> dict[str, Any]:
    paths = {}
    versions = [("", "v1")] + [(g, v) for g, vs in registry.groups.items() for v in vs]
    for group, version in versions:
        doc = group_version_doc(registry, group, version)
        digest = hashlib.sha1(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16].upper()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
