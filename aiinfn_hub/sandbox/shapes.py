"""The JSON types of the fields the sandbox reads, checked as the API server decodes a body.

A real API server decodes a built-in object into typed Go structs, so a field of the wrong
JSON type (``containers: "abc"``, a label value that is a number) is a 400 BadRequest before
anything else looks at it; a custom resource is checked against its CRD's schema, a 422
Invalid naming the field. The sandbox's controllers read these fields, so one malformed
object stored would break them for every other object; they are checked here first. Only
fields the sandbox uses are described; others pass unchecked (a real server drops unknown
fields of built-in types and keeps those of custom resources).
"""

from __future__ import annotations

import re
from typing import Any

from ..kube.quantity import parse_quantity
from . import errors
from .registry import ResourceType

# A shape: one of the names below, ("map", shape) for an object of shaped values, [shape] for
# a list, a dict of field -> shape for an object with those fields (others unchecked).
STR, INT, BOOL, OBJ = "string", "integer", "boolean", "object"
QUANTITY = "quantity"  # a string or a number, as resource.Quantity decodes
INT_OR_STR = "int-or-string"

Shape = Any


def _map(shape: Shape) -> tuple[str, Shape]:
    return ("map", shape)


CONDITION = {"type": STR, "status": STR, "reason": STR, "message": STR}
OWNER_REFERENCE = {
    "apiVersion": STR,
    "kind": STR,
    "name": STR,
    "uid": STR,
    "controller": BOOL,
    "blockOwnerDeletion": BOOL,
}
METADATA = {
    "name": STR,
    "generateName": STR,
    "namespace": STR,
    "resourceVersion": STR,
    "uid": STR,
    "labels": _map(STR),
    "annotations": _map(STR),
    "ownerReferences": [OWNER_REFERENCE],
    "finalizers": [STR],
}
SELECTOR_REQUIREMENT = {"key": STR, "operator": STR, "values": [STR]}
LABEL_SELECTOR = {"matchLabels": _map(STR), "matchExpressions": [SELECTOR_REQUIREMENT]}
NODE_SELECTOR_TERM = {
    "matchExpressions": [SELECTOR_REQUIREMENT],
    "matchFields": [SELECTOR_REQUIREMENT],
}
TOLERATION = {"key": STR, "operator": STR, "value": STR, "effect": STR, "tolerationSeconds": INT}
TAINT = {"key": STR, "value": STR, "effect": STR}
KEY_REF = {"name": STR, "key": STR, "optional": BOOL}
ENV_VAR = {
    "name": STR,
    "value": STR,
    "valueFrom": {
        "fieldRef": {"fieldPath": STR, "apiVersion": STR},
        "resourceFieldRef": {"resource": STR, "containerName": STR, "divisor": QUANTITY},
        "configMapKeyRef": KEY_REF,
        "secretKeyRef": KEY_REF,
    },
}
ENV_FROM = {
    "prefix": STR,
    "configMapRef": {"name": STR, "optional": BOOL},
    "secretRef": {"name": STR, "optional": BOOL},
}
HANDLER = {"exec": {"command": [STR]}}
CONTAINER = {
    "name": STR,
    "image": STR,
    "command": [STR],
    "args": [STR],
    "workingDir": STR,
    "env": [ENV_VAR],
    "envFrom": [ENV_FROM],
    "ports": [{"name": STR, "containerPort": INT, "protocol": STR}],
    "resources": {"requests": _map(QUANTITY), "limits": _map(QUANTITY)},
    "volumeMounts": [{"name": STR, "mountPath": STR, "subPath": STR, "readOnly": BOOL}],
    "lifecycle": {"postStart": HANDLER, "preStop": HANDLER},
    "securityContext": OBJ,
}
KEY_TO_PATH = [{"key": STR, "path": STR, "mode": INT}]
VOLUME = {
    "name": STR,
    "configMap": {"name": STR, "items": KEY_TO_PATH, "defaultMode": INT, "optional": BOOL},
    "secret": {"secretName": STR, "items": KEY_TO_PATH, "defaultMode": INT, "optional": BOOL},
    "persistentVolumeClaim": {"claimName": STR, "readOnly": BOOL},
    "emptyDir": OBJ,
}
POD_SPEC = {
    "containers": [CONTAINER],
    "initContainers": [CONTAINER],
    "volumes": [VOLUME],
    "restartPolicy": STR,
    "terminationGracePeriodSeconds": INT,
    "activeDeadlineSeconds": INT,
    "nodeName": STR,
    "nodeSelector": _map(STR),
    "schedulerName": STR,
    "serviceAccountName": STR,
    "hostname": STR,
    "subdomain": STR,
    "tolerations": [TOLERATION],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [NODE_SELECTOR_TERM]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": INT, "preference": NODE_SELECTOR_TERM}
            ],
        }
    },
    "securityContext": OBJ,
}
POD_TEMPLATE = {"metadata": METADATA, "spec": POD_SPEC}
POD = {
    "spec": POD_SPEC,
    "status": {"phase": STR, "reason": STR, "message": STR, "conditions": [CONDITION]},
}
JOB = {
    "spec": {
        "parallelism": INT,
        "completions": INT,
        "backoffLimit": INT,
        "activeDeadlineSeconds": INT,
        "ttlSecondsAfterFinished": INT,
        "suspend": BOOL,
        "completionMode": STR,
        "selector": LABEL_SELECTOR,
        "template": POD_TEMPLATE,
    },
    "status": {"conditions": [CONDITION]},
}
NODE = {
    "spec": {"unschedulable": BOOL, "taints": [TAINT]},
    "status": {
        "capacity": _map(QUANTITY),
        "allocatable": _map(QUANTITY),
        "conditions": [CONDITION],
    },
}
SERVICE = {
    "spec": {
        "type": STR,
        "clusterIP": STR,
        "selector": _map(STR),
        "ports": [{"name": STR, "port": INT, "targetPort": INT_OR_STR, "protocol": STR}],
    }
}
EVENT = {
    "involvedObject": {"kind": STR, "name": STR, "namespace": STR, "uid": STR},
    "reason": STR,
    "message": STR,
    "type": STR,
    "count": INT,
}
RESOURCE_FLAVOR = {
    "spec": {"nodeLabels": _map(STR), "nodeTaints": [TAINT], "tolerations": [TOLERATION]}
}
QUOTA = {"name": STR, "nominalQuota": QUANTITY, "borrowingLimit": QUANTITY}
FLAVOR_QUOTAS = {"name": STR, "resources": [dict(QUOTA, lendingLimit=QUANTITY)]}
CLUSTER_QUEUE = {
    "spec": {
        "cohort": STR,
        "cohortName": STR,
        "namespaceSelector": LABEL_SELECTOR,
        "resourceGroups": [{"coveredResources": [STR], "flavors": [FLAVOR_QUOTAS]}],
        "queueingStrategy": STR,
        "stopPolicy": STR,
    }
}
LOCAL_QUEUE = {"spec": {"clusterQueue": STR, "stopPolicy": STR}}
WORKLOAD = {
    "spec": {
        "queueName": STR,
        "active": BOOL,
        "priority": INT,
        "podSets": [{"name": STR, "count": INT, "minCount": INT, "template": POD_TEMPLATE}],
    },
    "status": {"conditions": [CONDITION]},
}

