"""The typed bodies of the jobs API (aiinfn_hub/apitypes.py) are the OpenAPI document's
schemas: each TypedDict has its schema's keys, the same ones required, a plain value of the
schema's type (None where it is nullable), and its nested objects typed by the TypedDict of
their schema. Read from openapi.yaml itself, not from the code that serves it."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Union

import pytest
import yaml

import aiinfn_hub
from aiinfn_hub import apitypes as T

DOCUMENT = yaml.safe_load((Path(aiinfn_hub.__file__).parent / "jobs/openapi.yaml").read_text())
_OK = "responses/200/content/application~1json/schema"

#: Each schema (a JSON pointer into openapi.yaml) and its TypedDict.
MODELS: dict[str, Any] = {
    "components/schemas/Error": T.ErrorBody,
    "components/schemas/Probe": T.ProbeBody,
    "components/schemas/JobRequest": T.JobRequest,
    "components/schemas/JobRequest/properties/script": T.RequestScript,
    "components/schemas/JobRequest/properties/resources": T.RequestResources,
    "components/schemas/RerunRequest": T.RerunRequest,
    "components/schemas/Plan": T.PlanView,
    "components/schemas/Plan/properties/reasons": T.PlanReasons,
    "components/schemas/SiteReason": T.SiteReason,
    "components/schemas/QueueEstimate": T.QueueEstimate,
    "components/schemas/EstimatedStart": T.EstimatedStart,
    "components/schemas/Attempt": T.AttemptView,
    "components/schemas/Attempt/properties/kueue": T.KueueCondition,
    "components/schemas/Attempt/properties/pod": T.PodFailure,
    "components/schemas/Progress": T.Progress,
    "components/schemas/Job": T.JobView,
    "components/schemas/Action": T.ActionView,
    "components/schemas/Explanation": T.ExplanationView,
    "components/schemas/ExplanationDetail": T.ExplanationDetail,
    "components/schemas/LogChunk": T.LogChunk,
    "components/schemas/Site": T.SiteView,
    "components/schemas/Site/properties/health": T.SiteHealthView,
    "components/schemas/Site/properties/capacity": T.SiteCapacity,
    "components/schemas/Site/properties/capacity/properties/per_job": T.PerJobLimits,
    "components/schemas/Site/properties/queue": T.SiteQueue,
    "components/schemas/SiteBreaker": T.SiteBreakerView,
    "components/schemas/GpuModelCapacity": T.GpuModelCapacity,
    "components/schemas/FreeTotal": T.FreeTotal,
    f"paths/~1jobs/get/{_OK}": T.JobList,
    f"paths/~1sites/get/{_OK}": T.SiteList,
    f"paths/~1whoami/get/{_OK}": T.WhoamiBody,
    f"paths/~1whoami/get/{_OK}/properties/settings": T.ServiceSettings,
}
_PLAIN = {"string": {str}, "integer": {int}, "number": {float}, "boolean": {bool}}


def _at(pointer: str) -> dict[str, Any]:
    node: Any = DOCUMENT
    for part in pointer.split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return _resolved(node)


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return _at(ref.removeprefix("#/")) if ref else schema


def _pointer_of(pointer: str, name: str, schema: dict[str, Any]) -> str | None:
    """The pointer of a property's object schema (its $ref's, or its own inline)."""
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
    return ref.removeprefix("#/") if ref else f"{pointer}/properties/{name}"


def _flat(hint: Any) -> set[Any]:
    """The types a hint allows: the members of a union, the items of a list."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        return set().union(*(_flat(arg) for arg in typing.get_args(hint)))
    if typing.get_origin(hint) is list:
        return _flat(typing.get_args(hint)[0])
    return {hint}


@pytest.mark.parametrize("pointer", sorted(MODELS))
def test_each_model_has_its_schemas_keys_and_required_keys(pointer: str) -> None:
    schema, model = _at(pointer), MODELS[pointer]
    assert schema.get("type") == "object"
    keys = model.__required_keys__ | model.__optional_keys__
    assert keys == set(schema["properties"])
    assert model.__required_keys__ == set(schema.get("required", ()))


@pytest.mark.parametrize("pointer", sorted(MODELS))
def test_each_field_has_its_schemas_type(pointer: str) -> None:
    schema, model = _at(pointer), MODELS[pointer]
    hints = typing.get_type_hints(model)
    for name, prop in schema["properties"].items():
        allowed = _flat(hints[name])
        nullable = _resolved(prop).get("nullable", False)
        assert (type(None) in allowed) == nullable, (name, hints[name])
        target = _pointer_of(pointer, name, prop)
        if target in MODELS:
            assert MODELS[target] in allowed, (name, hints[name], MODELS[target])
            continue
        kind = _resolved(prop).get("type")
        if kind == "array":
            kind = _resolved(prop["items"]).get("type")
        if kind in _PLAIN:
            assert allowed - {type(None)} == _PLAIN[kind], (name, hints[name])


def test_every_object_schema_and_every_model_is_paired() -> None:
    objects = {
        f"components/schemas/{name}"
        for name, schema in DOCUMENT["components"]["schemas"].items()
        if schema.get("type") == "object"
    }
    assert objects <= set(MODELS)
    assert {m.__name__ for m in MODELS.values()} == set(T.__all__)


def test_the_check_sees_a_drift() -> None:
    # the reading itself: a model with a key the schema lacks, or one required that the schema
    # leaves optional, is caught
    class Wrong(typing.TypedDict):
        free: float
        total: float
        spare: float

    schema = _at("components/schemas/FreeTotal")
    assert Wrong.__required_keys__ != set(schema.get("required", ()))
    assert T.SiteReason.__required_keys__ == {"name", "reason"}
    assert T.SiteReason.__optional_keys__ == {"display_name", "queue"}
