"""Turning "run this file" into a jobs-service request, through the contents manager.

Two ways for a file to reach the job:

- ``ship`` (any site): the file's text travels with the job (the service keeps it in a
  ConfigMap, so it is size-limited). Notebooks travel without their outputs: the job
  recomputes them, and the size limit applies to the code alone.
- ``home`` (local sites only): the job mounts the user's home volume and runs the file in
  place, so there is no size limit and the job sees the files next to it. Asking for the
  home volume makes the placement engine keep the job local (remote sites cannot mount it).
"""

from __future__ import annotations

import json
import keyword
import posixpath
from typing import Any

from jupyter_core.utils import ensure_async
from tornado.web import HTTPError

from ..errors import BadRequest, Forbidden, NotFound, TooLarge, error_for_status
from ..jobs.manifests import WORK_DIR
from ..jobs.model import SCRIPT_KINDS, default_name
from ..runner import SOURCE_ENV, notebook_command

STAGING = ("ship", "home")
HOME_VOLUME = "pvc:home"


def check_path(path: Any) -> str:
    """A clean path relative to the server's root; 403 outside it, 400 for other files."""
    if not isinstance(path, str) or not path.strip():
        raise BadRequest("path must name a notebook, Python script or shell script", "path")
    text = path.strip().replace("\\", "/")
    clean = posixpath.normpath(text)
    if text.startswith("/") or clean == ".." or clean.startswith("../"):
        raise Forbidden(
            f"{path!r} is outside your files; give a path relative to the folder JupyterLab "
            "shows, e.g. 'analysis/train.ipynb'",
            "path",
        )
    if kind_of(clean) is None:
        raise BadRequest(
            f"{path!r} is not a notebook (.ipynb), Python script (.py) or shell script (.sh)",
            "path",
        )
    return clean


def kind_of(path: str) -> str | None:
    """``notebook``, ``python`` or ``shell`` from the file's suffix."""
    return next((k for k, suffix in SCRIPT_KINDS.items() if path.endswith(suffix)), None)


def job_name(path: str) -> str:
    """A job name the service accepts, from a file name."""
    return default_name(path.rsplit("/", 1)[-1])


async def _model(contents_manager: Any, path: str, content: bool) -> dict[str, Any]:
    try:
        model = await ensure_async(contents_manager.get(path, content=content))
    except HTTPError as exc:
        if exc.status_code == 404:
            raise NotFound(f"there is no file {path!r} in your files", "path") from None
        raise error_for_status(
            exc.status_code if 400 <= exc.status_code < 500 else 502,
            f"cannot read {path!r}: {exc.log_message or exc.reason}",
            "path",
        ) from None
    if model["type"] == "directory":
        raise BadRequest(f"{path!r} is a folder; choose a file", "path")
    return model


def without_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook with outputs and execution counts cleared (the job recomputes them)."""
    cells = []
    for cell in notebook.get("cells", []):
        cell = dict(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    return {**notebook, "cells": cells}


async def read_for_job(contents_manager: Any, path: str, limit: int) -> str:
    """The file's text as it travels with the job; 404, 400 and 413 in plain words."""
    model = await _model(contents_manager, path, content=True)
    if model["type"] == "notebook":
        text = json.dumps(without_outputs(model["content"]))
    elif model.get("format") == "text" and isinstance(model.get("content"), str):
        text = model["content"]
    else:
        raise BadRequest(f"{path!r} is not a text file", "path")
    size = len(text.encode())
    if size > limit:
        what = " without its outputs" if model["type"] == "notebook" else ""
        raise TooLarge(
            f"{path} is {size:,} bytes{what}, over the {limit:,}-byte limit for files shipped "
            "with a job. Keep large data in "
            "separate files and load it from the job, or run the job on local resources "
            "with the file read in place from your home volume (staging 'home'; "
            "aiinfn-jobs submit --from-home)",
            "path",
        )
    return text


async def check_file(contents_manager: Any, path: str) -> None:
    """404 or 400 unless ``path`` is a file in the user's files."""
    await _model(contents_manager, path, content=False)


def home_command(
    kind: str, mount: str, path: str, args: list[str], parameters: dict[str, Any]
) -> list[str]:
    """The command that runs ``path`` in place from the home volume mounted at ``mount``."""
    where = posixpath.join(mount, path)
    if kind == "notebook":
        return notebook_command(where, WORK_DIR, parameters)
    return ["bash" if kind == "shell" else "python", where, *args]


async def build_request(
    body: Any,
    contents_manager: Any,
    *,
    max_bytes: int,
    home_mount: str,
    image: str = "",
    for_plan: bool = False,
) -> dict[str, Any]:
    """The jobs service's request from the extension's (``path``, ``args``, ``parameters``,
    ``staging`` besides the service's own fields)."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object describing the job")
    body = dict(body)
    path = body.pop("path", None)
    args = body.pop("args", None)
    parameters = body.pop("parameters", None)
    staging = body.pop("staging", None)
    staging = "ship" if staging is None else staging
    if not isinstance(staging, str) or staging not in STAGING:
        raise BadRequest("staging must be 'ship' (send the file) or 'home' (read it in place)")
    if path is None:
        for name, value in (("args", args), ("parameters", parameters)):
            if value is not None:
                raise BadRequest(f"{name} goes with 'path' (a file to run)", name)
        if staging == "home":
            raise BadRequest("staging 'home' needs 'path', the file to run", "staging")
    else:
        if body.get("command") is not None or body.get("script") is not None:
            raise BadRequest("give either 'path' (a file to run) or 'command', not both", "path")
        clean = check_path(path)
        kind = kind_of(clean) or "python"
        args = _args(args)
        parameters = _parameters(parameters, kind)
        if staging == "ship":
            content = "" if for_plan else await read_for_job(contents_manager, clean, max_bytes)
            script: dict[str, Any] = {"path": clean, "content": content}
            if args:
                script["args"] = args
            if parameters:
                script["parameters"] = parameters
            body["script"] = script
        else:
            if not for_plan:
                await check_file(contents_manager, clean)
            body["command"] = home_command(kind, home_mount, clean, args, parameters)
            volumes = body.get("volumes") or []
            if isinstance(volumes, list) and HOME_VOLUME not in volumes:
                body["volumes"] = [*volumes, HOME_VOLUME]
            env = body.get("env") or {}
            if kind == "notebook" and isinstance(env, dict):
                body["env"] = {**env, SOURCE_ENV: clean}
        body.setdefault("name", job_name(clean))
    if not body.get("image") and image:
        body["image"] = image
    return body


def _args(args: Any) -> list[str]:
    if args is None:
        return []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise BadRequest('args must be a list of text arguments, e.g. ["--epochs", "3"]', "args")
    return args


def _parameters(parameters: Any, kind: str) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise BadRequest('parameters must be an object of name: value, e.g. {"n": 3}', "parameters")
    if parameters and kind != "notebook":
        raise BadRequest("parameters are for notebooks; give a script 'args'", "parameters")
    bad = [k for k in parameters if not k.isidentifier() or keyword.iskeyword(k)]
    if bad:
        raise BadRequest(f"parameter name {bad[0]!r} is not a Python variable name", "parameters")
    return parameters
