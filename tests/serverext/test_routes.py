"""Every route of the extension, in standalone mode on the sandbox: answers and bad input.

Each error must be a 4xx JSON object whose ``error`` says what is wrong (never a 500)."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio.client import CoreV1Api

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.kube.client import kube_client
from aiinfn_hub.runner import BEGIN_PREFIX, PLACEHOLDER
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import extension_config, write_notebook

SHORT = {"command": ["python", "-c", "print('hello from the job')"], "local_only": True}
LONG = {"command": ["sleep", "120"], "local_only": True}


@pytest.fixture
def jp_server_config(sandbox):
    """Standalone on the session's sandbox, with a small limit for files shipped with a job."""
    config = extension_config(mode="standalone", kubeconfig=str(sandbox.kubeconfig))
    config["JobsManager"] = {"max_staged_bytes": 4000}  # the service's limit, the only one
    return config


def assert_error(status: int, body, expected: int, *words: str) -> None:
    assert status == expected, body
    assert isinstance(body, dict) and body["status"] == expected, body
    for word in words:
        assert word in body["error"], body


async def follow_log(api, job_id: str) -> str:
    """The whole log, read piece by piece from offsets as the panel and the CLI do."""
    pieces, cursor = [], {"offset": 0}

    async def next_piece():
        status, piece = await api("GET", f"jobs/{job_id}/log", params=cursor)
        assert status == 200, piece
        pieces.append(piece["data"])
        cursor["offset"] = piece["next_offset"]
        return piece["eof"]

    await wait_until(next_piece, 90, 0.2, f"the end of job {job_id}'s log")
    return "".join(pieces)


async def test_whoami_and_sites(api):
    status, me = await api("GET", "whoami")
    assert status == 200
    assert (me["name"], me["mode"], me["admin"]) == ("alice", "standalone", True)
    assert me["settings"]["max_staged_bytes"] == 4000  # the service's own, not a copy
    assert me["defaults"]["cpu"]
    status, body = await api("GET", "sites")
    assert status == 200
    assert {s["name"] for s in body["sites"]} == {"local", "leonardo", "tier1"}
    assert all(s["health"]["usable"] for s in body["sites"])


async def test_whoami_gives_the_profiles_resources_as_the_dialogs_defaults(api, monkeypatch):
    """AIInfnSpawner's profile puts its resources in the server's environment."""
    for key, value in {"CPU": "4", "MEMORY": "16Gi", "GPUS": "1", "GPU_MODEL": "A100"}.items():
        monkeypatch.setenv(f"AIINFN_DEFAULT_{key}", value)
    status, me = await api("GET", "whoami")
    assert status == 200
    assert me["defaults"] == {"cpu": "4", "memory": "16Gi", "gpus": 1, "gpu_model": "A100"}


async def test_plan_previews_without_submitting(api, jp_root_dir, manager):
    (jp_root_dir / "train.py").write_text("print(1)\n")
    status, plan = await api("POST", "plan", {"path": "train.py"})
    assert status == 200
    assert [s["name"] for s in plan["sites"]] == ["tier1", "local"]
    status, plan = await api("POST", "plan", {"command": ["nvidia-smi"], "resources": {"gpus": 1}})
    assert status == 200 and plan["requires_gpu"] is True
    assert plan["sites"][0]["name"] == "leonardo"
    status, plan = await api("POST", "plan", {"path": "train.py", "staging": "home"})
    assert status == 200
    assert [s["name"] for s in plan["sites"]] == ["local"]
    assert "home volume" in json.dumps(plan["ruled_out"])
    status, body = await api("POST", "plan", {**SHORT, "resources": {"gpus": 1}, "site": "tier1"})
    assert_error(status, body, 422, "tier1")
    status, body = await api("GET", "jobs")
    assert body["total"] == 0, "a plan must submit nothing"


async def test_submit_follow_the_log_to_the_end_then_list(api):
    script = ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"]
    status, job = await api("POST", "jobs", {"command": script, "local_only": True})
    assert status == 201
    assert (job["owner"], job["site"], job["state"]) == ("alice", "local", "queued")
    text = await follow_log(api, job["id"])
    assert text.splitlines() == [f"line {i}" for i in range(1, 6)]
    status, done = await api("GET", f"jobs/{job['id']}")
    assert done["state"] == "succeeded" and done["executed_notebook"] is None
    status, page = await api("GET", "jobs", params={"state": "succeeded"})
    assert status == 200 and [j["id"] for j in page["jobs"]] == [job["id"]]
    status, page = await api("GET", "jobs", params={"state": "running"})
    assert status == 200 and page["jobs"] == []
    status, page = await api("GET", "jobs", params={"limit": 1, "offset": 0, "site": "local"})
    assert status == 200 and page["total"] == 1


