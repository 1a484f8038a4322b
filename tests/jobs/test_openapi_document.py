"""The OpenAPI document itself: what it says is what the YAML means, and its schemas are as
strict as the views the service builds (the panel's types are generated from them)."""

from __future__ import annotations

from typing import Any

import pytest

from aiinfn_hub.errors import BadRequest
from aiinfn_hub.jobs import openapi


def _null_keys(node: Any, where: str = "") -> list[str]:
    """Keys whose value is null: in a flow mapping (``{...}``) an unquoted description with a
    comma ends at the comma, and the rest of the sentence becomes a key of its own."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if value is None:
                found.append(f"{where}/{key}")
            found += _null_keys(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _null_keys(value, f"{where}/{index}")
    return found


def test_no_description_is_cut_at_a_comma():
    assert _null_keys(openapi.document()) == []
    resources = openapi.document()["components"]["schemas"]["JobRequest"]["properties"]
    gpu_model = resources["resources"]["properties"]["gpu_model"]
    assert gpu_model["description"] == "e.g. A100, T4"


SITE = {
    "name": "cnaf-tier1",
    "display_name": "CNAF Tier-1",
    "kind": "offload",
    "health": {"usable": True, "state": "ok"},
    "capacity": {"gpus": {"total": 8, "free": 2}, "cpu": {"total": 128.0, "free": 12.5}},
    "queue": {"pending": 0, "reasons": []},
}


def test_a_site_always_has_gpu_and_cpu_capacity():
    openapi.validate("Site", SITE)
    for missing in ("gpus", "cpu"):
        capacity = {k: v for k, v in SITE["capacity"].items() if k != missing}
        with pytest.raises(BadRequest):
            openapi.validate("Site", {**SITE, "capacity": capacity})


ATTEMPT = {
    "number": 1,
    "site": "leonardo",
    "outcome": "fell_back",
    "reason": "the remote submission failed: schedd down",
    "kueue": {"condition": "Admitted", "status": "True", "reason": "Admitted", "message": ""},
    "pod": {"name": "j-1-x", "reason": "ProviderFailed", "message": "down", "exitCode": None},
}


def test_an_attempts_kueue_condition_and_failed_pod_are_typed():
    openapi.validate("Attempt", ATTEMPT)
    openapi.validate("Attempt", {**ATTEMPT, "pod": None, "kueue": {}})
    for bad in (
        {"pod": "j-1-x"},
        {"pod": {"name": "j-1-x", "exitCode": "1"}},
        {"kueue": {"condition": 1}},
    ):
        with pytest.raises(BadRequest):
            openapi.validate("Attempt", {**ATTEMPT, **bad})


def test_a_plans_reasons_are_words():
    plan = {
        "requires_gpu": True,
        "offloadable": False,
        "reasons": {"requires_gpu": "asks for 1 GPU", "offloadable": "mounts your home"},
        "sites": [],
        "ruled_out": [],
    }
    openapi.validate("Plan", plan)
    with pytest.raises(BadRequest):
        openapi.validate("Plan", {**plan, "reasons": {"requires_gpu": True}})
