"""The REST API over HTTP on the sandbox: every endpoint, errors in words, and per-user
isolation (a user sees and acts on their own jobs only; an admin on everyone's)."""

from __future__ import annotations

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from aiinfn_hub.jobs import openapi
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import wait_for
from .service import EventStream

SHORT = {"command": ["python", "-c", "print('hello')"], "local_only": True}
LONG = {"command": ["sleep", "60"], "local_only": True}


async def test_openapi_document_is_served_and_kept_in_the_repo(api):
    status, body = await api.call("GET", "openapi.json")
    assert status == 200
    assert body == yaml.safe_load(openapi.PATH.read_text())
    assert set(body["paths"]) == {
        "/jobs",
        "/jobs/{id}",
        "/jobs/{id}/log",
        "/jobs/{id}/rerun",
        "/jobs/{id}/collected",
        "/plan",
        "/sites",
        "/whoami",
        "/events",
        "/metrics",
        "/openapi.json",
        "/healthz",
        "/readyz",
    }


async def test_metrics_count_everyones_jobs_so_users_may_not_read_them(api):
    status, error = await api.call("GET", "metrics")  # alice, no admin
    assert status == 403 and error["status"] == 403
    assert "only admins may read them" in error["error"]
    assert "read:metrics" in error["error"] and "GET /jobs" in error["error"]
    status, text = await api.call("GET", "metrics", token="admin-token")
    assert status == 200 and "# TYPE aiinfn_jobs gauge" in text


async def test_whoami_names_the_caller_and_says_whether_they_are_admin(api):
    settings = {"max_staged_bytes": 900 * 1024, "home_mount_path": "/home/jovyan"}
    assert await api.call("GET", "whoami") == (
        200,
        {"name": "alice", "admin": False, "settings": settings},
    )
    assert await api.call("GET", "whoami", token="admin-token") == (
        200,
        {"name": "admin", "admin": True, "settings": settings},
    )
    status, error = await api.call("GET", "whoami", token="nobody")
    assert status == 401 and "token" in error["error"]


async def test_submit_get_list_and_the_job_model(api, manager):
    status, job = await api.call("POST", "jobs", {**SHORT, "name": "greeting"})
    assert status == 201
    openapi.validate("Job", job)
    assert (job["name"], job["owner"], job["site"]) == ("greeting", "alice", "local")
    assert job["plan"]["sites"][0]["name"] == "local" and job["plan"]["sites"][0]["reason"]
    await wait_for(manager, job["id"])
    status, done = await api.call("GET", f"jobs/{job['id']}")
    assert status == 200
    openapi.validate("Job", done)
    assert done["state"] == "succeeded"
    [attempt] = done["attempts"]
    assert (attempt["site"], attempt["outcome"], attempt["number"]) == ("local", "succeeded", 1)
    assert attempt["kueue"]["condition"] in ("Finished", "PodsReady", "Admitted")
    assert done["progress"] == {"completions": 1, "succeeded": 1, "failed": 0, "active": 0}
    status, page = await api.call("GET", "jobs")
    assert status == 200 and page["total"] == 1 and page["jobs"][0]["id"] == job["id"]


async def test_filters_and_pagination(api, manager, sandbox):
    sandbox.faults.stall_admission("tier1")
    ids = []
    for i in range(5):
        _, job = await api.call("POST", "jobs", {**SHORT, "name": f"local-{i}"})
        ids.append(job["id"])
    _, remote = await api.call("POST", "jobs", {"command": ["true"], "name": "remote"})
    for job_id in ids:
        await wait_for(manager, job_id)
    _, page = await api.call("GET", "jobs?state=succeeded&limit=2")
    assert page["total"] == 5 and len(page["jobs"]) == 2 and page["next_offset"] == 2
    _, rest = await api.call("GET", "jobs?state=succeeded&limit=2&offset=4")
    assert len(rest["jobs"]) == 1 and rest["next_offset"] is None
    seen = {j["id"] for j in page["jobs"]} | {j["id"] for j in rest["jobs"]}
    _, middle = await api.call("GET", "jobs?state=succeeded&limit=2&offset=2")
    seen |= {j["id"] for j in middle["jobs"]}
    assert seen == set(ids)
    _, at_tier1 = await api.call("GET", "jobs?site=tier1")
    assert [j["id"] for j in at_tier1["jobs"]] == [remote["id"]]
    _, queued = await api.call("GET", "jobs?state=queued")
    assert [j["id"] for j in queued["jobs"]] == [remote["id"]]


