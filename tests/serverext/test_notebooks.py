"""End to end in standalone mode on the sandbox: notebooks run in jobs and come back
executed next to their source; every state change reaches the Jupyter Server event bus."""

from __future__ import annotations

import asyncio
import json

import nbformat

from aiinfn_hub.jobs.labels import COLLECTED
from aiinfn_hub.sandbox.testing import wait_until
from aiinfn_hub.serverext.events import SCHEMA_ID

from .conftest import write_notebook

TERMINAL = ("succeeded", "failed", "cancelled")


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
        if out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "".join(parts)


async def test_a_notebook_runs_at_the_planned_site_and_comes_back_executed(
    api, bus, jp_root_dir, manager
):
    source = jp_root_dir / "analysis" / "compute.ipynb"
    write_notebook(
        source,
        "n = 6",
        "answer = n * 7\nprint(f'the answer is {answer}')",
        "answer",
        tags={0: ["parameters"]},
    )
    original = source.read_text()
    status, job = await api(
        "POST", "jobs", {"path": "analysis/compute.ipynb", "parameters": {"n": 1000003}}
    )
    assert status == 201, job
    planned = job["plan"]["sites"][0]["name"]
    assert planned == "tier1"  # CPU only and offloadable: the CNAF Tier-1 first
    done = await api.wait(job["id"])
    assert done["state"] == "succeeded", done["reason"]
    assert done["site"] == planned and [a["site"] for a in done["attempts"]] == [planned]
    assert done["attempts"][0]["remote_job_id"]  # it ran offloaded, through interLink

    target = f"analysis/compute.{job['id']}.ipynb"
    await wait_until(lambda: bus.of(job["id"], "notebook"), 60, message="the notebook event")
    [event] = bus.of(job["id"], "notebook")
    assert event["path"] == target and event["state"] == "succeeded"
    executed = nbformat.read(str(jp_root_dir / target), as_version=4)
    sources = [c.source for c in executed.cells]
    assert sources[0] == "n = 6" and "n = 1000003" in sources[1]
    assert executed.cells[1].metadata["tags"] == ["injected-parameters"]
    assert "the answer is 7000021" in outputs_text(executed.cells[2])
    assert outputs_text(executed.cells[3]) == "7000021"
    assert source.read_text() == original, "the source notebook is left as it was"
    status, again = await api("GET", f"jobs/{job['id']}")
    assert again["executed_notebook"] == target
    # the service was told the notebook is back: its pods and log may go sooner
    tracked = manager.jobs[job["id"]]
    await wait_until(lambda: COLLECTED in tracked.annotations, 60, message="the collected mark")
    status, log = await api("GET", f"jobs/{job['id']}/log")
    assert status == 200 and log["eof"]  # kept a while after collection (an hour by default)


async def test_a_failing_notebook_comes_back_with_its_error(api, bus, jp_root_dir):
    write_notebook(
        jp_root_dir / "broken.ipynb",
        "x = 41",
        "raise ValueError(f'bad input {x + 1}')",
        "print('never printed')",
    )
    status, job = await api("POST", "jobs", {"path": "broken.ipynb", "local_only": True})
    assert status == 201, job
    done = await api.wait(job["id"])
    assert (done["state"], done["site"]) == ("failed", "local")
    await wait_until(lambda: bus.of(job["id"], "notebook"), 60, message="the notebook event")
    executed = nbformat.read(str(jp_root_dir / f"broken.{job['id']}.ipynb"), as_version=4)
    assert "ValueError: bad input 42" in outputs_text(executed.cells[1])
    assert executed.cells[2].outputs == [] and executed.cells[2].execution_count is None
    status, log = await api("GET", f"jobs/{job['id']}/log")
    assert "cell 2 failed" in log["data"] and "never printed" not in log["data"]


async def test_each_state_change_reaches_the_event_bus(api, bus, manager, sandbox):
    """Through a fallback: the Tier-1 does not admit, the job moves to local resources."""
    sandbox.faults.stall_admission("tier1")
    published = []

    async def record():
        async with manager.subscribe(None) as queue:
            while (event := await queue.get()) is not None:
                published.append(event["job"])

    recorder = asyncio.ensure_future(record())
    await asyncio.sleep(0)
    try:
        status, job = await api("POST", "jobs", {"command": ["python", "-c", "print(1)"]})
        assert status == 201 and job["site"] == "tier1"
        done = await api.wait(job["id"])
        assert done["state"] == "succeeded" and done["site"] == "local"

        def changes(views):
            return [
                (v["state"], v["site"], len(v["attempts"])) for v in views if v["id"] == job["id"]
            ]

        def arrived():
            return len(changes(e["job"] for e in bus.of(job["id"]))) == len(changes(published))

        await wait_until(arrived, 30, message="every change on the event bus")
    finally:
        recorder.cancel()
    seen = changes(e["job"] for e in bus.of(job["id"]))
    assert seen == changes(published)
    states = [state for state, _, _ in seen]
    assert states[-1] == "succeeded" and "falling_back" in states
    assert {site for _, site, _ in seen} == {"tier1", "local"}
    for event in bus.of(job["id"]):
        assert (event["job_id"], event["state"], event["site"]) == (
            job["id"],
            event["job"]["state"],
            event["job"]["site"],
        )


async def test_events_reach_a_browser_over_the_websocket(api, jp_ws_fetch):
    ws = await jp_ws_fetch("api", "events", "subscribe")
    try:
        status, job = await api(
            "POST", "jobs", {"command": ["python", "-c", "print(2)"], "local_only": True}
        )
        assert status == 201
        states = []
        while not states or states[-1] not in TERMINAL:
            message = await asyncio.wait_for(ws.read_message(), 60)
            assert message is not None, "the event socket closed"
            event = json.loads(message)
            if event.get("schema_id") == SCHEMA_ID and event["job_id"] == job["id"]:
                states.append(event["state"])
        assert states[-1] == "succeeded"
        assert "running" in states or "admitted" in states
    finally:
        ws.close()
