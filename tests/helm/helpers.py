"""Paths and helpers shared by the helm-values tests: loading, merging, schema handling."""

from __future__ import annotations

import copy
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HELM_VALUES = REPO / "helm-values"
#: Set to a directory holding z2jh/ and kueue/ to use schemas from elsewhere.
SCHEMAS_ENV = "AIINFN_SHARED_SCHEMAS"
#: Set to 1 to skip (rather than fail) the schema checks where the schemas cannot be had.
OPT_OUT_ENV = "AIINFN_SKIP_SHARED_SCHEMAS"

NAMESPACE = "jhub"
INTERLINK_TAINT_KEY = "virtual-node.interlink/no-schedule"


def schema_candidates() -> list[Path]:
    """Where the public schemas may be: $AIINFN_SHARED_SCHEMAS, ../shared/schemas next to the
    checkout (every project machine and CI), /work/shared/schemas. Never copied into the repo."""
    found = [Path(os.environ[SCHEMAS_ENV])] if os.environ.get(SCHEMAS_ENV) else []
    return [*found, REPO.parent / "shared" / "schemas", Path("/work/shared/schemas")]


def find_schemas() -> Path | None:
    for path in schema_candidates():
        if (path / "z2jh" / "values.schema.yaml").is_file() and (path / "kueue").is_dir():
            return path
    return None


SCHEMAS = find_schemas()


def need_schemas() -> Path:
    """The shared schemas directory; a test that needs them FAILS without them, saying where it
    looked, unless $AIINFN_SKIP_SHARED_SCHEMAS=1 explicitly opts out (then it skips)."""
    if SCHEMAS is not None:
        return SCHEMAS
    where = ", ".join(str(p) for p in schema_candidates())
    message = (
        f"the shared z2jh and Kueue schemas are not in any of: {where}. Point "
        f"{SCHEMAS_ENV} at the directory holding z2jh/ and kueue/, or set {OPT_OUT_ENV}=1 to "
        "skip the schema checks knowingly"
    )
    if os.environ.get(OPT_OUT_ENV) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def load_all(path: Path) -> list[dict[str, Any]]:
    """Every non-empty document of a YAML stream."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def deep_merge(base: Any, overlay: Any) -> Any:
    """``overlay`` over ``base``: dicts merge key by key, recursively; anything else replaces."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = copy.deepcopy(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


# ------------------------------------------------------------------------- CRD OpenAPI schemas

_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def structural(schema: Any) -> Any:
    """A CRD's OpenAPI v3 schema as JSON Schema, strict about unknown fields.

    The ``x-kubernetes-*`` extensions are dropped (CEL rules are checked by hand in the tests).
    An object schema with ``properties`` and neither ``additionalProperties`` nor
    ``x-kubernetes-preserve-unknown-fields`` gets ``additionalProperties: false``: the API
    server prunes such fields, and ``kubectl apply`` (strict field validation) rejects them, so
    a misspelt or old-API field (``cohort`` for ``cohortName``) is an error here too.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {name: structural(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = structural(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [structural(sub) for sub in value]
        else:
            out[key] = value
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crds_by_kind(schemas: Path) -> dict[str, dict[str, Any]]:
    """The Kueue CRDs in the shared schemas, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((schemas / "kueue").glob("*.yaml")):
        for doc in load_all(path):
            if doc.get("kind") == "CustomResourceDefinition":
                found[doc["spec"]["names"]["kind"]] = doc
    return found


def version_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            assert entry.get("served"), f"{crd['metadata']['name']} does not serve {version}"
            return entry["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{crd['metadata']['name']} has no version {version}")


# ---------------------------------------------------------------------------------- quantities

_SUFFIXES = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([A-Za-z]*)$")


def quantity(value: int | str) -> Decimal:
    """A Kubernetes resource quantity (``64``, ``"500m"``, ``"256Gi"``) as a number."""
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Kubernetes' rule: does ``toleration`` tolerate ``taint``?"""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if not toleration.get("key"):
        return toleration.get("operator") == "Exists"
    if toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")