SHAPES: dict[str, Shape] = {
    "pods": POD,
    "jobs": JOB,
    "nodes": NODE,
    "configmaps": {"data": _map(STR), "binaryData": _map(STR)},
    "secrets": {"data": _map(STR), "stringData": _map(STR), "type": STR},
    "services": SERVICE,
    "persistentvolumeclaims": {"spec": {"resources": {"requests": _map(QUANTITY)}}},
    "namespaces": {"spec": {"finalizers": [STR]}, "status": {"phase": STR}},
    "events": EVENT,
    "resourceflavors": RESOURCE_FLAVOR,
    "clusterqueues": CLUSTER_QUEUE,
    "localqueues": LOCAL_QUEUE,
    "workloads": WORKLOAD,
}


def check_shape(rt: ResourceType, obj: Any) -> None:
    """Raise the API server's error if a field the sandbox reads has the wrong JSON type."""
    wrong = find_mismatch(rt, obj)
    if wrong is None:
        return
    path, expected, value = wrong
    if rt.builtin:
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.storage_version}" cannot be handled as a {rt.kind}: '
            f"{decode_error(rt, wrong)}"
        )
    if rt.mutating_webhook:  # Kueue's webhook decodes the object into Go structs first
        raise errors.ApiError(
            400,
            "",  # a webhook's denial carries no reason
            f'admission webhook "m{rt.singular}.kb.io" denied the request: '
            f"{decode_error(rt, wrong)}",
        )
    name = (obj.get("metadata") or {}).get("name", "") if isinstance(obj, dict) else ""
    if not isinstance(name, str):
        name = ""
    got = _crd_value_type(value)
    want = _crd_type(expected)
    message = f'Invalid value: "{got}": {path} in body must be of type {want}: "{got}"'
    causes = [(path, "FieldValueTypeInvalid", message), _CEL_NOT_CHECKED]
    raise errors.invalid(rt.kind, rt.group, name, causes)


