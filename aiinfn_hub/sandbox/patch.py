"""The three patch formats of the Kubernetes API: JSON merge, strategic merge and JSON patch."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping
from typing import Any

import jsonpatch

from .errors import ApiError, bad_request
from .shapes import go_json_type

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)

# Lists that a strategic merge patch merges by a key, by field name; "" means a primitive
# list merged as a set. Lists not named here are replaced, as for fields without a strategy.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "podIPs": "ip",
    "hostIPs": "ip",
    "addresses": "type",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "finalizers": "",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge: like merge patch, but lists with a merge key merge item by item.

    Honours the directives ``$patch`` (replace, delete, merge), ``$retainKeys``,
    ``$setElementOrder/<list>`` and ``$deleteFromPrimitiveList/<list>``.
    """
    return _smp_map(target if isinstance(target, Mapping) else {}, patch, ())


def _smp_map(target: Mapping[str, Any], patch: Mapping[str, Any], path: tuple) -> dict:
    if not isinstance(patch, Mapping):
        raise bad_request("strategic merge patch: expected an object")
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    result = dict(target)
    orders: dict[str, list] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        directive_list = key.startswith(("$setElementOrder/", "$deleteFromPrimitiveList/"))
        if directive_list and not isinstance(value, list):
            raise bad_request(f"strategic merge patch: {key} must be a list, got {value!r}")
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                current = result.get(key)
                result[key] = _smp_map(
                    current if isinstance(current, Mapping) else {}, value, (*path, key)
                )
        elif isinstance(value, list):
            result[key] = _smp_list(result.get(key), value, key, path)
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, _merge_key(field, path))
    if "$retainKeys" in patch:
        if not isinstance(patch["$retainKeys"], list):
            raise bad_request("strategic merge patch: $retainKeys must be a list of field names")
        keep = {k for k in patch["$retainKeys"] if isinstance(k, str)}
        result = {k: v for k, v in result.items() if k in keep}
    return result


_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}


def _merge_key(field: str, path: tuple) -> str | None:
    """The merge key of list ``field`` in the map at ``path`` (container ports differ)."""
    if field == "ports":
        return "containerPort" if path and path[-1] in _CONTAINER_LISTS else "port"
    return _MERGE_KEYS.get(field)


def _smp_list(current: Any, patch: list, field: str, path: tuple) -> list:
    key = _merge_key(field, path)
    current = current if isinstance(current, list) else []
    if any(isinstance(i, Mapping) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, Mapping) and "$patch" in i)]
    if key is None:
        return copy.deepcopy(patch)
    if key == "":
        return list(current) + [v for v in patch if v not in current]
    result = [dict(i) if isinstance(i, Mapping) else i for i in current]
    for item in patch:
        if not isinstance(item, Mapping) or key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        index = next(
            (i for i, c in enumerate(result) if isinstance(c, Mapping) and c.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(_smp_map({}, item, (*path, field)))
        else:
            result[index] = _smp_map(result[index], item, (*path, field))
    return result


def _reorder(items: list, order: list, key: str | None) -> list:
    """``items`` in the order of ``order`` (by merge key, or by value for primitives)."""

    def identity(item: Any) -> Any:
        value = (item.get(key) if isinstance(item, Mapping) else None) if key else item
        return value if isinstance(value, Hashable) else None

    ranked = {identity(o): i for i, o in enumerate(order) if identity(o) is not None}
    return sorted(items, key=lambda item: ranked.get(identity(item), len(ranked)))


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902. The operations are decoded first, as the real server decodes them into its
    own operation type (400 naming what did not fit); one that cannot be applied (a failed
    ``test``, a missing path, an unknown op) is a 422 without details, as the real one says."""
    _check_operations(operations)
    try:
        return jsonpatch.JsonPatch(operations).apply(target)
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise ApiError(
            422, "Invalid", "the server rejected our request due to an error in our request", {}
        ) from exc


def _check_operations(operations: Any) -> None:
    def refuse(what: str) -> ApiError:
        return bad_request(f"error decoding patch: json: cannot unmarshal {what}")

    if not isinstance(operations, list):
        raise refuse(f"{go_json_type(operations)} into Go value of type []handlers.jsonPatchOp")
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise refuse(f"{go_json_type(operation)} into Go value of type handlers.jsonPatchOp")
        for field in ("op", "path", "from"):
            value = operation.get(field)
            if value is not None and not isinstance(value, str):
                raise refuse(
                    f"{go_json_type(value)} into Go struct field jsonPatchOp.{field} of type string"
                )


def apply_patch(content_type: str, target: Any, body: Any) -> Any:
    """Dispatch on the request's Content-Type (already checked against PATCH_TYPES)."""
    if content_type == JSON_PATCH:
        return json_patch(target, body)
    if not isinstance(body, Mapping):
        raise bad_request("patch body must be a JSON object")
    if content_type == STRATEGIC:
        return strategic_merge_patch(target, body)
    if content_type in (MERGE, APPLY):
        return merge_patch(target, body)
    raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")