async def test_idempotent_submit_with_client_request_id(api):
    body = {**SHORT, "client_request_id": "notebook-7f3a"}
    first = await api.call("POST", "jobs", body)
    again = await api.call("POST", "jobs", body)
    assert (first[0], again[0]) == (201, 200)
    assert first[1]["id"] == again[1]["id"]
    _, page = await api.call("GET", "jobs")
    assert page["total"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field", "words"),
    [
        ("POST", "jobs", {"command": ["true"], "colour": "red"}, 400, "colour", "unknown field"),
        ("POST", "jobs", {"command": "python x.py"}, 400, "command", "must be a list"),
        ("POST", "jobs", {"command": ["true"], "completions": 0}, 400, "completions", "from 1"),
        ("POST", "jobs", {"command": ["true"], "resources": {"cpu": "lots"}}, 400,
         "resources.cpu", "number of cores"),
        ("POST", "jobs", {"command": ["true"], "walltime": "soon"}, 400, "walltime", "duration"),
        ("POST", "jobs", {"name": "x"}, 400, "command", "exactly one of"),
        ("POST", "jobs", {"command": ["true"], "resources": {"gpus": 40}}, 422,
         "resources.gpus", "no site can satisfy"),
        ("POST", "jobs", {"command": ["true"], "site": "mars"}, 400, "site", "unknown site"),
        ("POST", "jobs", {"script": {"path": "big.py", "content": "#" * 1_000_000}}, 413,
         "script.content", "limit"),
        ("POST", "plan", [], 400, None, "must be a JSON object"),
        ("GET", "jobs?limit=0", None, 400, "limit", "from 1 to 1000"),
        ("GET", "jobs?limit=many", None, 400, "limit", "whole number"),
        ("GET", "jobs?limit=1_0", None, 400, "limit", "whole number"),
        ("GET", "jobs?limit=%205", None, 400, "limit", "whole number"),
        ("POST", "jobs", {"command": ["true"], "volumes": ["pvc:claim-bob"]}, 403, "volumes",
         "not the claim 'claim-bob'"),
        ("POST", "jobs", {"command": ["true"], "volumes": ["pvc:hub-db-dir"]}, 403, "volumes",
         "your home volume"),
        ("POST", "jobs", {"command": ["true"], "volumes": ["secret:hub-secret"]}, 403, "volumes",
         "a Secret the admins share (JobsManager.shared_secrets: none), not the Secret"),
        ("POST", "jobs", {"command": ["true"], "volumes": ["configmap:hub"]}, 403, "volumes",
         "(JobsManager.shared_configmaps: none), not the ConfigMap 'hub'"),
        ("POST", "plan", {"command": ["true"], "volumes": ["configmap"]}, 400, "volumes",
         "'configmap:<name>'"),
        ("POST", "plan", {"command": ["true"], "volumes": ["pvc:claim-bob"]}, 403, "volumes",
         "not the claim 'claim-bob'"),
        ("GET", "jobs?state=lost", None, 400, "state", "must be one of queued"),
        ("GET", "jobs?site=mars", None, 400, "site", "sites are"),
        ("GET", "jobs?colour=red", None, 400, "colour", "this endpoint takes"),
        ("GET", "jobs?user=bob", None, 403, None, "only admins"),
        ("GET", "jobs/0123456789", None, 404, None, "no job"),
        ("GET", "nowhere", None, 404, None, "no such endpoint"),
        ("PUT", "jobs", {}, 405, None, "use GET or POST"),
        ("POST", "jobs/0123456789/rerun", {"where": "x"}, 400, "where", "unknown field"),
    ],
)  # fmt: skip
async def test_every_4xx_is_json_naming_the_field_and_the_fix(
    api, method, path, body, status, field, words
):
    got, error = await api.call(method, path, body)
    assert got == status, error
    openapi.validate("Error", error)
    assert error["status"] == status
    assert words in error["error"], error
    assert error.get("field") == field


