"""Retention: an ended job's attempts, pods, Workloads and staged file go after its logs'
window (or soon after its notebook is collected), its record after the history window; what
is left says so in words; a restart goes on where the last service stopped.

Windows are set short here (seconds, as fractions of hours and days) so the steps happen
within a test; the tests wait for each with generous timeouts and time nothing. Owners have
names a real hub has (dots, ``@``, upper case), not the sandbox's ``alice``.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio import client
from traitlets.config import Config

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.retention import DAY, HOUR, duration
from aiinfn_hub.kube.client import kube_client
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import fast_config, start_manager, stop_manager, wait_for
from .records import COMMAND, ended_record

OWNER = "Mario.Rossi@infn.it"
SECOND = 1 / 3600  # in hours
SCRIPT = {
    "script": {"path": "analysis/step one.py", "content": "print('step one done')" + " " * 5000,
               "kind": "python"},
    "local_only": True,
    "name": "step one",
}  # fmt: skip


def retention(**windows: float) -> Config:
    config = fast_config()
    for name, value in windows.items():
        setattr(config.JobsRetention, name, value)
    return config


async def objects(sandbox, job_id: str) -> dict[str, list[str]]:
    """The job's Jobs, pods and Workloads in Kubernetes, and its record's data keys."""
    api = await kube_client(str(sandbox.kubeconfig))
    try:
        selector = f"{L.JOB_ID}={job_id}"
        jobs = await client.BatchV1Api(api).list_namespaced_job("default", label_selector=selector)
        pods = await client.CoreV1Api(api).list_namespaced_pod("default", label_selector=selector)
        names = {j.metadata.name for j in jobs.items}
        workloads = await client.CustomObjectsApi(api).list_namespaced_custom_object(
            "kueue.x-k8s.io", "v1beta2", "default", "workloads"
        )
        owned = [
            w["metadata"]["name"]
            for w in workloads["items"]
            if any(r.get("name") in names for r in w["metadata"].get("ownerReferences") or ())
            or w["metadata"]["name"].startswith(f"job-aiinfn-{job_id}-")
        ]
        records = await client.CoreV1Api(api).list_namespaced_config_map(
            "default", label_selector=selector
        )
        return {
            "jobs": sorted(names),
            "pods": sorted(p.metadata.name for p in pods.items),
            "workloads": sorted(owned),
            "record": sorted((records.items[0].data or {}) if records.items else ["(none)"]),
        }
    finally:
        await api.close()


async def ended(manager, data: dict[str, Any], owner: str = OWNER) -> dict[str, Any]:
    view, _ = await manager.submit(owner, data)
    done = await wait_for(manager, view["id"])
    assert done["state"] == "succeeded", done
    return done


async def test_an_ended_job_is_compacted_after_its_logs_window(sandbox):
    manager = await start_manager(str(sandbox.kubeconfig), retention(keep_logs_hours=2 * SECOND))
    try:
        job = await ended(manager, SCRIPT)
        tracked = manager.jobs[job["id"]]
        await wait_until(lambda: L.COMPACTED in tracked.annotations, 60, 0.1, "compaction")
        await wait_until(lambda: not tracked.attempts and not tracked.pods, 60, 0.1, "deletion")
        left = await wait_until(
            lambda: _gone(sandbox, job["id"]), 60, 0.2, "the pods and Workloads to go"
        )
        assert left["record"] == ["plan.json", "spec.json"]  # the staged file is gone
        # what users see of the job is unchanged: its state, plan and attempt history
        view = manager.get(OWNER, False, job["id"])
        assert (view["state"], view["site"], view["plan"]) == ("succeeded", "local", job["plan"])
        assert [(a["site"], a["outcome"]) for a in view["attempts"]] == [("local", "succeeded")]
        log = await manager.logs(OWNER, False, job["id"], offset=7)
        assert (log["data"], log["eof"], log["next_offset"]) == ("", True, 7)
        assert log["message"].startswith("the log was removed ")
        assert log["message"].endswith(
            "after the job ended, with the job's pods: the hub keeps them for 2 s after a job ends"
        ), log["message"]
        try:
            await manager.rerun(OWNER, False, job["id"])
            raise AssertionError("a script job whose file is gone was rerun")
        except AIInfnError as exc:
            assert exc.status == 409
            assert "the copy of analysis/step one.py this job ran was removed" in exc.message
            assert exc.message.endswith("run the file again as a new job")
        # a command job needs no staged file: it reruns
        command = await ended(manager, COMMAND)
        await wait_until(
            lambda: L.COMPACTED in manager.jobs[command["id"]].annotations, 60, 0.1, "compaction"
        )
        again = await manager.rerun(OWNER, False, command["id"])
        assert again["spec"]["command"] == COMMAND["command"]
    finally:
        await stop_manager(manager)


async def _gone(sandbox, job_id: str) -> dict[str, list[str]] | None:
    found = await objects(sandbox, job_id)
    return found if not (found["jobs"] or found["pods"] or found["workloads"]) else None


async def test_a_collected_notebook_lets_the_log_go_sooner(sandbox):
    """Only the owner (or an admin) marks a job collected, and only once it has ended."""
    manager_config = retention(keep_logs_after_collected_hours=SECOND)
    manager = await start_manager(str(sandbox.kubeconfig), manager_config)
    try:
        running, _ = await manager.submit(OWNER, {**COMMAND, "command": ["sleep", "60"]})
        await wait_for(manager, running["id"], ("running",))
        try:
            await manager.collected(OWNER, False, running["id"])
            raise AssertionError("a running job was marked collected")
        except AIInfnError as exc:
            assert exc.status == 409 and "has not ended yet" in exc.message
        job = await ended(manager, SCRIPT)
        tracked = manager.jobs[job["id"]]
        try:
            await manager.collected("someone.else", False, job["id"])
            raise AssertionError("another user marked the job collected")
        except AIInfnError as exc:
            assert exc.status == 404
        view = await manager.collected(OWNER, False, job["id"])
        assert view["id"] == job["id"]
        assert L.COLLECTED in tracked.annotations
        await manager.collected(OWNER, False, job["id"])  # again: nothing changes
        await wait_until(lambda: L.COMPACTED in tracked.annotations, 60, 0.1, "compaction")
        log = await manager.logs(OWNER, False, job["id"])
        assert log["message"].endswith(
            "its executed notebook had been saved next to the notebook it ran, and the hub "
            "keeps the log 1 s longer"
        ), log["message"]
    finally:
        await stop_manager(manager)


async def test_collected_over_http(api, manager):
    _, job = await api.call("POST", "jobs", COMMAND)
    status, error = await api.call("POST", f"jobs/{job['id']}/collected")
    assert status == 409 and "has not ended yet" in error["error"]
    await wait_for(manager, job["id"])
    status, view = await api.call("POST", f"jobs/{job['id']}/collected")
    assert status == 200 and view["id"] == job["id"]
    status, view = await api.call("POST", f"jobs/{job['id']}/collected", token="admin-token")
    assert status == 200
    status, error = await api.call("POST", f"jobs/{job['id']}/collected", token="bob-token")
    assert status == 404
    assert L.COLLECTED in manager.jobs[job["id"]].annotations
    # the default keeps the log an hour after collection
    status, log = await api.call("GET", f"jobs/{job['id']}/log")
    assert status == 200 and "42" in log["data"]


async def test_the_history_window_deletes_the_record(sandbox):
    manager = await start_manager(str(sandbox.kubeconfig), retention(keep_history_days=3 / 86400))
    try:
        job = await ended(manager, SCRIPT, owner="UPPER_case.user")
        await wait_until(lambda: job["id"] not in manager.jobs, 60, 0.1, "the record to go")
        assert json.loads(manager.list_json("UPPER_case.user", False))["total"] == 0
        try:
            manager.get("UPPER_case.user", False, job["id"])
            raise AssertionError("a deleted job is still served")
        except AIInfnError as exc:
            assert exc.status == 404
        left = await wait_until(lambda: _gone(sandbox, job["id"]), 60, 0.2, "every object")
        assert left["record"] == ["(none)"]
        assert manager.kube.requests["delete configmap"] == 1
    finally:
        await stop_manager(manager)


async def test_a_restart_goes_on_where_the_last_service_stopped(sandbox):
    """State lives in the record's annotations: a new service applies the windows to jobs
    the old one left, and makes no request for jobs already compacted."""
    first = await start_manager(str(sandbox.kubeconfig), retention())  # the defaults: a week
    try:
        kept = await ended(first, SCRIPT)
        collected = await ended(first, COMMAND)
        await first.collected(OWNER, False, collected["id"])
        assert L.COMPACTED not in first.jobs[kept["id"]].annotations
    finally:
        await stop_manager(first)

    second = await start_manager(
        str(sandbox.kubeconfig),
        retention(keep_logs_hours=3 * SECOND, keep_logs_after_collected_hours=0),
    )
    try:
        for job in (kept, collected):
            tracked = second.jobs[job["id"]]
            await wait_until(lambda t=tracked: L.COMPACTED in t.annotations, 60, 0.1, "compaction")
        await wait_until(lambda: _gone(sandbox, kept["id"]), 60, 0.2, "the kept job's objects")
        log = await second.logs(OWNER, False, collected["id"])
        assert log["message"].endswith(
            "with the job's pods: its executed notebook had been saved next to the notebook it ran"
        ), log["message"]
    finally:
        await stop_manager(second)

    third = await start_manager(str(sandbox.kubeconfig), retention(keep_logs_hours=3 * SECOND))
    try:
        assert {kept["id"], collected["id"]} <= set(third.jobs)
        changed = {
            k: n for k, n in third.kube.requests.items() if not k.startswith(("list", "watch"))
        }
        assert changed == {}, "a restart over compacted jobs makes no request for them"
        assert third.jobs[kept["id"]].view["state"] == "succeeded"
    finally:
        await stop_manager(third)


async def test_records_older_than_the_history_window_go_at_start(sandbox):
    """Records a service never saw end (written before an upgrade): the defaults apply."""
    probe = await start_manager(str(sandbox.kubeconfig))
    try:
        old = ended_record(probe.placer, "0000000a0a", "old.user@infn.it", days_ago=91)
        recent = ended_record(probe.placer, "0000000b0b", "old.user@infn.it", days_ago=89)
        for record in (old, recent):
            await probe.kube.create("configmap", record)
        await wait_until(
            lambda: "0000000b0b" in probe.jobs and probe.jobs["0000000b0b"].view is not None,
            60, 0.1, "the recent record",
        )  # fmt: skip

        async def old_record_deleted() -> bool:
            return (await objects(sandbox, "0000000a0a"))["record"] == ["(none)"]

        await wait_until(old_record_deleted, 60, 0.2, "the old record's ConfigMap to go")
        assert "0000000a0a" not in probe.jobs
        assert probe.jobs["0000000b0b"].view["state"] == "succeeded"
    finally:
        await stop_manager(probe)


def test_durations_read_at_a_glance():
    assert [duration(s) for s in (0, 45, 600, 5 * HOUR, 2 * DAY, 7 * DAY, DAY)] == [
        "0 s", "45 s", "10 min", "5 h", "2 days", "7 days", "24 h",
    ]  # fmt: skip
