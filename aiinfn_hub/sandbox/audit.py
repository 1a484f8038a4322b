"""The sandbox's audit trail: who asked the Kubernetes API for what, as a real audit log says.

Each request is resolved into what RBAC authorizes, the way the API server's request-info
resolver does it: for resource requests the verb (``get``, ``list``, ``watch``, ``create``,
``update``, ``patch``, ``delete``, ``deletecollection``), API group, resource, subresource,
namespace and name; for other paths (``/version``, discovery) the lower-case HTTP method and the
path. With them go the client's User-Agent and, once the answer is complete, its status code
(``None`` while a watch or a followed log still streams).

Entries are numbered from 1 and kept in a bounded deque, so recording costs one append; a
reader asks for what came after the last number it saw and is told how many fell off the end.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

DEFAULT_SIZE = 10000
#: The verb of each HTTP method before list, watch and deletecollection are told apart.
METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
#: Path elements after ``/namespaces/{name}/`` that are the namespace's own subresources.
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
#: What Go's strconv.ParseBool reads as true (the server's reading of ``watch=``).
TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def request_info(method: str, path: str, arg: Callable[[str], str | None]) -> dict[str, Any]:
    """What a request asks for, in RBAC's terms; ``arg`` reads a query parameter."""
    parts = [p for p in path.split("/") if p]
    grouped = bool(parts) and parts[0] == "apis"
    if len(parts) < (4 if grouped else 3) or parts[0] not in ("api", "apis"):
        return {"verb": method.lower(), "nonResourceURL": "/" + "/".join(parts)}
    group, rest = (parts[1], parts[2:]) if grouped else ("", parts[1:])
    version, rest = rest[0], rest[1:]
    verb = METHOD_VERBS.get(method.upper(), "")
    if rest[0] == "watch" and len(rest) > 1:  # the old /api/v1/watch/... form
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if (arg("watch") or "") in TRUE else "list"
        name = _exact_name(arg("fieldSelector") or "")
    elif not name and verb == "delete":
        verb = "deletecollection"
    return {
        "verb": verb,
        "apiGroup": group,
        "apiVersion": version,
        "resource": resource,
        "subresource": subresource,
        "namespace": namespace,
        "name": name,
    }


def _exact_name(field_selector: str) -> str:
    """The name a ``metadata.name=x`` field selector pins a list or watch to, else ''."""
    for term in field_selector.split(","):
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and not key.endswith("!") and key.strip() == "metadata.name":
            return value.strip()
    return ""


class AuditLog:
    """The last ``size`` requests, oldest first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._numbers = itertools.count(1)
        self.last = 0

    def record(
        self, method: str, path: str, arg: Callable[[str], str | None], user_agent: str
    ) -> dict[str, Any]:
        """Add a request as it arrives; set the returned entry's ``code`` when it is answered."""
        self.last = next(self._numbers)
        entry = {"seq": self.last, **request_info(method, path, arg)}
        entry["userAgent"] = user_agent
        entry["code"] = None
        self._entries.append(entry)
        return entry

    def entries(self, since: int = 0, user_agent: str = "") -> dict[str, Any]:
        """Entries after number ``since`` whose User-Agent starts with ``user_agent``.

        ``lost`` counts those after ``since`` that no longer fit in the log.
        """
        kept = self._entries
        oldest = kept[0]["seq"] if kept else self.last + 1
        items = [
            dict(e)
            for e in itertools.islice(kept, max(0, since - oldest + 1), None)
            if e["userAgent"].startswith(user_agent)
        ]
        return {"items": items, "last": self.last, "lost": max(0, oldest - since - 1)}

    def clear(self) -> None:
        """Forget every entry; numbering goes on, so a reader's ``since`` stays meaningful."""
        self._entries.clear()