async def test_bad_json_and_empty_body(api):
    status, error = await api.call("POST", "jobs", raw=b"{not json")
    assert status == 400 and "not valid JSON" in error["error"]
    status, error = await api.call("POST", "jobs", raw=b"")
    assert status == 400 and "needs a JSON body" in error["error"]
    status, error = await api.call("POST", "plan", raw=b'{"command": ["true"], "x": NaN}')
    assert status == 400 and "NaN" in error["error"]
    status, error = await api.call("POST", "plan", raw=b'{"resources": {"memory": 1e999}}')
    assert status == 400 and "too large" in error["error"]
    for raw in (
        b'{"command": ["true"], "client_request_id": "\\ud800"}',
        b'{"command": ["\\udfff"]}',
    ):
        status, error = await api.call("POST", "jobs", raw=raw)
        assert status == 400 and "unpaired surrogate" in error["error"], error
    status, job = await api.call("POST", "plan", raw=b'{"command": ["\\ud83d\\ude00", "x"]}')
    assert status == 200, job


async def test_unauthenticated_requests_are_refused_in_words(api):
    for token in (None, "wrong-token"):
        status, error = await api.call("GET", "jobs", token=token)
        assert status == 401
        assert "Authorization: token" in error["error"]
    status, error = await api.call("GET", "openapi.json", token=None)
    assert status == 401


#: The only handlers that answer without a token: the kubelet's probes, which say a status
#: word and nothing else (as JupyterHub's /hub/health and Kubernetes' own /healthz).
ANONYMOUS = {"HealthzHandler": "/healthz", "ReadyzHandler": "/readyz"}
METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")


async def test_every_handler_is_authenticated_but_the_two_probes(api):
    """Every route of the service, every method it implements, called without a token and
    with a wrong one: a 401 in words, except the probes listed in ANONYMOUS."""
    import re

    from tornado import web

    from aiinfn_hub.jobs.handlers import APIHandler, routes

    open_paths = {}
    checked = 0
    for pattern, handler in routes("/services/aiinfn-jobs/"):
        assert issubclass(handler, APIHandler), pattern
        path = re.sub(r"\(\?P<\w+>[^)]*\)", "0123456789", pattern).replace("/?", "")
        path = path.replace("(.*)", "anything").removeprefix("/services/aiinfn-jobs/")
        methods = [
            m
            for m in METHODS
            if getattr(handler, m.lower()) is not getattr(web.RequestHandler, m.lower())
        ]
        assert methods, f"{handler.__name__} answers nothing"
        for method in methods:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            for token in (None, "not-a-token"):
                status, answer = await api.call(method, path, body, token=token)
                checked += 1
                if handler.__name__ in ANONYMOUS:
                    assert status in (200, 503), (method, path, status)
                    assert set(answer) == {"status"}, answer  # a status word, nothing else
                    open_paths[handler.__name__] = "/" + path
                    continue
                assert status == 401, (method, path, status, answer)
                assert "Authorization: token" in answer["error"]
    assert open_paths == ANONYMOUS
    assert checked >= 2 * 14


