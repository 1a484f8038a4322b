"""The Python API for notebooks and scripts: ``from aiinfn_hub import jobs``.

    job = jobs.submit("train.ipynb", gpus=1, walltime="2h", parameters={"epochs": 3})
    job = jobs.wait(job["id"])           # the job once it has ended
    print(jobs.logs(job["id"]))
    print(jobs.why(job["id"]))           # why it waits or failed, in one sentence

This module builds the requests and holds the operations; where it sends them (the
Jupyter server it runs in, ``$AIINFN_JOBS_API`` or :func:`connect`) and how is
:mod:`.connection`'s job. Standard library only.

Files are given by path (relative to the current directory); through the extension the
server reads them, straight to the service they are read here and shipped. Errors raise
:class:`JobsClientError` with the server's own words.
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .connection import (
    EXTENSION_PATH,
    Connection,
    JobsClientError,
    connect,
    connection,
    job_path,
    running_servers,
)

__all__ = [
    "EXTENSION_PATH",
    "TERMINAL",
    "Connection",
    "JobsClientError",
    "LogCursor",
    "build_request",
    "cancel",
    "connect",
    "connection",
    "executed_notebook",
    "get",
    "job_path",
    "list",
    "log_chunks",
    "log_slice",
    "logs",
    "plan",
    "rerun",
    "running_servers",
    "sites",
    "submit",
    "wait",
    "why",
]

TERMINAL = ("succeeded", "failed", "cancelled")


def build_request(
    target: str | os.PathLike[str] | None = None,
    *,
    command: builtins.list[str] | None = None,
    name: str | None = None,
    gpus: int | None = None,
    gpu_model: str | None = None,
    cpu: str | float | None = None,
    memory: str | None = None,
    walltime: str | int | None = None,
    completions: int | None = None,
    parallelism: int | None = None,
    env: dict[str, str] | None = None,
    volumes: builtins.list[str] | None = None,
    local_only: bool = False,
    site: str | None = None,
    args: builtins.list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    from_home: bool = False,
    client_request_id: str | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """The request body for ``target`` (a notebook or script) or ``command`` (a list)."""
    conn = conn or connection()
    body: dict[str, Any] = {}
    if (target is None) == (command is None):
        raise JobsClientError(400, "give a file to run or a command, not both and not neither")
    if command is not None:
        if isinstance(command, str) or not command:
            raise JobsClientError(400, 'command must be a list of words, e.g. ["python", "x.py"]')
        if args or parameters or from_home:
            raise JobsClientError(400, "args, parameters and from_home go with a file")
        body["command"] = [str(word) for word in command]
    else:
        assert target is not None  # one of the two, checked above
        path = Path(target)
        if conn.kind == "extension":
            body["path"] = _relative_to_root(path, conn.root)
            if args:
                body["args"] = [str(a) for a in args]
            if parameters:
                body["parameters"] = dict(parameters)
            if from_home:
                body["staging"] = "home"
        else:
            if from_home:
                raise JobsClientError(
                    400, "from_home needs the Jupyter server extension (the server's files)"
                )
            try:
                content = path.read_text()
            except OSError as exc:
                raise JobsClientError(400, f"cannot read {path}: {exc.strerror or exc}") from None
            script: dict[str, Any] = {"path": path.name, "content": content}
            if args:
                script["args"] = [str(a) for a in args]
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
        ("client_request_id", client_request_id),
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


def submit(target: str | os.PathLike[str] | None = None, **options: Any) -> dict[str, Any]:
    """Submit a notebook, script or ``command=[...]`` as a background job; returns the job.

    Options: ``gpus``, ``gpu_model``, ``cpu``, ``memory``, ``walltime``, ``completions``,
    ``parallelism``, ``env``, ``volumes``, ``local_only``, ``site``, ``name``, ``args``
    (scripts), ``parameters`` (notebooks), ``from_home`` (local sites: run the file in
    place from the home volume), ``client_request_id`` (safe retries)."""
    conn = options.pop("conn", None) or connection()
    found: dict[str, Any] = conn.request(
        "POST", "jobs", build_request(target, conn=conn, **options)
    )
    return found


def plan(target: str | os.PathLike[str] | None = None, **options: Any) -> dict[str, Any]:
    """Where a job would run and why; nothing is submitted."""
    conn = options.pop("conn", None) or connection()
    body = build_request(target, conn=conn, **options)
    if "script" in body:
        body["script"]["content"] = ""
    found: dict[str, Any] = conn.request("POST", "plan", body)
    return found


def get(job_id: str) -> dict[str, Any]:
    """The job: state, site, plan and attempt history."""
    found: dict[str, Any] = connection().request("GET", job_path(job_id))
    return found


def why(job: str | dict[str, Any]) -> str:
    """Why the job (its id, or a job as :func:`get` returns it) waits, runs or failed, in one
    sentence from every layer that knows (Kueue, the remote site, the node, the pod), e.g.
    ``Admitted at CINECA Leonardo: waiting in the site's batch queue as remote job 4242117.``
    Each layer's raw words are in ``get(job_id)["explanation"]["details"]``."""
    found = get(job) if isinstance(job, str) else job
    explanation = found.get("explanation") or {}
    return str(explanation.get("sentence") or found.get("reason") or "")