# A type error keeps the schema's CEL rules (every Kueue CRD has some) from being checked.
_CEL_NOT_CHECKED = (
    "<nil>",
    "FieldValueInvalid",
    "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation",
)


Mismatch = tuple[str, Shape, Any]  # (path with indices and keys, expected shape, value)


def find_mismatch(rt: ResourceType, obj: Any) -> Mismatch | None:
    """The first field the sandbox reads whose JSON type does not fit, or None."""
    return _mismatch(obj, dict(SHAPES.get(rt.plural, {}), metadata=METADATA), "")


def decode_error(rt: ResourceType, wrong: Mismatch) -> str:
    """Go's error decoding JSON into the built-in type: the field by its path without list
    indices or map keys, as encoding/json names it. (The real message names the innermost Go
    struct, e.g. ``ObjectMeta.metadata.labels``; the sandbox names the object's kind.)"""
    path, expected, value = wrong
    if expected == QUANTITY:
        return QUANTITY_ERROR
    field = re.sub(r"\[[^\]]*\]", "", path)
    return (
        f"json: cannot unmarshal {go_json_type(value)} into Go struct field {rt.kind}.{field} "
        f"of type {_go_type(expected)}"
    )


QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def _mismatch(value: Any, shape: Shape, path: str) -> tuple[str, Shape, Any] | None:
    """The first (path, expected shape, value) where ``value`` does not fit ``shape``."""
    if value is None:
        return None  # JSON null decodes to the zero value
    if isinstance(shape, str):
        return None if _fits(value, shape) else (path, shape, value)
    if isinstance(shape, tuple):  # ("map", values)
        if not isinstance(value, dict):
            return (path, shape, value)
        for key, item in value.items():
            wrong = _mismatch(item, shape[1], f"{path}[{key}]" if path else key)
            if wrong:
                return wrong
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return (path, shape, value)
        for i, item in enumerate(value):
            wrong = _mismatch(item, shape[0], f"{path}[{i}]")
            if wrong:
                return wrong
        return None
    if not isinstance(value, dict):
        return (path, shape, value)
    for key, field_shape in shape.items():
        if key in value:
            wrong = _mismatch(value[key], field_shape, f"{path}.{key}" if path else key)
            if wrong:
                return wrong
    return None


def _fits(value: Any, shape: str) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if shape == STR:
        return isinstance(value, str)
    if shape == INT:
        return number and float(value).is_integer()
    if shape == BOOL:
        return isinstance(value, bool)
    if shape == OBJ:
        return isinstance(value, dict)
    if shape == QUANTITY:  # resource.Quantity decodes a number, or a string that parses
        return number or (isinstance(value, str) and _parses(value))
    if shape == INT_OR_STR:
        return isinstance(value, str) or (number and float(value).is_integer())
    raise ValueError(f"unknown shape {shape!r}")


def json_kind(value: Any) -> str:
    """A decoded JSON value's type: bool, integer, float, string, array or object (null is
    never asked about: it decodes to the zero value). Each decoder names these its own way."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def go_json_type(value: Any) -> str:
    """The JSON type of a value as Go's encoding/json names it in its errors."""
    kind = json_kind(value)
    return "number" if kind in ("integer", "float") else kind


def _go_type(shape: Shape) -> str:
    if isinstance(shape, tuple):
        return f"map[string]{_go_type(shape[1])}"
    if isinstance(shape, list):
        return f"[]{_go_type(shape[0])}"
    if isinstance(shape, dict):
        return "struct"
    return {
        STR: "string",
        INT: "int32",
        BOOL: "bool",
        OBJ: "struct",
        QUANTITY: "resource.Quantity",
        INT_OR_STR: "intstr.IntOrString",
    }[shape]


def _crd_type(shape: Shape) -> str:
    """The OpenAPI type name of a shape."""
    if isinstance(shape, list):
        return "array"
    if isinstance(shape, (dict, tuple)) or shape == OBJ:
        return "object"
    return {BOOL: "boolean", INT: "integer"}.get(shape, "string")


def _crd_value_type(value: Any) -> str:
    """The OpenAPI type name of a JSON value."""
    kind = json_kind(value)
    return {"bool": "boolean", "float": "number"}.get(kind, kind)


def _parses(text: str) -> bool:
    try:
        parse_quantity(text)
    except ValueError:
        return False
    return True