async def test_a_user_sees_and_acts_on_their_own_jobs_only(api, manager):
    _, mine = await api.call("POST", "jobs", LONG)
    _, theirs = await api.call("POST", "jobs", {**SHORT, "name": "bobs"}, token="bob-token")
    await wait_for(manager, mine["id"], ("running",))
    for method, path, body in [
        ("GET", f"jobs/{mine['id']}", None),
        ("DELETE", f"jobs/{mine['id']}", None),
        ("GET", f"jobs/{mine['id']}/log", None),
        ("POST", f"jobs/{mine['id']}/rerun", {}),
        ("POST", f"jobs/{mine['id']}/collected", None),
    ]:
        status, error = await api.call(method, path, body, token="bob-token")
        assert status == 404, (method, path, error)
        assert "among your jobs" in error["error"]
    _, bobs = await api.call("GET", "jobs", token="bob-token")
    assert [j["id"] for j in bobs["jobs"]] == [theirs["id"]]
    _, alices = await api.call("GET", "jobs")
    assert [j["id"] for j in alices["jobs"]] == [mine["id"]]
    assert manager.jobs[mine["id"]].view["state"] == "running"

    _, everyone = await api.call("GET", "jobs", token="admin-token")
    assert {j["id"] for j in everyone["jobs"]} == {mine["id"], theirs["id"]}
    _, only_bob = await api.call("GET", "jobs?user=bob", token="admin-token")
    assert [j["id"] for j in only_bob["jobs"]] == [theirs["id"]]
    status, cancelled = await api.call("DELETE", f"jobs/{mine['id']}", token="admin-token")
    assert status == 200
    assert cancelled["state"] == "cancelled" and cancelled["reason"] == "cancelled by admin admin"
    status, again = await api.call("DELETE", f"jobs/{mine['id']}")
    assert status == 409 and "already ended" in again["error"]


async def test_log_over_http_with_offsets_and_array_indexes(api, manager):
    script = "import os; print('index', os.environ['JOB_COMPLETION_INDEX'])"
    _, job = await api.call(
        "POST",
        "jobs",
        {"command": ["python", "-c", script], "completions": 3, "parallelism": 3,
         "local_only": True},
    )  # fmt: skip
    done = await wait_for(manager, job["id"])
    assert done["progress"]["succeeded"] == 3
    status, chunk = await api.call("GET", f"jobs/{job['id']}/log?completion_index=2")
    assert status == 200
    openapi.validate("LogChunk", chunk)
    assert chunk["data"] == "index 2\n" and chunk["eof"] is True and chunk["next_offset"] == 8
    _, tail = await api.call("GET", f"jobs/{job['id']}/log?completion_index=2&offset=6")
    assert tail["data"] == "2\n"
    status, error = await api.call("GET", f"jobs/{job['id']}/log?completion_index=3")
    assert (status, error["field"]) == (400, "completion_index")
    assert error["error"] == "completion_index must be from 0 to 2, this job's indexes"


async def test_log_of_a_job_not_started_yet(api, sandbox):
    sandbox.faults.stall_admission("local")
    _, job = await api.call("POST", "jobs", SHORT)
    status, chunk = await api.call("GET", f"jobs/{job['id']}/log")
    assert status == 200
    assert chunk == {
        "data": "",
        "next_offset": 0,
        "eof": False,
        "pod": None,
        "message": "the job has not started yet",
    }


async def test_rerun_over_http_at_a_named_site(api, manager):
    _, job = await api.call("POST", "jobs", {"command": ["true"]})
    assert job["site"] == "tier1"
    await wait_for(manager, job["id"])
    status, again = await api.call("POST", f"jobs/{job['id']}/rerun", {"site": "local"})
    assert status == 201 and again["id"] != job["id"]
    assert [s["name"] for s in again["plan"]["sites"]] == ["local"]
    done = await wait_for(manager, again["id"])
    assert (done["state"], done["site"]) == ("succeeded", "local")
    status, error = await api.call("POST", f"jobs/{job['id']}/rerun", {"site": "mars"})
    assert status == 400 and error["field"] == "site"


