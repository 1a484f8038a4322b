"""The API's verbs in process: what the HTTP server serves and what the controllers call.

Creates, updates, patches and deletes go through admission, optimistic concurrency, the
status-subresource split, graceful deletion, finalizers and propagation policies here, so a
controller writing a pod gets the same semantics as a client over HTTP.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import builtins
import json
import random
import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from . import errors
from .admission import Admission
from .decode import check_patched_shape
from .objects import Obj, clone, now, timestamp
from .patch import STRATEGIC, apply_patch
from .registry import Registry, ResourceType
from .selectors import (
    Selector,
    SelectorError,
    fields_match,
    matches,
    parse_field_selector,
    parse_label_selector,
)
from .shapes import check_shape
from .store import Store

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class ListResult:
    """One page of a list: items, the list's resourceVersion and the continue token."""

    def __init__(self, items: list[Obj], rv: int, token: str = "", remaining: int | None = None):
        self.items = items
        self.resource_version = rv
        self.continue_token = token
        self.remaining = remaining


class Api:
    """The verbs on top of the store."""

    def __init__(self, store: Store, registry: Registry, admission: Admission | None = None):
        self.store = store
        self.registry = registry
        self.admission = admission or Admission()
        self._events: dict[tuple, str] = {}
        self.namespaces = registry.get("namespaces")
        self.events_rt = registry.get("events")

    # -- reads ------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt, namespace, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def find(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        return self.store.get(rt, namespace, name)

    def select(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        labels: Selector = (),
        fields: tuple = (),
    ) -> list[Obj]:
        return [o for o in self.store.list(rt, namespace) if self.matches(o, labels, fields)]

    @staticmethod
    def matches(obj: Obj, labels: Selector, fields: tuple) -> bool:
        return (not labels or matches(labels, obj["metadata"].get("labels"))) and (
            not fields or fields_match(fields, obj)
        )

    def parse_selectors(
        self, rt: ResourceType, label_selector: str | None, field_selector: str | None
    ) -> tuple[Selector, tuple]:
        try:
            return (
                parse_label_selector(label_selector),
                parse_field_selector(field_selector, rt.supports_field),
            )
        except SelectorError as exc:  # an unsupported field alike for every resource
            raise errors.bad_request(str(exc)) from exc

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> ListResult:
        labels, fields = self.parse_selectors(rt, label_selector, field_selector)
        rv = self.store.resource_version
        start = ""
        if continue_token:
            rv, start = self._decode_continue(continue_token)
        objects = self.store.list_at(rt, namespace, rv) if start else self.store.list(rt, namespace)
        if start:  # the objects are sorted: skip to the first after the last one served
            after = tuple(start.split("/", 1))  # namespaces and names hold no "/"
            objects = objects[bisect.bisect_right(objects, after, key=_sort_key) :]
        wanted = limit + 1 if limit and limit > 0 else None  # a page, and whether more follow
        items = []
        for obj in objects:
            if self.matches(obj, labels, fields):
                items.append(obj)
                if len(items) == wanted:
                    break
        if wanted and len(items) == wanted:
            page = items[:limit]
            # with a selector a real server cannot count what is left, and says nothing
            remaining = None if labels or fields else len(objects) - len(page)
            return ListResult(
                page, rv, self._encode_continue(rv, "/".join(_sort_key(page[-1]))), remaining
            )
        return ListResult(items, rv)

    def _encode_continue(self, rv: int, start: str) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    def _decode_continue(self, token: str) -> tuple[int, str]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv, start = int(data["rv"]), str(data["start"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise errors.bad_request(f"continue key is not valid: {exc}") from exc
        if rv < self.store.oldest_resource_version:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
            )
        return rv, start

    # -- create -----------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, obj: Obj, *, dry_run: bool = False) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        check_shape(rt, obj)
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            namespace = namespace or body_ns or ""
            meta["namespace"] = namespace
            self._check_namespace(namespace)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp()
        if rt.generation:
            meta["generation"] = 1
        obj.update(apiVersion=rt.api_version(), kind=rt.kind)
        self.admission.on_create(rt, obj)
        if self.store.get(rt, namespace if rt.namespaced else "", meta["name"]) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        if dry_run:
            return obj
        return self.store.insert(rt, obj)

    def _check_namespace(self, namespace: str) -> None:
        ns = self.store.get(self.namespaces, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    # -- update and patch -------------------------------------------------------------------------

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """PUT: replace with optimistic concurrency; status and spec kept apart."""
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        check_shape(rt, obj)
        current = self.get(rt, namespace, name)
        meta = obj.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                "the name of the object "
                f"({meta['name']}) does not match the name on the URL ({name})"
            )
        sent_rv = meta.get("resourceVersion")
        if not sent_rv and not rt.builtin:  # custom resources allow no unconditional update
            why = "Invalid value: 0: must be specified for an update"
            cause = ("metadata.resourceVersion", "FieldValueInvalid", why)
            raise errors.invalid(rt.plural, rt.group, name, [cause])
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        return self._write(rt, current, clone(obj), subresource, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        if content_type == STRATEGIC and not rt.builtin:
            raise errors.unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml"
            )
        current = self.get(rt, namespace, name)
        patched = apply_patch(content_type, clone(current), body)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object must be a JSON object")
        check_patched_shape(rt, content_type, body, patched)
        sent_rv = (patched.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        return self._write(rt, current, patched, subresource, dry_run=dry_run)

    def _write(
        self, rt: ResourceType, current: Obj, new: Obj, subresource: str | None, *, dry_run: bool
    ) -> Obj:
        if subresource == "status":
            merged = clone(current)
            merged["status"] = new.get("status") or {}
        elif subresource:
            raise errors.method_not_allowed()
        else:
            merged = new
            if "status" in rt.subresources:
                if "status" in current:
                    merged["status"] = current["status"]
                else:
                    merged.pop("status", None)
            meta = merged.setdefault("metadata", {})
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
                "name",
            ):
                if field in current["metadata"]:
                    meta[field] = current["metadata"][field]
                else:
                    meta.pop(field, None)
            merged.update(apiVersion=rt.api_version(), kind=rt.kind)
            self.admission.on_update(rt, current, merged)
            if rt.generation and merged.get("spec") != current.get("spec"):
                meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if dry_run:
            return merged
        return self._store_update(rt, merged)

    def _store_update(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and self._may_go(rt, obj):
            self.store.replace(rt, obj)
            return self.store.remove(rt, meta.get("namespace", ""), meta["name"]) or obj
        return self.store.replace(rt, obj)

    def modify(
        self, rt: ResourceType, namespace: str, name: str, change: Callable[[Obj], Any]
    ) -> Obj | None:
        """For controllers: apply ``change`` to a copy of the latest object and store it if it
        changed (no admission: controllers write what they own). None if the object is gone."""
        current = self.store.get(rt, namespace, name)
        if current is None:
            return None
        new = clone(current)
        change(new)
        if new == current:
            return current
        if rt.generation and new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return self._store_update(rt, new)

    # -- delete -----------------------------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: Obj | None = None,
        *,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete; returns (object or Status, whether it is gone now)."""
        options = options or {}
        obj = self.get(rt, namespace, name)
        meta = obj["metadata"]
        pre = options.get("preconditions") or {}
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if pre.get(field) and pre[field] != meta[field]:
                if rt is not self.namespaces:
                    raise errors.precondition_failed(
                        rt.kind, rt.group, name, field=field, sent=pre[field], held=meta[field]
                    )
                why = (  # the namespace registry's own check, in older words
                    f"Precondition failed: {label} in precondition: {pre[field]}, "
                    f"{label} in object meta: {meta[field]}"
                )
                raise errors.conflict(rt.plural, rt.group, name, why)
        if dry_run:
            return obj, False
        policy = self._propagation(rt, options)
        grace = self._grace_period(rt, obj, options)
        new = clone(obj)
        new_meta = new["metadata"]
        finalizers = list(new_meta.get("finalizers") or [])
        if policy == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if policy == "Orphan":
            self._orphan(meta["uid"])
        if finalizers:
            new_meta["finalizers"] = finalizers
        if new_meta.get("deletionTimestamp"):
            # already being deleted: a shorter grace period may be asked for
            if grace is not None and grace < int(new_meta.get("deletionGracePeriodSeconds") or 0):
                new_meta["deletionGracePeriodSeconds"] = grace
                new_meta["deletionTimestamp"] = timestamp(now() + timedelta(seconds=grace))
            return self._deleted_or_kept(rt, self._store_update(rt, new))
        if not finalizers and not grace and self._may_go(rt, obj):
            gone = self.store.remove(rt, namespace if rt.namespaced else "", name)
            return self._deleted_or_kept(rt, gone or obj, True)
        new_meta["deletionTimestamp"] = timestamp(now() + timedelta(seconds=grace or 0))
        new_meta["deletionGracePeriodSeconds"] = grace or 0
        if rt is self.namespaces:
            new.setdefault("status", {})["phase"] = "Terminating"
        if new_meta.get("generation") is not None:
            new_meta["generation"] = int(new_meta["generation"]) + 1
        return self._deleted_or_kept(rt, self._store_update(rt, new))

    def _deleted_or_kept(
        self, rt: ResourceType, obj: Obj, gone: bool | None = None
    ) -> tuple[Obj, bool]:
        meta = obj["metadata"]
        if gone is None:
            ns = meta.get("namespace", "") if rt.namespaced else ""
            gone = self.store.get(rt, ns, meta["name"]) is None
        if gone and not rt.returns_deleted:  # custom resources alike
            details = {"name": meta["name"], "kind": rt.plural, "uid": meta.get("uid")}
            if rt.group:
                details["group"] = rt.group
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
            return status, True
        return obj, gone

    def _propagation(self, rt: ResourceType, options: Obj) -> str:
        policy = options.get("propagationPolicy")
        if policy:
            if policy not in ("Foreground", "Background", "Orphan"):
                raise errors.bad_request(f"propagationPolicy: Unsupported value: {policy!r}")
            return policy
        if options.get("orphanDependents") is not None:
            return "Orphan" if options["orphanDependents"] else "Background"
        # batch/v1 Jobs orphan their pods unless asked otherwise, as the real API does.
        return "Orphan" if rt.plural == "jobs" else "Background"

    def _grace_period(self, rt: ResourceType, obj: Obj, options: Obj) -> int | None:
        grace = options.get("gracePeriodSeconds")
        if rt.plural != "pods":
            return None if grace is None else 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return max(int(grace), 0)

    def _may_go(self, rt: ResourceType, obj: Obj) -> bool:
        """A pod leaves the store once its kubelet confirmed (grace period 0); a namespace once
        the namespace controller emptied it and cleared ``spec.finalizers``."""
        if rt.plural == "pods":
            return not obj["metadata"].get("deletionGracePeriodSeconds")
        if rt is self.namespaces:
            return not (obj.get("spec") or {}).get("finalizers")
        return True

    def _orphan(self, owner_uid: str) -> None:
        for rt, dep in self.store.dependents(owner_uid):
            meta = dep["metadata"]

            def drop(o: Obj) -> None:
                refs = [
                    r
                    for r in o["metadata"].get("ownerReferences") or []
                    if r.get("uid") != owner_uid
                ]
                if refs:
                    o["metadata"]["ownerReferences"] = refs
                else:
                    o["metadata"].pop("ownerReferences", None)

            self.modify(rt, meta.get("namespace", ""), meta["name"], drop)

    def remove_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> Obj | None:
        meta = obj["metadata"]

        def drop(o: Obj) -> None:
            left = [f for f in o["metadata"].get("finalizers") or [] if f != finalizer]
            if left:
                o["metadata"]["finalizers"] = left
            else:
                o["metadata"].pop("finalizers", None)

        return self.modify(rt, meta.get("namespace", ""), meta["name"], drop)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        options: Obj | None,
    ) -> builtins.list[Obj]:
        labels, fields = self.parse_selectors(rt, label_selector, field_selector)
        out = []
        for obj in self.select(rt, namespace, labels, fields):
            meta = obj["metadata"]
            try:
                out.append(self.delete(rt, meta.get("namespace", ""), meta["name"], options)[0])
            except errors.ApiError:
                continue
        return out

    # -- events -----------------------------------------------------------------------------------

    def event(
        self,
        involved: Obj,
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        component: str = "sandbox",
    ) -> Obj | None:
        """Record a core/v1 Event, aggregating repeats into ``count`` as the recorder does."""
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        if self.store.get(self.namespaces, "", namespace) is None:
            return None
        key = (meta.get("uid"), type, reason, message, component)
        stamp = timestamp()
        existing_name = self._events.get(key)
        if existing_name and self.store.get(self.events_rt, namespace, existing_name):

            def bump(ev: Obj) -> None:
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = stamp

            return self.modify(self.events_rt, namespace, existing_name, bump)
        name = f"{meta.get('name', 'object')}.{secrets.token_hex(8)}"
        self._events[key] = name
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace") or None,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": None,
            "count": 1,
        }
        if event["involvedObject"]["namespace"] is None:
            del event["involvedObject"]["namespace"]
        return self.store.insert(self.events_rt, event)


def _sort_key(obj: Obj) -> tuple[str, str]:
    """The order of ``Store.list``: namespace, then name."""
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])
