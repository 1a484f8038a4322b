"""Bringing executed notebooks back next to their source, as ``<name>.<job-id>.ipynb``.

The runner prints the executed notebook at the end of the job's log (see
:mod:`aiinfn_hub.runner`), the one channel that returns from local and offloaded sites
alike. When a notebook job of this server's user ends (an event, a ``GET`` of the job, or
a scan at start-up for jobs that ended while the server was down), the log is read, the
notebook decoded and saved through the contents manager. Once every executed notebook of the
job is saved, the service is told (``POST /jobs/{id}/collected``), so it may delete the job's
pods and log now rather than at the end of its retention window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async

from ..errors import AIInfnError, error_for_status
from ..jobs.model import completions_of
from ..kube.conditions import parse_time
from ..runner import SOURCE_ENV, decode_block
from .backends import Backend

log = logging.getLogger(__name__)
ENDED = ("succeeded", "failed")


def source_notebook(job: dict[str, Any]) -> str | None:
    """The notebook a job runs, relative to the server's root, if it runs one."""
    spec = job.get("spec") or {}
    script = spec.get("script") or {}
    if script.get("kind") == "notebook":
        return script.get("path")
    return (spec.get("env") or {}).get(SOURCE_ENV)


def targets(job: dict[str, Any]) -> dict[int | None, str]:
    """Where each executed notebook of the job goes: completion index -> path."""
    source = source_notebook(job)
    if not source:
        return {}
    stem = source[: -len(".ipynb")] if source.endswith(".ipynb") else source
    completions = completions_of(job.get("spec") or {})
    if completions == 1:
        return {None: f"{stem}.{job['id']}.ipynb"}
    return {i: f"{stem}.{job['id']}.{i}.ipynb" for i in range(completions)}


class NotebookReturns:
    """Saves the executed notebooks of ``owner``'s ended jobs; ``on_saved(job, path)``."""

    def __init__(
        self,
        backend: Backend,
        contents_manager: Any,
        owner: str,
        on_saved: Callable[[dict[str, Any], str], None],
        attempts: int = 20,
        retry_delay: float = 0.5,
    ) -> None:
        self.backend = backend
        self.contents_manager = contents_manager
        self.owner = owner
        self.on_saved = on_saved
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.done: set[str] = set()
        self.tasks: set[asyncio.Task] = set()

    def wanted(self, job: dict[str, Any]) -> bool:
        return (
            job.get("state") in ENDED
            and job.get("owner") == self.owner
            and job.get("id") not in self.done
            and source_notebook(job) is not None
        )

    def on_job(self, job: dict[str, Any]) -> None:
        """Collect ``job``'s notebook in the background, once, if it is an ended notebook job."""
        if not self.wanted(job):
            return
        self.done.add(job["id"])
        task = asyncio.ensure_future(self.collect(job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def collect(self, job: dict[str, Any]) -> list[str]:
        """Save each executed notebook of ``job`` that is not saved yet; the paths saved."""
        saved = []
        try:
            missing = 0
            for index, target in targets(job).items():
                if await ensure_async(self.contents_manager.file_exists(target)):
                    continue
                text = await self._notebook(job["id"], index)
                if text is None:
                    log.info("job %s left no executed notebook in its log", job["id"])
                    missing += 1
                    continue
                model = {"type": "notebook", "format": "json", "content": nbformat.reads(text, 4)}
                await ensure_async(self.contents_manager.save(model, target))
                log.info("job %s: executed notebook saved as %s", job["id"], target)
                saved.append(target)
                self.on_saved(job, target)
            if not missing:
                await self._collected(job["id"])
        except (AIInfnError, ValueError, OSError) as exc:
            self.done.discard(job["id"])
            log.warning("job %s: executed notebook not saved: %s", job["id"], exc)
        except Exception:
            self.done.discard(job["id"])
            log.exception("job %s: executed notebook not saved", job["id"])
        return saved

    async def _collected(self, job_id: str) -> None:
        """Tell the service every executed notebook of the job is saved. If it cannot be
        told, nothing is lost: it removes the log at the end of its window instead."""
        try:
            status, data = await self.backend.call("POST", f"jobs/{job_id}/collected")
        except AIInfnError as exc:
            status, data = exc.status, exc.to_dict()
        if status != 200:
            log.info("job %s: the service was not told the notebook is saved: %s", job_id,
                     (data or {}).get("error"))  # fmt: skip

    async def _notebook(self, job_id: str, index: int | None) -> str | None:
        """The executed notebook's JSON from the job's log; waits briefly for the log's end."""
        for _ in range(self.attempts):
            status, data = await self.backend.call(
                "GET", f"jobs/{job_id}/log", None, {"offset": 0, "completion_index": index}
            )
            if status != 200:
                raise error_for_status(status, (data or {}).get("error", "the log is unavailable"))
            found = decode_block(data.get("data") or "")
            if found is not None:
                return found[1]
            if data.get("eof"):
                return None
            await asyncio.sleep(self.retry_delay)
        return None

    async def scan(self, within_hours: float) -> None:
        """Collect for the owner's notebook jobs that ended in the last ``within_hours``."""
        since = time.time() - within_hours * 3600
        offset: int | None = 0
        while offset is not None:
            status, page = await self.backend.call(
                "GET", "jobs", None, {"user": None, "limit": 500, "offset": offset}
            )
            if status != 200:
                log.info("no scan for returned notebooks: %s", (page or {}).get("error"))
                return
            for job in page.get("jobs", []):
                if (parse_time(job.get("ended")) or 0.0) >= since:
                    self.on_job(job)
            offset = page.get("next_offset")

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