async def test_plan_previews_without_submitting(api):
    status, plan = await api.call("POST", "plan", {"command": ["true"], "resources": {"gpus": 1}})
    assert status == 200
    openapi.validate("Plan", plan)
    assert plan["requires_gpu"] and plan["offloadable"]
    assert [s["name"] for s in plan["sites"]] == ["leonardo", "local"]
    _, page = await api.call("GET", "jobs")
    assert page["total"] == 0


async def test_sites_show_health_capacity_and_queue(api, manager, sandbox):
    sandbox.faults.site_down("tier1")
    sandbox.faults.stall_admission("local")
    await wait_until(lambda: not manager.health["tier1"].usable, message="tier1 down")
    _, job = await api.call("POST", "jobs", {**SHORT, "resources": {"gpus": 1}})
    await wait_until(
        lambda: manager.sites()[2]["queue"]["reasons"], message="a pending reason at local"
    )
    status, body = await api.call("GET", "sites")
    assert status == 200
    sites = {s["name"]: s for s in body["sites"]}
    for site in body["sites"]:
        openapi.validate("Site", site)
    assert sites["tier1"]["health"]["usable"] is False
    assert "connection to the site is lost" in sites["tier1"]["health"]["state"]
    assert sites["leonardo"]["health"] == {"usable": True, "state": "ok"}
    assert sites["leonardo"]["capacity"]["gpus"] == {"total": 32, "free": 32}
    assert sites["local"]["capacity"]["gpus"]["total"] == 17
    assert sites["local"]["queue"]["pending"] == 1
    assert sites["local"]["queue"]["reasons"] == [
        manager.workloads[next(iter(manager.workloads))]["status"]["conditions"][0]["message"]
    ]
    assert job["site"] == "local"


async def test_metrics_in_prometheus_format(api, manager):
    _, job = await api.call("POST", "jobs", SHORT)
    await wait_for(manager, job["id"])
    status, text = await api.call("GET", "metrics", token="admin-token")
    assert status == 200
    # read back as Prometheus reads it
    samples = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    kinds = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert kinds == {
        "aiinfn_jobs": "gauge",
        "aiinfn_job_events": "counter",
        "aiinfn_kube_requests": "counter",
        "aiinfn_site_usable": "gauge",
        "aiinfn_site_breaker": "gauge",
    }
    assert samples[("aiinfn_jobs", (("state", "succeeded"),))] == 1
    assert samples[("aiinfn_job_events_total", (("event", "submitted"),))] == 1
    assert samples[("aiinfn_site_usable", (("site", "leonardo"),))] == 1
    assert samples[("aiinfn_site_breaker", (("site", "leonardo"), ("state", "closed")))] == 1
    assert samples[("aiinfn_site_breaker", (("site", "leonardo"), ("state", "open")))] == 0
    assert samples[("aiinfn_kube_requests_total", (("request", "create job"),))] >= 1


async def test_events_stream_the_callers_job_changes_only(api, manager):
    async with (
        EventStream(api.url, "alice-token") as alice,
        EventStream(api.url, "admin-token") as admin,
    ):
        _, bobs = await api.call("POST", "jobs", SHORT, token="bob-token")
        _, mine = await api.call("POST", "jobs", SHORT)
        await wait_until(lambda: "succeeded" in alice.states(mine["id"]), message="alice's end")
        await wait_until(lambda: "succeeded" in admin.states(bobs["id"]), message="bob's end")
        await wait_for(manager, bobs["id"])
    assert alice.states(mine["id"])[0] == "queued"
    assert alice.states(mine["id"])[-1] == "succeeded"
    assert {e["job"]["owner"] for e in alice.events} == {"alice"}
    assert {e["job"]["owner"] for e in admin.events} == {"alice", "bob"}
    for event in alice.events:
        assert event["type"] == "job" and event["time"]
        openapi.validate("Job", event["job"])
    await wait_until(lambda: not manager.events.subscribers, message="closed streams unsubscribed")
