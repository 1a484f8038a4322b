"""Kubernetes refusing for good (403 forbidden, 422 invalid) is reported in plain words and
ends the job; it is not retried forever. No cluster answers this way on demand (the sandbox
has no RBAC), so a Kube double refuses here."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.client import KubeError
from aiinfn_hub.placement import Placer
from aiinfn_hub.placement.config import DEFAULT_TABLE

FORBIDDEN = KubeError(403, "Forbidden", 'jobs.batch is forbidden: User "hub" cannot create')


class RefusingKube:
    """Stores ConfigMaps; refuses what ``refuse`` names with its error."""

    def __init__(self, refuse: dict[str, KubeError]) -> None:
        self.namespace = "default"
        self.refuse = refuse
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()

    async def create(self, kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        self.requests[f"create {kind}"] += 1
        if kind in self.refuse:
            raise self.refuse[kind]
        obj = {**body, "metadata": {**body["metadata"], "resourceVersion": "1", "uid": "u1"}}
        self.objects[(kind, body["metadata"]["name"])] = obj
        return obj, True

    async def patch(self, kind: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        obj = self.objects[(kind, name)]
        annotations = {**obj["metadata"]["annotations"], **patch["metadata"]["annotations"]}
        version = str(int(obj["metadata"]["resourceVersion"]) + 1)
        obj["metadata"] = {
            **obj["metadata"],
            "annotations": annotations,
            "resourceVersion": version,
        }
        return obj

    async def delete(self, kind: str, name: str) -> None:
        self.objects.pop((kind, name), None)


async def test_a_refused_record_is_a_422_in_words_not_try_again():
    invalid = KubeError(422, "Invalid", 'ConfigMap "aiinfn-x" is invalid: data: Too long')
    manager = JobsManager(RefusingKube({"configmap": invalid}))
    with pytest.raises(AIInfnError) as info:
        await manager.submit("alice", {"command": ["true"]})
    assert info.value.status == 422
    assert info.value.message == (
        'the job was not submitted: Kubernetes refused the request: ConfigMap "aiinfn-x" is '
        "invalid: data: Too long"
    )
    assert manager.jobs == {}


async def test_a_refused_attempt_ends_the_job_saying_why():
    kube = RefusingKube({"job": FORBIDDEN})
    manager = JobsManager(kube)
    manager.controller.started = True
    view, _ = await manager.submit("alice", {"command": ["true"], "local_only": True})
    await manager.controller.reconcile_one(view["id"])
    done = manager.get("alice", False, view["id"])
    assert done["state"] == "failed"
    assert done["reason"] == (
        "the jobs service is not allowed to do this in Kubernetes "
        '(jobs.batch is forbidden: User "hub" cannot create)'
    )
    record = kube.objects[("configmap", L.record_name(view["id"]))]
    assert '"state": "failed"' in record["metadata"]["annotations"][L.FINAL]
    assert kube.requests["create job"] == 1, "not retried"


async def test_a_site_no_longer_configured_is_skipped_and_a_request_no_longer_valid_fails():
    kube = RefusingKube({})
    manager = JobsManager(kube)
    manager.controller.started = True
    moved, _ = await manager.submit("alice", {"command": ["true"]})
    broken, _ = await manager.submit("alice", {"command": ["true"], "local_only": True})
    assert [s["name"] for s in moved["plan"]["sites"]] == ["tier1", "local"]
    # the service restarts with tier1 gone from its sites
    kept = [site for name, site in manager.placer.sites.items() if name != "tier1"]
    table = {row: [s for s in sites if s != "tier1"] for row, sites in DEFAULT_TABLE.items()}
    manager.controller.placer = Placer(kept, table)
    await manager.controller.reconcile_one(moved["id"])
    assert manager.get("alice", False, moved["id"])["site"] == "local"
    assert ("job", L.attempt_name(moved["id"], 1)) in kube.objects
    # ... and a stored request that no longer parses (here: one edited by hand)
    record = kube.objects[("configmap", L.record_name(broken["id"]))]
    spec = json.loads(record["data"]["spec.json"])
    record["data"]["spec.json"] = json.dumps({**spec, "completions": 5000})
    record["metadata"]["resourceVersion"] = "7"
    manager.jobs[broken["id"]].record = record
    await manager.controller.reconcile_one(broken["id"])
    done = manager.get("alice", False, broken["id"])
    assert done["state"] == "failed"
    assert done["reason"] == (
        "its request is no longer accepted: completions must be a whole number from 1 to 1000"
    )
    assert ("job", L.attempt_name(broken["id"], 1)) not in kube.objects
