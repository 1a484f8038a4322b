"""The OpenAPI document kept beside the code, and validation of request bodies against it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import BadRequest

PATH = Path(__file__).with_name("openapi.yaml")


@functools.cache
def document() -> dict[str, Any]:
    return yaml.safe_load(PATH.read_text())


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema to JSON Schema: ``nullable`` becomes a null alternative."""
    if isinstance(node, dict):
        converted = {k: _to_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    return node


@functools.cache
def _validator(name: str) -> jsonschema.Draft7Validator:
    doc = document()
    schema = {
        "$ref": f"#/components/schemas/{name}",
        "components": _to_json_schema(doc["components"]),
    }
    return jsonschema.Draft7Validator(schema)


def validate(name: str, body: Any) -> None:
    """Raise :class:`BadRequest` naming the first place where ``body`` breaks schema ``name``."""
    error = next(iter(sorted(_validator(name).iter_errors(body), key=lambda e: list(e.path))), None)
    if error is None:
        return
    field = ".".join(str(part) for part in error.absolute_path) or None
    if error.validator == "additionalProperties":
        message = f"{error.message}; see GET /openapi.json for the fields a {name} takes"
    elif error.validator in ("oneOf", "anyOf"):
        message = f"{field or 'the body'} has the wrong type: {error.instance!r}"
    else:
        message = f"{field + ': ' if field else ''}{error.message}"
    raise BadRequest(message, field)
