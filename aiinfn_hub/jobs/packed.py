"""A resting job's view, packed: the JSON text users get, in a fifth of its size.

An ended job's view is kept only as the text listings send (see :mod:`.tracked`), about
1.5 KB of it, most of which every view repeats: its keys, the words of its states and of
Kueue, and the job's plan, which thousands of jobs share. So the plan is kept apart, one
string for every job with the same plan, and the rest is deflated (``zlib``) with a preset
dictionary of what views repeat: about 200 bytes for a job that ran once. Unpacking gives
the same text, byte for byte, as ``json.dumps`` of the view; it costs a few microseconds,
paid only for the page of a listing or the one job asked for.
"""

from __future__ import annotations

import functools
import json
import uuid
import zlib
from typing import NamedTuple

from ..apitypes import JobView
from . import slim

#: Raw deflate (no header or checksum: the text never leaves the process), full window.
_WBITS = -15
#: Fastest: packing is paid for every ended job at each start, unpacking only when shown.
_LEVEL = 1
#: Stands for the view's plan while it is packed (no request or name can contain it).
_MARK_VALUE = f"plan-{uuid.uuid4().hex}"
_MARK = json.dumps(_MARK_VALUE)

#: What views repeat, for the deflater to refer to: keys and common words in their order.
_PRESET = json.dumps(
    {
        "id": "", "name": "", "owner": "", "state": "succeeded", "site": "local",
        "site_display": "", "reason": "completed", "submitted": "", "started": "", "ended": "",
        "plan": "",
        "attempts": [{
            "ended": "", "job_name": "aiinfn-",
            "kueue": {"condition": "Finished", "message": "Job finished successfully",
                      "reason": "Succeeded", "status": "True"},
            "number": 1, "outcome": "succeeded", "pod": None, "reason": "completed",
            "remote_job_id": None, "site": "", "site_display": "", "started": "",
        }],
        "fallback": "", "progress": {"succeeded": 1, "failed": 0, "active": 0},
        "spec": {
            "client_request_id": None, "command": ["python", "-c", ""], "completions": 1,
            "env": {}, "image": None, "local_only": False, "name": "",
            "needs_inbound_network": False, "parallelism": 1,
            "resources": {"cpu": "1", "gpu_model": None, "gpus": 0, "memory": "2Gi"},
            "script": {"kind": "notebook", "path": ""},
            "site": None, "volumes": [], "walltime": None,
        },
        "actions": [],
    }
).encode()  # fmt: skip


class Packed(NamedTuple):
    """A view's JSON without its plan, deflated; and the plan's JSON (shared), if apart."""

    deflated: bytes
    plan: str | None


@functools.lru_cache(maxsize=slim.PLAN_CACHE)
def _plan_json(text: str) -> str:
    """The JSON of a plan as a view shows it, one string for every job with that plan."""
    return json.dumps(slim.shared(text))


def pack(view: JobView, plan_text: str | None) -> Packed:
    """``view`` packed; ``plan_text``: the record's text of the view's plan, to keep the plan
    apart (None: the view's plan is not the record's, keep it in)."""
    if plan_text is None or "plan" not in view:
        return Packed(_deflate(json.dumps(view)), None)
    text = json.dumps({**view, "plan": _MARK_VALUE})
    return Packed(_deflate(text), _plan_json(plan_text))


def unpack(packed: Packed) -> str:
    """The view's JSON text, as ``json.dumps`` of the view writes it."""
    inflater = zlib.decompressobj(_WBITS, _PRESET)
    text = (inflater.decompress(packed.deflated) + inflater.flush()).decode()
    return text if packed.plan is None else text.replace(_MARK, packed.plan, 1)


def _deflate(text: str) -> bytes:
    deflater = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, zdict=_PRESET)
    return deflater.compress(text.encode()) + deflater.flush()
