"""What a real API server's decoding makes of a request body before anything else reads it.

- The type of a created or replaced object: a built-in type's decoder fills a missing
  ``apiVersion`` or ``kind`` in from the URL but refuses a body that names another version or
  kind; a custom resource is decoded as unstructured JSON, so it must name its kind, and its
  ``apiVersion`` must be exactly the URL's group and version (400 BadRequest both, in the real
  server's words); a different kind is a 422 Invalid, unless a mutating webhook (Kueue has
  them for ResourceFlavors, ClusterQueues and Workloads) re-encodes the object as its kind.
- A patch whose result no longer decodes into the built-in type (``labels: "x"``): a 422
  Invalid on the field ``patch``, quoting the patched object (merge and JSON patch) or the
  patch itself in Go's notation (strategic merge patch), as the real server's patch handler
  answers. A custom resource's is checked against its schema by :func:`shapes.check_shape`.
"""

from __future__ import annotations

import json
from typing import Any

from . import errors
from .patch import STRATEGIC
from .registry import Registry, ResourceType
from .shapes import (
    BOOL,
    INT,
    OBJ,
    QUANTITY,
    QUANTITY_ERROR,
    STR,
    Mismatch,
    check_shape,
    decode_error,
    find_mismatch,
    go_json_type,
    json_kind,
)

_TYPE_META = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)
_SUMMARY_LENGTH = 30
_GO_TYPES = {STR: "string", INT: "int32", BOOL: "bool"}


def check_type_meta(
    registry: Registry, rt: ResourceType, version: str, body: Any, raw: bytes
) -> None:
    """Raise the real server's 400 when the body cannot be an object of ``rt`` at ``version``
    (``raw`` is the body as sent, which some of its messages quote)."""
    if not isinstance(body, dict):
        raise _unrecognized(
            rt,
            f"couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{go_json_type(body)} into Go value of type {_TYPE_META}",
            raw,
        )
    for field in ("apiVersion", "kind"):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            raise _unrecognized(
                rt,
                f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{go_json_type(value)} into Go struct field .{field} of type string",
                raw,
            )
    expected = rt.api_version(version)
    api_version, kind = body.get("apiVersion") or "", body.get("kind") or ""
    if not rt.builtin:
        if not kind:
            text = raw.decode(errors="replace")
            raise _unrecognized(rt, f"Object 'Kind' is missing in '{text}'", raw)
        if api_version != expected:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({expected})"
            )
        if kind != rt.kind and not rt.mutating_webhook:  # the custom resource's validation
            meta = body.get("metadata")
            if not isinstance(meta, dict):
                meta = {}
            name = meta.get("name") or meta.get("generateName") or ""
            message = f'Invalid value: "{kind}": must be {rt.kind}'
            raise errors.invalid(kind, rt.group, name, [("kind", "FieldValueInvalid", message)])
        return
    api_version, kind = api_version or expected, kind or rt.kind
    if (api_version, kind) == (expected, rt.kind):
        return
    kind_version = api_version.rpartition("/")[2]
    other = registry.by_kind(api_version, kind)
    if other is not None and other.builtin and kind_version in other.versions:
        internal = (rt.group.split(".")[0] or "core") + "." + rt.kind
        why = f"converting ({kind_version}.{kind}) to ({internal}): unknown conversion"
    else:
        why = (
            f'no kind "{kind}" is registered for version "{api_version}" in scheme '
            '"pkg/runtime/scheme.go:111"'
        )
    raise errors.bad_request(
        f'{kind} in version "{kind_version}" cannot be handled as a {rt.kind}: {why}'
    )


def _unrecognized(rt: ResourceType, why: str, raw: bytes) -> errors.ApiError:
    return errors.bad_request(
        f"the object provided is unrecognized (must be of type {rt.kind}): {why} ({_summary(raw)})"
    )


def _summary(raw: bytes) -> str:
    """The start of the body as the real server quotes it: as text when it is a JSON object,
    else in hexadecimal."""
    if not raw:
        return "<empty>"
    head = raw[:_SUMMARY_LENGTH]
    more = " ..." if len(raw) > _SUMMARY_LENGTH else ""
    if raw.startswith(b"{"):
        return head.decode(errors="replace") + more
    return head.hex() + more


def check_patched_shape(rt: ResourceType, content_type: str, patch: Any, patched: Any) -> None:
    """Raise the real server's answer when a patch leaves a field of the wrong JSON type."""
    wrong = find_mismatch(rt, patched) if rt.builtin else None
    if wrong is None:
        check_shape(rt, patched)  # a custom resource: its schema's 422 naming the field
        return
    if content_type == STRATEGIC:
        quoted, why = go_format(patch), _conversion_error(wrong)
    else:
        quoted = json.dumps(patched, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        why = decode_error(rt, wrong)
    message = f"Invalid value: {json.dumps(quoted, ensure_ascii=False)}: {why}"
    raise errors.invalid("", "", "", [("patch", "FieldValueInvalid", message)])


def _conversion_error(wrong: Mismatch) -> str:
    """What apimachinery's converter from a patched map to the typed object says."""
    _path, expected, value = wrong
    source = _go_kind(value)
    if expected == QUANTITY:
        return QUANTITY_ERROR
    if isinstance(expected, tuple):
        return f"cannot restore map from {source}"
    if isinstance(expected, list):
        return f"cannot restore slice from {source}"
    if isinstance(expected, dict) or expected == OBJ:
        return f"cannot restore struct from: {source}"
    target = _GO_TYPES.get(expected, "string")
    numbers = source in ("int64", "float64") and target != "bool"
    convertible = numbers and not (source == "float64" and target == "string")
    return f"cannot convert {source} to {target}" if convertible else f"unrecognized type: {target}"


_GO_KINDS = {"integer": "int64", "float": "float64", "array": "slice", "object": "map"}


def _go_kind(value: Any) -> str:
    """A decoded JSON value's Go kind, as apimachinery's converter names it."""
    kind = json_kind(value)
    return _GO_KINDS.get(kind, kind)


def go_format(value: Any) -> str:
    """A decoded JSON value as Go's ``%+v`` prints it (maps with sorted keys)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
