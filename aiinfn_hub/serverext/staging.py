"""Reading a notebook or script through the contents manager to ship it with a job."""

from __future__ import annotations

import json
from typing import Any

from ..jobs.errors import BadRequest, JobsError
from ..jobs.model import SCRIPT_KINDS


def check_path(path: Any) -> str:
    """A path relative to the server root, or :class:`BadRequest`; ``..`` and ``/`` refused."""
    if not isinstance(path, str) or not path.strip():
        raise BadRequest("path must name a notebook, Python script or shell script", "path")
    clean = path.strip()
    if clean.startswith("/") or ".." in clean.split("/"):
        raise JobsError(403, f"{path!r} is outside your files; give a path inside them", "path")
    if not clean.endswith(tuple(SCRIPT_KINDS.values())):
        raise BadRequest(
            f"{path!r} is not a notebook (.ipynb), Python script (.py) or shell script (.sh)",
            "path",
        )
    return clean


async def read_for_job(contents_manager: Any, path: str, limit: int) -> str:
    """The file's text as it will travel with the job; 404, 403 and 413 in plain words."""
    from tornado.web import HTTPError

    try:
        model = contents_manager.get(path, content=True)
        if hasattr(model, "__await__"):
            model = await model
    except HTTPError as exc:
        if exc.status_code == 404:
            raise JobsError(404, f"there is no file {path!r} in your files", "path") from None
        raise JobsError(
            exc.status_code, exc.log_message or f"cannot read {path!r}", "path"
        ) from None
    if model["type"] == "directory":
        raise BadRequest(f"{path!r} is a folder; choose a file", "path")
    content = model["content"]
    text = json.dumps(content) if model["type"] == "notebook" else content
    if not isinstance(text, str):
        raise BadRequest(f"{path!r} is not a text file", "path")
    size = len(text.encode())
    if size > limit:
        raise JobsError(
            413,
            f"{path} is {size:,} bytes, over the {limit:,}-byte limit for files shipped with a "
            "job; clear large outputs, or keep data in your home volume and submit with "
            "'keep it local' so the job reads your files directly",
            "path",
        )
    return text
