"""An admin's cancel or rerun of another user's job is recorded in that job's history with the
admin's name: ``GET /jobs/{id}`` shows it, to the owner as to admins, and it survives a
restart of the service (it is in the job's record)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiinfn_hub.jobs import openapi
from aiinfn_hub.jobs.clitext import show

from .conftest import Api, serve, start_manager, stop_manager, wait_for

OWNER = "Mario.Rossi@infn.it"
ADMIN = "Ops_Admin"
TOKENS = {"owner-token": OWNER, "admin-token": ADMIN, "other-token": "anna_b"}
LONG = {"command": ["sleep", "300"], "local_only": True}
SHORT = {"command": ["python", "-c", "print('hi')"], "local_only": True}


@pytest.fixture
def api(manager) -> Iterator[Api]:
    with serve(manager, TOKENS, {ADMIN}) as served:
        yield served


async def test_an_admins_cancel_is_in_the_owners_job_history(api, manager, sandbox):
    _, job = await api.call("POST", "jobs", LONG, token="owner-token")
    await wait_for(manager, job["id"], ("running",))
    status, cancelled = await api.call("DELETE", f"jobs/{job['id']}", token="admin-token")
    assert status == 200 and cancelled["reason"] == f"cancelled by admin {ADMIN}"
    [action] = cancelled["actions"]
    assert {k: action[k] for k in ("action", "by", "words")} == {
        "action": "cancelled",
        "by": ADMIN,
        "words": f"cancelled by admin {ADMIN}",
    }
    assert action["time"].endswith("Z")
    status, seen = await api.call("GET", f"jobs/{job['id']}", token="owner-token")
    assert status == 200 and seen["actions"] == cancelled["actions"]
    openapi.validate("Job", seen)
    assert f"cancelled by admin {ADMIN}" in show(seen)

    # in the record: a restarted service shows it too
    again = await start_manager(str(sandbox.kubeconfig))
    try:
        assert again.get(OWNER, False, job["id"])["actions"] == cancelled["actions"]
    finally:
        await stop_manager(again)


async def test_an_admins_rerun_is_in_both_jobs_histories(api, manager):
    _, job = await api.call("POST", "jobs", SHORT, token="owner-token")
    await wait_for(manager, job["id"])
    status, rerun = await api.call("POST", f"jobs/{job['id']}/rerun", {}, token="admin-token")
    assert status == 201 and rerun["owner"] == OWNER
    [submitted] = rerun["actions"]
    assert submitted["words"] == f"submitted by admin {ADMIN}, as a rerun of job {job['id']}"
    assert (submitted["action"], submitted["job"]) == ("submitted", job["id"])

    async def original() -> dict:
        _, seen = await api.call("GET", f"jobs/{job['id']}", token="owner-token")
        return seen

    seen = await original()
    [action] = seen["actions"]
    assert action["words"] == f"run again by admin {ADMIN}, as job {rerun['id']}"
    assert (action["action"], action["by"], action["job"]) == ("rerun", ADMIN, rerun["id"])
    assert seen["state"] == "succeeded" and len(seen["attempts"]) == 1  # nothing else changed
    openapi.validate("Job", seen)
    await wait_for(manager, rerun["id"])


async def test_the_owners_own_cancel_and_rerun_record_no_admin_action(api, manager):
    _, job = await api.call("POST", "jobs", LONG, token="owner-token")
    status, cancelled = await api.call("DELETE", f"jobs/{job['id']}", token="owner-token")
    assert status == 200 and cancelled["reason"] == "cancelled by you"
    assert cancelled["actions"] == []
    status, rerun = await api.call("POST", f"jobs/{job['id']}/rerun", {}, token="owner-token")
    assert status == 201 and rerun["actions"] == []
    _, seen = await api.call("GET", f"jobs/{job['id']}", token="owner-token")
    assert seen["actions"] == []
    # another user can neither act nor see
    status, _ = await api.call("DELETE", f"jobs/{rerun['id']}", token="other-token")
    assert status == 404
    await api.call("DELETE", f"jobs/{rerun['id']}", token="owner-token")
