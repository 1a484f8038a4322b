"""The index of tracked jobs holds only what the cluster holds: every lookup is pruned when what
it indexes is deleted (a long-lived service sees hundreds of thousands of jobs come and go)."""

from __future__ import annotations

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.index import JobIndex

OWNER = "Mario.Rossi@infn.it"
JOB_ID = "0a1b2c3d4e"


def record(request_id: str) -> dict:
    labels = {L.JOB_ID: JOB_ID, L.MANAGED_BY: L.MANAGER, L.REQUEST_ID: request_id}
    meta = {"name": L.record_name(JOB_ID), "resourceVersion": "11", "labels": labels}
    return {"metadata": {**meta, "annotations": {L.OWNER_NAME: OWNER}}}


def attempt(uid: str) -> dict:
    labels = {L.JOB_ID: JOB_ID, L.ATTEMPT: "1", L.MANAGED_BY: L.MANAGER}
    return {"metadata": {"name": L.attempt_name(JOB_ID, 1), "uid": uid, "labels": labels}}


def test_a_job_deleted_from_the_cluster_leaves_nothing_in_the_index():
    changed: list[str] = []
    index = JobIndex(on_job=changed.append, on_nodes=lambda: None)
    index.on_change("configmap", "ADDED", record("retry-7"))
    index.on_change("job", "ADDED", attempt("5f0c-uid"))
    assert index.by_client_request(OWNER, "retry-7").job_id == JOB_ID
    assert index.job_uid_to_id == {"5f0c-uid": JOB_ID}
    assert set(index.owned(OWNER)) == {JOB_ID}

    index.on_change("job", "DELETED", attempt("5f0c-uid"))
    assert index.job_uid_to_id == {}, "a deleted Job's uid is no longer mapped"
    # a relist finds the record gone: it knows only its name
    index.on_change("configmap", "DELETED", {"metadata": {"name": L.record_name(JOB_ID)}})
    index.forget(index.jobs[JOB_ID])
    assert index.jobs == {}
    assert index.by_owner == {}
    assert index.by_request == {}
    assert index.by_client_request(OWNER, "retry-7") is None
    assert changed == [JOB_ID] * 4
