"""Keeping many job records in memory: what they repeat is kept once.

The service holds every record it watches (100,000 of them in a long-lived hub). Each
``json.loads`` makes fresh strings for every key, and every record parses its own copy of a
plan that thousands of jobs share word for word. Here keys are interned, plans are parsed
once per distinct text and shared, and what a record's metadata carries only for the API
server's own bookkeeping (``managedFields``) is dropped as the record arrives, as client-go's
informers do with a transform. Shared parses are read-only: the manager copies before it
changes anything (``dict(plan)``, ``dict(spec)``).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable
from typing import Any

from . import labels as L

#: Distinct plan texts whose parse is kept (plans differ by the kind of request, not by job).
PLAN_CACHE = 4096


#: Strings up to this long are kept once (site names, states, reasons, units); longer ones,
#: mostly unique, are left alone.
SHORT = 80


def once(value: Any) -> Any:
    """``value`` kept once in the process if it is a short string (else as it is)."""
    return sys.intern(value) if isinstance(value, str) and len(value) <= SHORT else value


def _interned(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    return {sys.intern(key): once(value) for key, value in pairs}


def loads(text: str) -> Any:
    """``json.loads`` with keys and short values interned: one string per key name, site,
    state or reason in the whole process."""
    return json.loads(text, object_pairs_hook=_interned)


@functools.lru_cache(maxsize=PLAN_CACHE)
def shared(text: str) -> Any:
    """The parse of ``text``, one object for every caller (read-only)."""
    return loads(text)


def _keys(mapping: dict[str, Any]) -> dict[str, Any]:
    return {sys.intern(key): value for key, value in mapping.items()}


def slim(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a cache keeps it: no ``managedFields``, label keys and values and
    annotation keys interned; for a job record also its final state and its plan text (equal
    plans are one string, and one parse through :func:`shared`)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        if isinstance(meta.get("labels"), dict):  # short values, repeated (owner, role, site)
            meta["labels"] = _interned(meta["labels"].items())
        if isinstance(meta.get("annotations"), dict):
            meta["annotations"] = _keys(meta["annotations"])
        if isinstance(meta.get("namespace"), str):
            meta["namespace"] = sys.intern(meta["namespace"])
        annotations = meta.get("annotations") or {}
        if isinstance(annotations.get(L.FINAL), str):  # the same for every job that ended alike
            annotations[L.FINAL] = sys.intern(annotations[L.FINAL])
    data = obj.get("data")
    if isinstance(data, dict) and isinstance(data.get("plan.json"), str):
        data["plan.json"] = sys.intern(data["plan.json"])
    return obj