async def test_cancel_and_rerun(api):
    status, job = await api("POST", "jobs", {**LONG, "name": "long one"})
    assert status == 201
    await api.wait(job["id"], states=("running",))
    status, cancelled = await api("DELETE", f"jobs/{job['id']}")
    assert status == 200 and cancelled["state"] == "cancelled"
    status, body = await api("DELETE", f"jobs/{job['id']}")
    assert_error(status, body, 409, "already ended")
    status, again = await api("POST", f"jobs/{job['id']}/rerun", {"site": "local"})
    assert status == 201
    assert again["id"] != job["id"] and again["name"] == "long one"
    assert again["plan"]["sites"] == [
        {"name": "local", "reason": "the site you asked for", "display_name": "Local resources"}
    ]
    status, _ = await api("DELETE", f"jobs/{again['id']}")
    assert status == 200
    status, body = await api("POST", f"jobs/{job['id']}/rerun", {"site": "nowhere"})
    assert status in (400, 422) and "nowhere" in body["error"]


async def test_unknown_jobs_and_bad_queries(api):
    for method, path in (
        ("GET", "jobs/0123456789"),
        ("DELETE", "jobs/0123456789"),
        ("GET", "jobs/0123456789/log"),
        ("POST", "jobs/0123456789/rerun"),
    ):
        status, body = await api(method, path)
        assert_error(status, body, 404, "0123456789")
    for params, field in (
        ({"limit": "many"}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"state": "sleeping"}, "state"),
    ):
        status, body = await api("GET", "jobs", params=params)
        assert status == 400 and field in body["error"], body
    status, body = await api("GET", "jobs/0123456789/log", params={"offset": "x"})
    assert_error(status, body, 400, "offset")


@pytest.mark.parametrize(
    ("body", "expected", "words"),
    [
        (None, 400, ["command"]),
        ([1, 2], 400, ["JSON object"]),
        ({"command": "python x.py"}, 400, ["command"]),
        ({"command": ["true"], "colour": "blue"}, 400, ["colour"]),
        ({"command": ["true"], "resources": {"memory": "lots"}}, 400, ["memory"]),
        ({"command": ["true"], "completions": 0}, 400, ["completions"]),
        ({"command": ["true"], "path": "x.py"}, 400, ["not both"]),
        ({"command": ["true"], "args": ["-v"]}, 400, ["args"]),
        ({"path": "x.py", "staging": "teleport"}, 400, ["staging"]),
        ({"command": ["true"], "staging": "home"}, 400, ["path"]),
        ({"path": "x.py", "args": "-v"}, 400, ["args"]),
        ({"path": "x.py", "parameters": {"n": 1}}, 400, ["notebooks"]),
        ({"path": "n.ipynb", "parameters": ["n"]}, 400, ["parameters"]),
        ({"path": "n.ipynb", "parameters": {"not a name": 1}}, 400, ["not a name"]),
        ({"path": "n.ipynb", "parameters": {"class": 1}}, 400, ["'class'"]),
        ({"path": "x.py", "staging": {}}, 400, ["staging"]),
        ({"path": "x.py", "staging": ""}, 400, ["staging"]),
    ],
)
async def test_bad_submissions_say_what_is_wrong(api, jp_root_dir, body, expected, words):
    (jp_root_dir / "x.py").write_text("print(1)\n")
    write_notebook(jp_root_dir / "n.ipynb", "n = 1")
    status, answer = await api("POST", "jobs", body)
    assert_error(status, answer, expected, *words)


@pytest.mark.parametrize(
    ("route", "method", "shown"),
    [
        ("jobs/x%20y", "GET", "'x y'"),
        ("jobs/%00", "DELETE", "'\\x00'"),
        ("jobs/..%2F..%2Fsites", "GET", "'../../sites'"),
        ("jobs/..%2Fwhoami/log", "GET", "'../whoami'"),
        ("jobs/%2F/rerun", "POST", "'/'"),
    ],
)
async def test_any_job_id_reaches_the_service_as_one_id(
    http_server_client, jp_base_url, jp_auth_header, api, route, method, shown
):
    """An id that decodes to spaces, slashes or dots is still one id: a 404 that names it
    (it once went unquoted into the service's URL: a 400 without words, or another route)."""
    response = await http_server_client.fetch(
        f"{jp_base_url}aiinfn-hub/api/{route}",
        method=method,
        body=b"{}" if method == "POST" else None,
        headers=jp_auth_header,
        raise_error=False,
    )
    assert_error(response.code, json.loads(response.body), 404, "no job", shown)


