"""The OpenAPI document kept beside the code, and validation of requests against it.

Bodies are checked against the document's schemas and query strings against each
operation's declared parameters, so the document and the handlers cannot drift apart. Every
failure is a :class:`BadRequest` that names the field and says what would be accepted.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..errors import BadRequest

PATH = Path(__file__).with_name("openapi.yaml")
#: Query parameters any request may carry (authentication), besides the declared ones.
AMBIENT_QUERY = frozenset({"token", "_xsrf"})
#: A whole number as a query value: digits, optionally signed (no spaces, no ``1_000``).
_INTEGER = re.compile(r"[-+]?[0-9]+")
_TYPE_WORDS = {
    "object": "a JSON object",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@functools.cache
def document() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(PATH.read_text())
    return found


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
    return _compile({"$ref": f"#/components/schemas/{name}"})


def _compile(schema: Mapping[str, Any]) -> jsonschema.Draft7Validator:
    doc = document()
    return jsonschema.Draft7Validator(
        {**_to_json_schema(dict(schema)), "components": _to_json_schema(doc["components"])}
    )


def _expected(schema: Mapping[str, Any]) -> str:
    kinds = schema.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if kinds:
        return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    options = schema.get("oneOf") or schema.get("anyOf") or ()
    return " or ".join(_expected(o) for o in options) or "something else"


def _explain(error: jsonschema.ValidationError, name: str) -> tuple[str, str | None]:
    """Words for one schema violation, and the field at fault (dotted path)."""
    field = ".".join(str(part) for part in error.absolute_path) or None
    where = field or "the body"
    # the schemas of openapi.yaml are objects; jsonschema's types also allow booleans
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    value: Any = error.validator_value
    if error.validator == "additionalProperties":
        extra = sorted(set(instance) - set(schema.get("properties") or {}))
        known = ", ".join(sorted(schema.get("properties") or {}))
        bad = extra[0] if extra else "?"
        return (
            f"unknown field {bad!r}{' in ' + field if field else ''}; known fields: {known} "
            f"(see GET /openapi.json for the fields a {name} takes)",
            f"{field}.{bad}" if field else bad,
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return f"{where} needs the field {missing!r}", f"{field}.{missing}" if field else missing
    if error.validator in ("type", "oneOf", "anyOf"):
        return (
            f"{where} must be {_expected(schema)}, got {instance!r:.80}",
            field,
        )
    if error.validator == "enum":
        options = ", ".join(str(v) for v in value if v is not None)
        return f"{where} must be one of {options}, got {instance!r:.80}", field
    if error.validator in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{where} must be from {low} to {high}, got {instance!r}", field
        side = "at least" if error.validator == "minimum" else "at most"
        return f"{where} must be {side} {value}, got {instance!r}", field
    if error.validator in ("minLength", "maxLength", "minItems", "maxItems"):
        unit = "characters" if "Length" in error.validator else "items"
        side = "at least" if error.validator.startswith("min") else "at most"
        return f"{where} must have {side} {value} {unit}", field
    if error.validator == "pattern":
        return f"{where} must match {value}, got {instance!r:.80}", field
    return f"{where}: {error.message:.200}", field


def _raise_first(validator: jsonschema.Draft7Validator, body: Any, name: str) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        message, field = _explain(errors[0], name)
        raise BadRequest(message, field)


def warm() -> None:
    """Load the document and compile its validators now, not on the first request."""
    for name in ("JobRequest", "RerunRequest"):
        _validator(name)
    for path, item in document()["paths"].items():
        for method in item:
            if method in ("get", "post", "delete"):
                _parameters(path, method)


def validate(name: str, body: Any) -> None:
    """Raise :class:`BadRequest` naming the first place where ``body`` breaks schema ``name``."""
    _raise_first(_validator(name), body, name)


@dataclass(frozen=True)
class _Param:
    schema: dict[str, Any]
    integer: bool
    validator: jsonschema.Draft7Validator


@functools.cache
def _parameters(path: str, method: str) -> dict[str, _Param]:
    """The query parameters an operation declares, by name."""
    doc = document()
    item = doc["paths"][path]
    found: dict[str, _Param] = {}
    for param in [*item.get("parameters", ()), *item[method].get("parameters", ())]:
        if "$ref" in param:
            param = doc["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
        if param.get("in") != "query":
            continue
        schema = param["schema"]
        resolved = schema
        if "$ref" in schema:
            resolved = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        found[param["name"]] = _Param(schema, resolved.get("type") == "integer", _compile(schema))
    return found


def query(path: str, method: str, arguments: Mapping[str, list[bytes]]) -> dict[str, Any]:
    """The query string of a request to ``path`` (an OpenAPI path), checked and typed.

    Unknown names are refused (a typo would otherwise be ignored silently); each value is
    converted to its declared type and validated against its schema.
    """
    declared = _parameters(path, method.lower())
    unknown = sorted(set(arguments) - set(declared) - AMBIENT_QUERY)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise BadRequest(
            f"unknown query parameter {unknown[0]!r:.60}; this endpoint takes: {known}",
            unknown[0][:60],
        )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        raw = arguments.get(name)
        if not raw:
            values[name] = param.schema.get("default")
            continue
        text = raw[-1].decode("utf-8", "replace")
        value: Any = text
        if param.integer:
            try:
                if not _INTEGER.fullmatch(text):
                    raise ValueError(text)
                value = int(text)
            except ValueError:  # not digits, or more digits than Python converts
                raise BadRequest(f"{name} must be a whole number, got {text!r:.40}", name) from None
        error = next(iter(param.validator.iter_errors(value)), None)
        if error is not None:
            message, _ = _explain(error, name)
            raise BadRequest(message.replace("the body", name, 1), name)
        values[name] = value
    return values