def list(
    state: str | None = None, site: str | None = None, user: str | None = None
) -> builtins.list[dict[str, Any]]:
    """Your jobs, newest first (every page); admins may pass ``user``."""
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
    """Cancel the job; returns it."""
    found: dict[str, Any] = connection().request("DELETE", job_path(job_id))
    return found


def rerun(job_id: str, site: str | None = None) -> dict[str, Any]:
    """Submit the job again as a new job, optionally at ``site``; returns the new job."""
    body = {"site": site} if site else {}
    found: dict[str, Any] = connection().request("POST", job_path(job_id, "/rerun"), body)
    return found


def sites() -> builtins.list[dict[str, Any]]:
    """The sites: health, free and total capacity, queue depth."""
    found: builtins.list[dict[str, Any]] = connection().request("GET", "sites")["sites"]
    return found


def log_slice(job_id: str, offset: int = 0, completion_index: int | None = None) -> dict[str, Any]:
    """``{data, next_offset, eof, pod}`` of the current attempt's log from ``offset``."""
    conn = connection()
    data = conn.request(
        "GET", job_path(job_id, "/log"), offset=offset, completion_index=completion_index
    )
    if conn.kind == "service":  # the extension already hides the returned notebook
        from ..runner import readable

        data["data"], data["next_offset"] = readable(data.get("data") or "", offset, data["eof"])
    found: dict[str, Any] = data
    return found


class LogCursor:
    """Reads a job's log piece by piece; starts over when the job moves to a new attempt."""

    def __init__(self, job_id: str, completion_index: int | None = None) -> None:
        self.job_id = job_id
        self.completion_index = completion_index
        self.offset = 0
        self.pod: str | None = None
        self.eof = False

    def read(self) -> str:
        """What was added since the last read (with a line when the attempt changed)."""
        data = log_slice(self.job_id, self.offset, self.completion_index)
        moved = ""
        if data.get("pod") and self.pod and data["pod"] != self.pod:
            self.offset = 0
            moved = f"-- the job moved: a new attempt ({data['pod']})\n"
            data = log_slice(self.job_id, 0, self.completion_index)
        self.pod = data.get("pod") or self.pod
        self.offset = data.get("next_offset", self.offset)
        self.eof = bool(data.get("eof"))
        return moved + (data.get("data") or "")


def log_chunks(
    job_id: str, follow: bool = False, completion_index: int | None = None, interval: float = 1.0
) -> Iterator[str]:
    """The job's log in pieces; with ``follow``, until the job has ended."""
    cursor = LogCursor(job_id, completion_index)
    while True:
        text = cursor.read()
        if text:
            yield text
        if not follow or cursor.eof:
            return
        time.sleep(interval)


def logs(job_id: str, completion_index: int | None = None) -> str:
    """The log so far (of ``completion_index`` for array jobs)."""
    return "".join(log_chunks(job_id, completion_index=completion_index))


def wait(job_id: str, timeout: float | None = None, interval: float = 1.0) -> dict[str, Any]:
    """Block until the job ends (or ``timeout`` seconds pass: TimeoutError); returns the job,
    for a notebook with ``executed_notebook``: where the executed notebook was saved."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = get(job_id)
        if job["state"] in TERMINAL:
            if "executed_notebook" in job:
                job["executed_notebook"] = executed_notebook(job)
            return job
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout} s")
        time.sleep(interval)


def executed_notebook(job: dict[str, Any], within: float = 15.0) -> str | None:
    """Where the server saved an ended notebook job's executed notebook (it is saved a moment
    after the job ends; this waits up to ``within`` s), or None: not a notebook job, or no
    server extension to save it."""
    from ..runner import SOURCE_ENV

    spec = job.get("spec") or {}
    notebook = (spec.get("script") or {}).get("kind") == "notebook" or (
        SOURCE_ENV in (spec.get("env") or {})
    )
    if not notebook or job["state"] not in ("succeeded", "failed"):
        return None
    if "executed_notebook" not in job:  # straight to the jobs service: nobody saves it
        return None
    deadline = time.monotonic() + within
    while not job.get("executed_notebook") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = get(job["id"])
    return job.get("executed_notebook")