async def test_unknown_routes_and_methods_say_what_there_is(api):
    for method, path in (("GET", "nosuch"), ("POST", "jobs/abc/logs"), ("PUT", "a/b/c")):
        status, body = await api(method, path)
        assert_error(status, body, 404, "no such endpoint", "jobs/ID/log", "whoami")
    status, body = await api("PUT", "jobs", {})
    assert_error(status, body, 405, "PUT is not allowed here; use GET or POST")
    status, body = await api("GET", "plan")
    assert_error(status, body, 405, "use POST")
    status, body = await api("DELETE", "jobs/abc/log")
    assert_error(status, body, 405, "use GET")


async def test_invalid_json_is_a_400(api):
    status, body = await api("POST", "jobs", raw=b"{not json")
    assert_error(status, body, 400, "not valid JSON")
    status, body = await api("POST", "plan", raw=b"[")
    assert_error(status, body, 400, "not valid JSON")


@pytest.mark.parametrize(
    ("path", "expected", "words"),
    [
        ("../outside.py", 403, ["outside your files"]),
        ("/etc/passwd.sh", 403, ["outside your files"]),
        ("a/../../outside.py", 403, ["outside your files"]),
        ("notes.txt", 400, [".ipynb", ".py", ".sh"]),
        ("missing.py", 404, ["no file"]),
        ("folder.py", 400, ["folder"]),
        ("", 400, ["path"]),
    ],
)
async def test_staging_refuses_paths_outside_the_root_and_other_files(
    api, jp_root_dir, path, expected, words
):
    (jp_root_dir.parent / "outside.py").write_text("print('secret')\n")
    (jp_root_dir / "notes.txt").write_text("hello\n")
    (jp_root_dir / "folder.py").mkdir()
    status, body = await api("POST", "jobs", {"path": path})
    assert_error(status, body, expected, *words)
    assert body["field"] == "path"


async def test_too_large_a_file_is_a_413_with_the_limit_and_what_to_do(api, jp_root_dir):
    (jp_root_dir / "big.py").write_text("# padding\n" * 500)
    status, body = await api("POST", "jobs", {"path": "big.py"})
    assert_error(status, body, 413, "5,000 bytes", "4,000-byte limit", "home volume")
    assert body["field"] == "path"


async def test_notebooks_travel_without_their_outputs(api, jp_root_dir, sandbox):
    """A notebook whose outputs are far over the limit still ships: the job recomputes them."""
    write_notebook(jp_root_dir / "plots.ipynb", "x = 1", "print(x)")
    nb = json.loads((jp_root_dir / "plots.ipynb").read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "y" * 20000}]
    nb["cells"][1]["execution_count"] = 7
    (jp_root_dir / "plots.ipynb").write_text(json.dumps(nb))
    status, job = await api("POST", "jobs", {"path": "plots.ipynb", "local_only": True})
    assert status == 201, job
    client = await kube_client(str(sandbox.kubeconfig))
    try:
        record = await CoreV1Api(client).read_namespaced_config_map(
            L.record_name(job["id"]), "default"
        )
    finally:
        await client.close()
    shipped = json.loads(record.data["plots.ipynb"])
    assert [c["source"] for c in shipped["cells"]] == ["x = 1", "print(x)"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in shipped["cells"])
    status, _ = await api("DELETE", f"jobs/{job['id']}")
    assert status == 200


async def test_the_log_route_hides_the_returned_notebook(api, jp_root_dir):
    write_notebook(jp_root_dir / "tiny.ipynb", "print('tiny says hi')")
    status, job = await api("POST", "jobs", {"path": "tiny.ipynb", "local_only": True})
    assert status == 201
    await api.wait(job["id"])
    status, log = await api("GET", f"jobs/{job['id']}/log")
    assert status == 200 and log["eof"]
    assert "tiny says hi" in log["data"] and PLACEHOLDER in log["data"]
    assert BEGIN_PREFIX not in log["data"]
