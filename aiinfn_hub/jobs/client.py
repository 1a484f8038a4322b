"""The Python API for notebooks and scripts: ``from aiinfn_hub import jobs``.

    job = jobs.submit("train.ipynb", gpus=1, walltime="2h")
    jobs.wait(job["id"])
    print(jobs.logs(job["id"]))

It talks to the server extension of the Jupyter server it runs in (found through Jupyter's
runtime files), or, when ``AIINFN_JOBS_API`` is set, to that URL directly (the hub's jobs
service, with ``AIINFN_JOBS_TOKEN`` or ``JUPYTERHUB_API_TOKEN``). Errors raise
:class:`JobsClientError` with the server's own words.
"""

from __future__ import annotations

import builtins
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

TERMINAL = ("succeeded", "failed", "cancelled")


class JobsClientError(Exception):
    """The server refused or failed: ``status`` and its message."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class Connection:
    """Where the API is and how to authenticate; ``kind`` is 'extension' or 'service'."""

    def __init__(self, url: str, token: str = "", kind: str = "extension", root: str = "") -> None:
        self.url = url.rstrip("/") + "/"
        self.token = token
        self.kind = kind
        self.root = root

    @classmethod
    def discover(cls) -> Connection:
        """The API of this environment: $AIINFN_JOBS_API, else the running Jupyter server."""
        explicit = os.environ.get("AIINFN_JOBS_API")
        token = os.environ.get("AIINFN_JOBS_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if explicit:
            kind = "extension" if "/aiinfn-hub/api" in explicit else "service"
            return cls(explicit, token, kind)
        try:
            from jupyter_server.serverapp import list_running_servers
        except ImportError:  # pragma: no cover - jupyter-server is a dependency
            servers = []
        else:
            servers = builtins.list(list_running_servers())
        for server in sorted(servers, key=lambda s: s.get("pid", 0), reverse=True):
            url = server["url"].replace("0.0.0.0", "127.0.0.1")
            return cls(
                url + "aiinfn-hub/api/",
                server.get("token") or token,
                "extension",
                server.get("root_dir", ""),
            )
        raise JobsClientError(
            0,
            "no Jupyter server with aiinfn-hub was found: run this inside JupyterLab, or set "
            "AIINFN_JOBS_API (and AIINFN_JOBS_TOKEN) to the jobs service",
        )

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        query = {k: v for k, v in query.items() if v is not None}
        url = self.url + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except ValueError:
                message = str(exc.reason)
            raise JobsClientError(exc.code, message) from None
        except urllib.error.URLError as exc:
            raise JobsClientError(0, f"cannot reach {self.url} ({exc.reason})") from None


_connection: Connection | None = None


def connection() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection.discover()
    return _connection


def connect(url: str, token: str = "", kind: str | None = None) -> Connection:
    """Use this API from now on (e.g. the hub's jobs service URL and a token)."""
    global _connection
    detected = "extension" if "/aiinfn-hub/api" in url else "service"
    _connection = Connection(url, token, kind or detected)
    return _connection


def build_request(
    target: str | os.PathLike | None = None,
    *,
    command: builtins.list[str] | None = None,
    name: str | None = None,
    gpus: int | None = None,
    gpu_model: str | None = None,
    cpu: str | float | None = None,
    memory: str | None = None,
    walltime: str | None = None,
    completions: int | None = None,
    parallelism: int | None = None,
    env: dict[str, str] | None = None,
    volumes: builtins.list[str] | None = None,
    local_only: bool = False,
    site: str | None = None,
    args: builtins.list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """The request body for ``target`` (a file) or ``command``."""
    conn = conn or connection()
    body: dict[str, Any] = {}
    if (target is None) == (command is None):
        raise JobsClientError(400, "give a file to run or a command, not both and not neither")
    if command is not None:
        body["command"] = builtins.list(command)
    else:
        path = Path(target)
        if conn.kind == "extension":
            body["path"] = _relative_to_root(path, conn.root)
            if args:
                body["args"] = builtins.list(args)
            if parameters:
                body["parameters"] = dict(parameters)
        else:
            script = {"path": path.name, "content": path.read_text()}
            if args:
                script["args"] = builtins.list(args)
            if parameters:
                script["parameters"] = dict(parameters)
            body["script"] = script
    resources = {"cpu": cpu, "memory": memory, "gpus": gpus, "gpu_model": gpu_model}
    resources = {k: v for k, v in resources.items() if v is not None}
    if resources:
        body["resources"] = resources
    for key, value in (
        ("name", name),
        ("walltime", walltime),
        ("completions", completions),
        ("parallelism", parallelism),
        ("env", env),
        ("volumes", volumes),
        ("site", site),
    ):
        if value is not None:
            body[key] = value
    if local_only:
        body["local_only"] = True
    return body


def _relative_to_root(path: Path, root: str) -> str:
    absolute = path.expanduser().resolve()
    base = Path(root).expanduser().resolve() if root else Path.cwd()
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        raise JobsClientError(
            403, f"{path} is outside the Jupyter server's files ({base}); move it there"
        ) from None


def submit(target: str | os.PathLike | None = None, **options: Any) -> dict[str, Any]:
    """Submit a notebook, script or ``command=[...]`` as a background job; returns the job."""
    conn = options.pop("conn", None) or connection()
    return conn.request("POST", "jobs", build_request(target, conn=conn, **options))


def plan(target: str | os.PathLike | None = None, **options: Any) -> dict[str, Any]:
    """Where a job would run and why; nothing is submitted."""
    conn = options.pop("conn", None) or connection()
    body = build_request(target, conn=conn, **options)
    if "script" in body:
        body["script"]["content"] = ""
    return conn.request("POST", "plan", body)


def get(job_id: str) -> dict[str, Any]:
    return connection().request("GET", f"jobs/{job_id}")


def list(
    state: str | None = None, site: str | None = None, user: str | None = None
) -> builtins.list[dict[str, Any]]:
    """Your jobs, newest first (every page)."""
    found: builtins.list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = connection().request(
            "GET", "jobs", state=state, site=site, user=user, limit=500, offset=offset
        )
        found.extend(page["jobs"])
        offset = page.get("next_offset")
    return found


def cancel(job_id: str) -> dict[str, Any]:
    return connection().request("DELETE", f"jobs/{job_id}")


def rerun(job_id: str, site: str | None = None) -> dict[str, Any]:
    return connection().request("POST", f"jobs/{job_id}/rerun", {"site": site})


def sites() -> builtins.list[dict[str, Any]]:
    return connection().request("GET", "sites")["sites"]


def log_chunks(
    job_id: str, follow: bool = False, completion_index: int | None = None, interval: float = 1.0
) -> Iterator[str]:
    """The job's log in pieces; with ``follow``, until the job ends."""
    offset = 0
    while True:
        data = connection().request(
            "GET", f"jobs/{job_id}/log", offset=offset, completion_index=completion_index
        )
        if data.get("data"):
            yield data["data"]
        offset = data.get("next_offset", offset)
        if data.get("eof") or not follow:
            return
        time.sleep(interval)


def logs(job_id: str, completion_index: int | None = None) -> str:
    """The log so far."""
    return "".join(log_chunks(job_id, completion_index=completion_index))


def wait(job_id: str, timeout: float | None = None, interval: float = 1.0) -> dict[str, Any]:
    """Block until the job ends (or ``timeout`` seconds pass); returns the job."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = get(job_id)
        if job["state"] in TERMINAL:
            return job
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout} s")
        time.sleep(interval)
