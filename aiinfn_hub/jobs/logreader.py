"""A job's log: a slice of its current attempt's pod log, read through the pod log endpoint
(``GET /jobs/{id}/log``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..apitypes import LogChunk
from ..errors import BadRequest, ClusterUnavailable
from ..kube.client import Kube, KubeError
from . import labels as L
from .model import State, completions_of


async def read_log(
    kube: Kube,
    spec: Mapping[str, Any],
    view: Mapping[str, Any],
    pods: Iterable[dict[str, Any]],
    offset: int = 0,
    completion_index: int | None = None,
) -> LogChunk:
    """From ``offset``, the log of the job's latest started pod (of one index of an array
    job): ``{data, next_offset, eof, pod}``, with a ``message`` when there is none. ``spec`` and
    ``view`` are the job's request and view, ``pods`` its pods."""
    if offset < 0:
        raise BadRequest("offset must be 0 or more", "offset")
    completions = completions_of(spec)
    if completion_index is not None and not 0 <= completion_index < completions:
        raise BadRequest(
            f"completion_index must be from 0 to {completions - 1}, this job's indexes"
            if completions > 1
            else "this job is not an array job; leave out completion_index",
            "completion_index",
        )
    terminal = State(view["state"]).terminal
    pods = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
    if completion_index is not None:
        pods = [
            p
            for p in pods
            if (p["metadata"].get("annotations") or {}).get(L.COMPLETION_INDEX)
            == str(completion_index)
            or (p["metadata"].get("labels") or {}).get(L.COMPLETION_INDEX) == str(completion_index)
        ]
    started = [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed")
    ]
    if not started:
        return {
            "data": "",
            "next_offset": offset,
            "eof": terminal,
            "pod": None,
            "message": _no_log_yet(State(view["state"])),
        }
    pod = started[-1]
    try:
        text = await kube.pod_log(pod["metadata"]["name"])
    except KubeError as exc:
        if exc.status == 404:
            return {
                "data": "",
                "next_offset": offset,
                "eof": True,
                "pod": None,
                "message": "the pod is gone",
            }
        raise ClusterUnavailable(f"the log cannot be read now: {exc.plain()}") from None
    raw = text.encode()
    chunk = raw[offset:]
    return {
        "data": chunk.decode(errors="replace"),
        "next_offset": offset + len(chunk),
        "eof": terminal,
        "pod": pod["metadata"]["name"],
    }


def _no_log_yet(state: State) -> str:
    """Why a job whose pod has not started has no log, in the words of its state: a job
    already running (its pod still starting, or the remote site not yet sending output) is
    waiting for output, not "not started"."""
    if state.terminal:
        return "no log was kept"
    if state is State.RUNNING:
        return "the job is running; waiting for its output"
    return "the job has not started yet"
