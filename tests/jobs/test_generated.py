"""Requests generated from the OpenAPI document by schemathesis (hypothesis underneath), valid
and invalid, against the jobs service running as its own process on the sandbox: never a
5xx, every answer as the document says, and every 4xx a JSON error in words.

Admission is stalled at every site, so no generated command is ever run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from aiinfn_hub.jobs import openapi

from .service import ServiceProcess

pytestmark = pytest.mark.slow
TOKENS = ["alice-token", "bob-token", "admin-token"]


@pytest.fixture(scope="module")
def service(sandbox_process, tmp_path_factory) -> Iterator[ServiceProcess]:
    sandbox_process.reset()
    for site in ("leonardo", "tier1", "local"):
        sandbox_process.faults.stall_admission(site)
    process = ServiceProcess(sandbox_process.kubeconfig, tmp_path_factory.mktemp("generated"))
    asyncio.run(process.start())
    yield process
    process.stop()
    sandbox_process.reset()


def json_error_in_words(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is JSON: {"error": words, "status": the status, "field"?}."""
    if 400 <= response.status_code < 500:
        kind = next((v for k, v in response.headers.items() if k.lower() == "content-type"), [""])
        assert "application/json" in kind[0]
        body = json.loads(response.content)
        openapi.validate("Error", body)
        assert body["status"] == response.status_code
        assert len(body["error"]) > 10 and "Traceback" not in body["error"]
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    json_error_in_words,
]
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"mode": "all", "max-examples": 25, "database": "none"}}
)
# /events streams until the client leaves: tested in test_api.py and test_hub.py instead.
schema = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG).exclude(path="/events")


@schema.parametrize()
def test_generated_requests(case: Case, service: ServiceProcess) -> None:
    token = TOKENS[hash(repr(case.body)) % len(TOKENS)]
    # the token goes into the case itself, so that the negative-data check judges the request
    # as sent (a generated "no Authorization header" is replaced by this one)
    case.headers = {**(case.headers or {}), "Authorization": f"token {token}"}
    response = case.call(base_url=service.url.rstrip("/"), timeout=30)
    case.validate_response(response, checks=CHECKS)
